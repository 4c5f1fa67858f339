package dev.ember;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Iterator;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Tiny random-weight models whose vocabulary covers a real tokenizer, for tests of text input:
 * the layers of a golden model (tests/goldens) with a new embedding table of the real vocabulary
 * size, written at test time (a 151,669 x 64 float32 table is 39 MB: too big to commit), plus the
 * genuine tokenizer.json files that tests/tokenizers/fetch.sh puts in build/tokenizers.
 */
public final class TextModels {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Qwen3's tokenizer: 151,643 BPE tokens and 26 added ones; Qwen3 configs say vocab_size 151669. */
    static final int QWEN3_VOCAB = 151669;
    static final int LLAMA3_VOCAB = 128256;
    static final int ENDOFTEXT = 151643;
    static final int BEGIN_OF_TEXT = 128000;

    private static Path root;

    private TextModels() {}

    static Path tokenizers() {
        String dir = System.getProperty("ember.tokenizers");
        return dir != null ? Path.of(dir) : Goldens.repo().resolve("build/tokenizers");
    }

    /** The genuine Qwen3 tokenizer.json (no post-processor step that adds tokens). */
    static Path qwen3Tokenizer() {
        return existing(tokenizers().resolve("qwen3/tokenizer.json"));
    }

    /** The genuine Llama-3.1 tokenizer.json (its post-processor adds <|begin_of_text|>). */
    static Path llamaTokenizer() {
        return existing(tokenizers().resolve("llama3_1/tokenizer.json"));
    }

    private static Path existing(Path file) {
        assertTrue(Files.isRegularFile(file), file + " is missing: run tests/tokenizers/fetch.sh (Maven does, before the tests)");
        return file;
    }

    /**
     * Qwen3-Embedding as published: Qwen3 layers, last-token pooling, and a tokenizer.json whose
     * post-processor appends <|endoftext|> (TemplateProcessing "$A <|endoftext|>").
     */
    public static synchronized Path qwen3Embedding() {
        return model("qwen3-embedding", () -> {
            Path dir = fromGolden("qwen3-tiny", "qwen3-embedding", QWEN3_VOCAB, 1);
            writeTokenizer(qwen3Tokenizer(), dir, endOfTextTemplate());
            return dir;
        });
    }

    /** The same weights with the plain Qwen3 tokenizer.json (as older Qwen3-Embedding downloads had). */
    static synchronized Path qwen3EmbeddingOldTokenizer() {
        return model("qwen3-embedding-old-tokenizer", () -> {
            Path dir = fromGolden("qwen3-tiny", "qwen3-embedding-old-tokenizer", QWEN3_VOCAB, 1);
            writeTokenizer(qwen3Tokenizer(), dir, null);
            return dir;
        });
    }

    /** llama-embed-nemotron's shape: bidirectional Llama, mean pooling, the Llama-3.1 tokenizer. */
    public static synchronized Path llamaEmbedNemotron() {
        return model("llama-embed-nemotron", () -> {
            Path dir = fromGolden("llama-bidir-tiny", "llama-embed-nemotron", LLAMA3_VOCAB, 2);
            writeTokenizer(llamaTokenizer(), dir, null);
            return dir;
        });
    }

    /** A copy of a generated model in {@code dir} (for tests that change its files). */
    static Path copy(Path model, Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(model)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path to = dir.resolve(model.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(f, to);
                }
            }
        }
        return dir;
    }

    private interface Maker {
        Path make() throws IOException;
    }

    private static Path model(String name, Maker maker) {
        try {
            if (root == null) {
                root = Files.createTempDirectory("ember-text-models-");
                Path r = root;
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(r)));
            }
            Path dir = root.resolve(name);
            return Files.isDirectory(dir) ? dir : maker.make();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The golden's config, modules and tensors, with embed_tokens replaced by a vocab x hidden
     * table of uniform random values (seeded: the same model every run).
     */
    private static Path fromGolden(String golden, String name, int vocab, long seed) throws IOException {
        Path src = Goldens.dir(golden);
        Path dir = root.resolve(name);
        Files.createDirectories(dir);
        ObjectNode config = (ObjectNode) JSON.readTree(src.resolve("config.json").toFile());
        config.put("vocab_size", vocab);
        JSON.writeValue(dir.resolve("config.json").toFile(), config);
        for (String f : new String[] {"modules.json", "1_Pooling/config.json"}) {
            if (Files.exists(src.resolve(f))) {
                Files.createDirectories(dir.resolve(f).getParent());
                Files.copy(src.resolve(f), dir.resolve(f));
            }
        }
        byte[] bytes = Files.readAllBytes(src.resolve("model.safetensors"));
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectNode header = (ObjectNode) JSON.readTree(new String(bytes, 8, (int) n, StandardCharsets.UTF_8));
        int hidden = config.get("hidden_size").asInt();
        long dataStart = 8 + n;

        // New layout: every old tensor except embed_tokens, then the new table.
        ObjectNode out = JSON.createObjectNode();
        long offset = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__") || e.getKey().endsWith("embed_tokens.weight")) {
                continue;
            }
            ObjectNode t = e.getValue().deepCopy();
            long size = t.get("data_offsets").get(1).asLong() - t.get("data_offsets").get(0).asLong();
            ((ArrayNode) t.get("data_offsets")).removeAll().add(offset).add(offset + size);
            out.set(e.getKey(), t);
            offset += size;
        }
        String embedName = header.has("model.embed_tokens.weight") ? "model.embed_tokens.weight" : "embed_tokens.weight";
        long tableBytes = (long) vocab * hidden * 4;
        ObjectNode embed = out.putObject(embedName);
        embed.put("dtype", "F32");
        embed.putArray("shape").add(vocab).add(hidden);
        embed.putArray("data_offsets").add(offset).add(offset + tableBytes);

        byte[] h = JSON.writeValueAsBytes(out);
        try (OutputStream o = Files.newOutputStream(dir.resolve("model.safetensors"))) {
            o.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            o.write(h);
            for (Iterator<Map.Entry<String, JsonNode>> it = out.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals(embedName)) {
                    continue;
                }
                JsonNode old = header.get(e.getKey()).get("data_offsets");
                o.write(bytes, (int) (dataStart + old.get(0).asLong()), (int) (old.get(1).asLong() - old.get(0).asLong()));
            }
            SplittableRandom random = new SplittableRandom(seed);
            ByteBuffer row = ByteBuffer.allocate(hidden * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int r = 0; r < vocab; r++) {
                row.clear();
                for (int c = 0; c < hidden; c++) {
                    row.putFloat((float) (random.nextDouble() * 2 - 1) * 0.05f);
                }
                o.write(row.array());
            }
        }
        return dir;
    }

    /** Qwen3-Embedding's post-processor: append <|endoftext|> to every sequence. */
    static JsonNode endOfTextTemplate() {
        try {
            return JSON.readTree("""
                    {"type": "TemplateProcessing",
                     "single": [{"Sequence": {"id": "A", "type_id": 0}},
                                {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
                     "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                              {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                              {"Sequence": {"id": "B", "type_id": 1}},
                              {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}],
                     "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [151643],
                                                         "tokens": ["<|endoftext|>"]}}}
                    """);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Copies a tokenizer.json into {@code dir}, with another post_processor when one is given. */
    static void writeTokenizer(Path tokenizer, Path dir, JsonNode postProcessor) throws IOException {
        if (postProcessor == null) {
            Files.copy(tokenizer, dir.resolve("tokenizer.json"));
            return;
        }
        ObjectNode json = (ObjectNode) JSON.readTree(tokenizer.toFile());
        json.set("post_processor", postProcessor);
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), json);
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort at exit
        }
    }
}
