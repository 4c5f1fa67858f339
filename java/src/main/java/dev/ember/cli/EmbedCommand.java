package dev.ember.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ember.Embedder;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ember embed}: JSONL in ({@code {"ids": [...]}} per line, plus {@code "instruction_len"}
 * for NV-Embed and {@code "encoder_ids"} for Causal2Vec: see {@link TokenLine}), JSONL out ({@code
 * {"embedding": [...]}} per line, same order). The whole input is read and checked before any
 * output is written; with {@code --output} the file appears only when every line succeeded.
 */
@Command(name = "embed", mixinStandardHelpOptions = true, description = "Embed token-id sequences from JSONL.")
final class EmbedCommand implements Callable<Integer> {
    /** Tokens per native call: large enough to keep every core busy, small enough to bound memory. */
    private static final int TOKEN_BUDGET = 16384;

    @Mixin
    ModelOptions model;

    @Option(names = "--input", paramLabel = "FILE.jsonl", description = "Input lines {\"ids\": [...]} (default: stdin).")
    Path input;

    @Option(names = "--output", paramLabel = "FILE.jsonl", description = "Output file (default: stdout).")
    Path output;

    @Option(names = "--no-normalize", description = "Return raw pooled vectors instead of L2-normalised ones.")
    boolean noNormalize;

    @Override
    public Integer call() throws Exception {
        List<TokenLine> sequences = readInput();
        try (Embedder embedder = model.builder().optNormalize(!noNormalize).build()) {
            if (output == null) {
                OutputStream stdout = System.out;
                writeAll(embedder, sequences, new BufferedWriter(new OutputStreamWriter(stdout, StandardCharsets.UTF_8)));
            } else {
                Path tmp = Files.createTempFile(output.toAbsolutePath().getParent(), ".ember-", ".part");
                try {
                    try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                        writeAll(embedder, sequences, w);
                    }
                    Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
        }
        return 0;
    }

    private List<TokenLine> readInput() throws IOException {
        if (input != null && !Files.isReadable(input)) {
            throw new BadInputException("cannot read input file " + input);
        }
        ObjectMapper json = new ObjectMapper();
        List<TokenLine> sequences = new ArrayList<>();
        try (BufferedReader in = input == null
                ? new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
                : Files.newBufferedReader(input, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                sequences.add(parseLine(json, line, lineNo));
            }
        }
        int mixed = TokenLine.inconsistentEncoderLine(sequences);
        if (mixed > 0) {
            throw new BadInputException("input line " + mixed + ": either every line has \"encoder_ids\" or none "
                    + "does (nothing was written)");
        }
        return sequences;
    }

    private TokenLine parseLine(ObjectMapper json, String line, int lineNo) {
        JsonNode node;
        try {
            node = json.readTree(line);
        } catch (IOException e) {
            throw bad(lineNo, "not valid JSON");
        }
        return TokenLine.parse(node, what -> bad(lineNo, what));
    }

    private BadInputException bad(int lineNo, String what) {
        String where = input == null ? "stdin" : input.toString();
        return new BadInputException(where + " line " + lineNo + ": " + what + " (nothing was written)");
    }

    private static void writeAll(Embedder embedder, List<TokenLine> sequences, Writer out) throws IOException {
        ObjectMapper json = new ObjectMapper().disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
        int start = 0;
        while (start < sequences.size()) {
            int end = start;
            long tokens = 0;
            while (end < sequences.size() && (end == start || tokens + sequences.get(end).ids().length <= TOKEN_BUDGET)) {
                tokens += sequences.get(end).ids().length;
                end++;
            }
            float[][] vectors = TokenLine.embed(embedder, sequences.subList(start, end));
            for (float[] v : vectors) {
                out.write("{\"embedding\":");
                out.write(json.writeValueAsString(v));
                out.write("}\n");
            }
            start = end;
        }
        out.flush();
    }
}
