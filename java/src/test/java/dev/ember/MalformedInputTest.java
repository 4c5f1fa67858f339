package dev.ember;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Broken model files and bad inputs each give a typed exception, and the JVM (and a good model
 * loaded afterwards) keeps working.
 */
class MalformedInputTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** After every case: the process is alive and a good model still embeds. */
    @AfterEach
    void stillAlive() {
        try (Embedder e = Embedder.builder().setModel(Goldens.dir("qwen3-tiny")).optBackend(Backend.CPU).build()) {
            assertEquals(64, e.embedTokens(new int[][] {{1, 2, 3}})[0].length);
        }
    }

    private Path copyModel() throws IOException {
        Path src = Goldens.dir("qwen3-tiny");
        Path dst = tmp.resolve("model");
        Files.createDirectories(dst.resolve("1_Pooling"));
        for (String f : new String[] {"config.json", "model.safetensors", "modules.json", "1_Pooling/config.json"}) {
            Files.copy(src.resolve(f), dst.resolve(f));
        }
        return dst;
    }

    private static Embedder load(Path model) {
        return Embedder.builder().setModel(model).optBackend(Backend.CPU).build();
    }

    /** Rewrites the safetensors header through `edit`, keeping the data bytes. */
    private static void editHeader(Path file, Consumer<ObjectNode> edit) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectNode header = (ObjectNode) JSON.readTree(new String(bytes, 8, (int) n, StandardCharsets.UTF_8));
        edit.accept(header);
        byte[] h = JSON.writeValueAsBytes(header);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + bytes.length - 8 - (int) n).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(bytes, 8 + (int) n, bytes.length - 8 - (int) n);
        Files.write(file, out.array());
    }

    private static ObjectNode tensor(ObjectNode header, String name) {
        return (ObjectNode) header.get(name);
    }

    @Test
    void missingFolder() {
        assertThrows(ModelNotFoundException.class, () -> load(tmp.resolve("nope")));
    }

    @Test
    void missingWeights() throws IOException {
        Path m = copyModel();
        Files.delete(m.resolve("model.safetensors"));
        assertThrows(ModelNotFoundException.class, () -> load(m));
    }

    @Test
    void truncatedFile() throws IOException {
        Path m = copyModel();
        Path f = m.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(f);
        Files.write(f, Arrays.copyOf(bytes, bytes.length / 2));
        MalformedModelException e = assertThrows(MalformedModelException.class, () -> load(m));
        assertTrue(e.getMessage().contains("outside"), e.getMessage());
    }

    @Test
    void truncatedInsideHeader() throws IOException {
        Path m = copyModel();
        Path f = m.resolve("model.safetensors");
        Files.write(f, Arrays.copyOf(Files.readAllBytes(f), 100));
        assertThrows(MalformedModelException.class, () -> load(m));
        Files.write(f, new byte[] {1, 2, 3});
        assertThrows(MalformedModelException.class, () -> load(m));
    }

    @Test
    void offsetsPastTheEnd() throws IOException {
        Path m = copyModel();
        editHeader(m.resolve("model.safetensors"), h -> {
            ArrayNode off = (ArrayNode) tensor(h, "norm.weight").get("data_offsets");
            long end = off.get(1).asLong() + 1_000_000_000L;
            off.removeAll().add(end - 256).add(end);
        });
        assertThrows(MalformedModelException.class, () -> load(m));
    }

    @Test
    void hugeOffsetsDoNotOverflow() throws IOException {
        Path m = copyModel();
        editHeader(m.resolve("model.safetensors"), h -> {
            ArrayNode off = (ArrayNode) tensor(h, "norm.weight").get("data_offsets");
            off.removeAll().add(new java.math.BigInteger("18446744073709551360")).add(new java.math.BigInteger("18446744073709551615"));
        });
        assertThrows(MalformedModelException.class, () -> load(m));
    }

    @Test
    void overlappingRanges() throws IOException {
        Path m = copyModel();
        editHeader(m.resolve("model.safetensors"), h -> {
            ArrayNode a = (ArrayNode) tensor(h, "layers.0.self_attn.q_norm.weight").get("data_offsets");
            ArrayNode b = (ArrayNode) tensor(h, "layers.0.self_attn.k_norm.weight").get("data_offsets");
            b.removeAll().add(a.get(0).asLong()).add(a.get(1).asLong());
        });
        MalformedModelException e = assertThrows(MalformedModelException.class, () -> load(m));
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
    }

    @Test
    void negativeOrReversedRanges() throws IOException {
        Path m = copyModel();
        editHeader(m.resolve("model.safetensors"), h -> {
            ArrayNode off = (ArrayNode) tensor(h, "norm.weight").get("data_offsets");
            off.removeAll().add(-256).add(0);
        });
        assertThrows(MalformedModelException.class, () -> load(m));
        Path m2 = tmp.resolve("model");
        Files.copy(Goldens.dir("qwen3-tiny").resolve("model.safetensors"), m2.resolve("model.safetensors"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        editHeader(m2.resolve("model.safetensors"), h -> {
            ArrayNode off = (ArrayNode) tensor(h, "norm.weight").get("data_offsets");
            long a = off.get(0).asLong();
            long b = off.get(1).asLong();
            off.removeAll().add(b).add(a);
        });
        assertThrows(MalformedModelException.class, () -> load(m2));
    }

    @Test
    void unknownDtype() throws IOException {
        Path m = copyModel();
        editHeader(m.resolve("model.safetensors"), h -> tensor(h, "norm.weight").put("dtype", "F33"));
        MalformedModelException e = assertThrows(MalformedModelException.class, () -> load(m));
        assertTrue(e.getMessage().contains("F33"), e.getMessage());
    }

    @Test
    void unsupportedDtypeOfAUsedTensor() throws IOException {
        Path m = copyModel();
        // Same byte size, a type Ember does not compute with.
        editHeader(m.resolve("model.safetensors"), h -> tensor(h, "norm.weight").put("dtype", "I32"));
        assertThrows(UnsupportedModelException.class, () -> load(m));
    }

    @Test
    void shapeDisagreesWithConfig() throws IOException {
        Path m = copyModel();
        ObjectNode config = (ObjectNode) JSON.readTree(m.resolve("config.json").toFile());
        config.put("intermediate_size", 96);
        JSON.writeValue(m.resolve("config.json").toFile(), config);
        MalformedModelException e = assertThrows(MalformedModelException.class, () -> load(m));
        assertTrue(e.getMessage().contains("shape"), e.getMessage());
    }

    @Test
    void shapeDisagreesWithByteCount() throws IOException {
        Path m = copyModel();
        editHeader(m.resolve("model.safetensors"), h -> {
            ArrayNode shape = (ArrayNode) tensor(h, "norm.weight").get("shape");
            shape.removeAll().add(65);
        });
        assertThrows(MalformedModelException.class, () -> load(m));
    }

    @Test
    void missingTensor() throws IOException {
        Path m = copyModel();
        editHeader(m.resolve("model.safetensors"), h -> {
            h.set("renamed.weight", h.remove("layers.1.mlp.up_proj.weight"));
        });
        MalformedModelException e = assertThrows(MalformedModelException.class, () -> load(m));
        assertTrue(e.getMessage().contains("layers.1.mlp.up_proj.weight"), e.getMessage());
    }

    @Test
    void configIsNotJson() throws IOException {
        Path m = copyModel();
        Files.writeString(m.resolve("config.json"), "{\"hidden_size\": 64,, oops");
        assertThrows(MalformedModelException.class, () -> load(m));
        Files.writeString(m.resolve("config.json"), "[1, 2, 3]");
        assertThrows(MalformedModelException.class, () -> load(m));
        Files.writeString(m.resolve("config.json"), "{\"model_type\": \"qwen3\", \"hidden_size\": \"big\"}");
        assertThrows(MalformedModelException.class, () -> load(m));
    }

    @Test
    void hostileConfigNumbers() throws IOException {
        Path m = copyModel();
        ObjectNode config = (ObjectNode) JSON.readTree(m.resolve("config.json").toFile());
        config.put("num_hidden_layers", 1_000_000_000);
        JSON.writeValue(m.resolve("config.json").toFile(), config);
        assertThrows(MalformedModelException.class, () -> load(m));
    }

    @Test
    void unknownArchitecture() throws IOException {
        Path m = copyModel();
        ObjectNode config = (ObjectNode) JSON.readTree(m.resolve("config.json").toFile());
        config.put("model_type", "gpt_neox");
        JSON.writeValue(m.resolve("config.json").toFile(), config);
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class, () -> load(m));
        assertTrue(e.getMessage().contains("qwen3"), "lists supported types: " + e.getMessage());
    }

    @Test
    void badTokensAndSequences() {
        try (Embedder e = load(Goldens.dir("qwen3-tiny"))) {
            InvalidInputException tooBig = assertThrows(InvalidInputException.class,
                    () -> e.embedTokens(new int[][] {{1, 2, 512}}));
            assertTrue(tooBig.getMessage().contains("512"), tooBig.getMessage());
            assertThrows(InvalidInputException.class, () -> e.embedTokens(new int[][] {{1, -1}}));
            assertThrows(InvalidInputException.class, () -> e.embedTokens(new int[][] {{1, 2}, {}}));
            assertThrows(InvalidInputException.class, () -> e.embedTokens(new int[][] {{1}}, null, true, 65));
            assertThrows(InvalidInputException.class, () -> e.embedTokens(new int[][] {{1}}, new int[] {1}, true, 0));
            // The same Embedder still works after rejected calls.
            assertEquals(64, e.embedTokens(new int[][] {{1, 2, 3}})[0].length);
        }
    }

    @Test
    void closedEmbedderThrows() {
        Embedder e = load(Goldens.dir("qwen3-tiny"));
        e.close();
        e.close();
        assertThrows(EmberClosedException.class, () -> e.embedTokens(new int[][] {{1}}));
    }

    @Test
    void cudaWithoutDeviceIsTyped() {
        if (Devices.cudaDeviceCount() > 0) {
            return; // a GPU machine: covered by the CUDA tests
        }
        assertThrows(BackendUnavailableException.class,
                () -> Embedder.builder().setModel(Goldens.dir("qwen3-tiny")).optBackend(Backend.CUDA).build());
    }
}
