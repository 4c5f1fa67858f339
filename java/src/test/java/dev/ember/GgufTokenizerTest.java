package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A GGUF file alone embeds text: the tokenizer Ember wrote into it (from the genuine Qwen3 and
 * Llama-3.1 tokenizer.json files) comes back, rebuilt from {@code tokenizer.ggml.*}, giving exactly
 * the pinned ids of tests/tokenizers/expected-ids.json and the same ids and vectors as the folder
 * it was converted from.
 */
class GgufTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    private static Path qwen3Gguf;
    private static Path llamaGguf;

    @BeforeAll
    static void convert() throws IOException {
        qwen3Gguf = dir.resolve("qwen3-embedding.gguf");
        llamaGguf = dir.resolve("llama-embed-nemotron.gguf");
        Models.convert(TextModels.qwen3Embedding(), qwen3Gguf, WeightType.F32);
        Models.convert(TextModels.llamaEmbedNemotron(), llamaGguf, WeightType.F32);
    }

    private static JsonNode cases() throws IOException {
        return JSON.readTree(Goldens.repo().resolve("tests/tokenizers/expected-ids.json").toFile()).get("cases");
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "llama3_1"})
    void idsEqualThePinnedOnesAndTheFolders(String name) throws IOException {
        boolean qwen = name.equals("qwen3");
        Path folderFile = qwen ? TextModels.qwen3Embedding() : TextModels.llamaEmbedNemotron();
        try (Tokenizer gguf = Tokenizer.load(qwen ? qwen3Gguf : llamaGguf); Tokenizer folder = Tokenizer.load(folderFile)) {
            List<String> texts = new ArrayList<>();
            for (JsonNode c : cases()) {
                String text = c.get("text").asText();
                String what = name + " / " + c.get("name").asText();
                assertArrayEquals(Goldens.ints(c.get(name)), gguf.encode(text, false), what);
                // With special tokens: the post-processor (Qwen3-Embedding's appended <|endoftext|>,
                // Llama 3's <|begin_of_text|>) came through add_eos_token / add_bos_token.
                assertArrayEquals(folder.encode(text, true), gguf.encode(text, true), what + " with special tokens");
                texts.add(text);
            }
            assertTrue(texts.size() >= 20, "the fixture lost its cases");
            // Special and added tokens written in the text are recognized as the folder's tokenizer does.
            String specials = qwen ? "a<|endoftext|>b<|im_start|>c<think>d</think>" : "a<|begin_of_text|>b<|eot_id|>c";
            assertArrayEquals(folder.encode(specials, false), gguf.encode(specials, false));
        }
    }

    @Test
    void embedTextOnTheGgufEqualsTheFolder() {
        List<String> texts = List.of("Hello world, embeddings!", "你好，世界！", "", "  leading and trailing  ",
                "The quick brown fox jumps over the lazy dog. ".repeat(20));
        for (Path[] pair : new Path[][] {{TextModels.qwen3Embedding(), qwen3Gguf},
                {TextModels.qwen3EmbeddingOldTokenizer(), qwen3Gguf}, {TextModels.llamaEmbedNemotron(), llamaGguf}}) {
            try (Embedder folder = Embedder.builder().setModel(pair[0]).optBackend(Backend.CPU).optThreads(2).build();
                    Embedder gguf = Embedder.builder().setModel(pair[1]).optBackend(Backend.CPU).optThreads(2).build()) {
                assertTrue(gguf.hasTokenizer());
                EmbedOptions docs = EmbedOptions.documents();
                List<TokenizedInput> a = folder.tokenize(texts, docs);
                List<TokenizedInput> b = gguf.tokenize(texts, docs);
                for (int i = 0; i < texts.size(); i++) {
                    assertArrayEquals(a.get(i).ids(), b.get(i).ids(), pair[0].getFileName() + " text " + i);
                }
                float[][] va = folder.embed(texts, docs).vectors();
                float[][] vb = gguf.embed(texts, docs).vectors();
                for (int i = 0; i < texts.size(); i++) {
                    // Same f32 weights, same ids: only the weight source differs.
                    double err = Goldens.relError(vb[i], va[i]);
                    assertTrue(err <= 1e-5, pair[0].getFileName() + " text " + i + ": rel error " + err);
                }
            }
        }
    }

    @Test
    void aPreTokenizerEmberCannotRebuildLeavesTokenIds() {
        // A synthetic model's stand-in vocabulary says pre "default" (llama.cpp's GPT-2-like
        // fallback), which has no tokenizer.json counterpart.
        Path synth = dir.resolve("tiny.gguf");
        Models.synth(ModelShape.TINY, synth, WeightType.F32, 1);
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class, () -> Tokenizer.load(synth));
        assertTrue(e.getMessage().contains("tokenizer.ggml.pre \"default\""), e.getMessage());
        try (Embedder embedder = Embedder.builder().setModel(synth).optBackend(Backend.CPU).optThreads(1).build()) {
            assertFalse(embedder.hasTokenizer());
            NoTokenizerException none = assertThrows(NoTokenizerException.class,
                    () -> embedder.embedDocuments(List.of("text")));
            assertTrue(none.getMessage().contains("\"default\""), none.getMessage());
            assertEquals(1, embedder.embedTokens(new int[][] {{1, 2, 3}}).length);
            // A tokenizer given explicitly still works with it (ids must fit the 512-token vocabulary).
        }
        try (Embedder withFile = Embedder.builder().setModel(synth).optTokenizer(qwen3Gguf).optBackend(Backend.CPU)
                .optThreads(1).build()) {
            assertTrue(withFile.hasTokenizer());
        }
    }
}
