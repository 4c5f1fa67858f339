package dev.ember;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ember.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line's contract for the NV-Embed and Causal2Vec input fields: {@code ember embed}
 * on JSONL lines with {@code "instruction_len"} / {@code "encoder_ids"} gives the reference
 * embeddings; malformed lines exit 2 and write nothing; {@code ember info} reports the family.
 */
class CliContractTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private List<float[]> embed(String golden, List<String> lines, int expectedExit) throws IOException {
        Path in = tmp.resolve(golden + ".jsonl");
        Path out = tmp.resolve(golden + ".out.jsonl");
        Files.write(in, lines, StandardCharsets.UTF_8);
        int code = Main.run("embed", "--model", Goldens.dir(golden).toString(), "--backend", "cpu", "--threads", "2",
                "--input", in.toString(), "--output", out.toString());
        assertEquals(expectedExit, code);
        if (expectedExit != 0) {
            assertFalse(Files.exists(out), "nothing is written on failure");
            return List.of();
        }
        List<float[]> vectors = new ArrayList<>();
        for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            vectors.add(Goldens.floats(JSON.readTree(line).get("embedding")));
        }
        return vectors;
    }

    private static String line(Goldens.Case c) {
        StringBuilder b = new StringBuilder("{\"ids\": ").append(java.util.Arrays.toString(c.ids()));
        if (c.instructionLen() > 0) {
            b.append(", \"instruction_len\": ").append(c.instructionLen());
        }
        if (c.encoderIds() != null) {
            b.append(", \"encoder_ids\": ").append(java.util.Arrays.toString(c.encoderIds()));
        }
        return b.append('}').toString();
    }

    @Test
    void embedLinesMatchTheReferences() throws IOException {
        for (String golden : new String[] {"nvembed-tiny", "causal2vec-tiny"}) {
            List<Goldens.Case> cases = Goldens.cases(golden);
            List<String> lines = new ArrayList<>();
            for (Goldens.Case c : cases) {
                lines.add(line(c));
            }
            List<float[]> vectors = embed(golden, lines, 0);
            assertEquals(cases.size(), vectors.size());
            for (int i = 0; i < cases.size(); i++) {
                double err = Goldens.relError(vectors.get(i), cases.get(i).embedding());
                assertTrue(err <= 1e-5, golden + " line " + (i + 1) + ": rel error " + err);
            }
        }
    }

    @Test
    void badInputFieldsExitTwoAndWriteNothing() throws IOException {
        Goldens.Case c = Goldens.cases("causal2vec-tiny").get(0);
        // Some lines with encoder ids, some without.
        embed("causal2vec-tiny", List.of(line(c), "{\"ids\": [1, 2]}"), 2);
        embed("causal2vec-tiny", List.of("{\"ids\": [1, 2], \"encoder_ids\": [1, \"x\"]}"), 2);
        embed("nvembed-tiny", List.of("{\"ids\": [1, 2], \"instruction_len\": 2}"), 2);
        embed("nvembed-tiny", List.of("{\"ids\": [1, 2], \"instruction_len\": -1}"), 2);
        embed("nvembed-tiny", List.of("{\"ids\": [1, 2], \"instruction_len\": 0.5}"), 2);
        // Well-formed, but the model rejects it: Causal2Vec without encoder ids, encoder ids elsewhere.
        embed("causal2vec-tiny", List.of("{\"ids\": [1, 2]}"), 1);
        embed("nvembed-tiny", List.of("{\"ids\": [1, 2], \"encoder_ids\": [3]}"), 1);
    }

    @Test
    void infoReportsWhatWasRecognized() throws IOException {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            code = Main.run("info", "--model", Goldens.dir("causal2vec-tiny").toString(), "--backend", "cpu");
        } finally {
            System.setOut(saved);
        }
        assertEquals(0, code);
        JsonNode info = JSON.readTree(buf.toString(StandardCharsets.UTF_8));
        assertEquals("causal2vec", info.get("family").asText());
        JsonNode r = info.get("recognized");
        assertEquals("causal2vec", r.get("family").asText());
        assertEquals("concat(contextual,last)", r.get("pooling").asText());
        assertEquals("causal", r.get("attention").asText());
        assertEquals(2, r.get("backbone").get("layers").asInt());
        assertEquals(1, r.get("contextual_position").asInt());
        assertTrue(r.get("memory").get("weight_bytes").asLong() > 0);
        assertTrue(r.get("prompts").has("document_format"));
    }
}
