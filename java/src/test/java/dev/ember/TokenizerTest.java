package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The genuine Qwen3 and Llama-3.1 tokenizer.json files give the pinned ids of
 * tests/tokenizers/expected-ids.json: ASCII, CJK, emoji, leading and trailing spaces, very long
 * words, 10,000-character inputs. Those ids come from @lenml/tokenizers (a JavaScript port of
 * Hugging Face tokenizers); Ember runs Hugging Face's Rust implementation, so equality here is two
 * independent implementations agreeing.
 */
class TokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static Tokenizer qwen3;
    private static Tokenizer llama;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() {
        qwen3 = Tokenizer.load(TextModels.qwen3Tokenizer());
        llama = Tokenizer.load(TextModels.llamaTokenizer());
    }

    @AfterAll
    static void close() {
        qwen3.close();
        llama.close();
    }

    private static JsonNode cases() throws IOException {
        return JSON.readTree(Goldens.repo().resolve("tests/tokenizers/expected-ids.json").toFile()).get("cases");
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "llama3_1"})
    void idsEqualThePinnedOnes(String name) throws IOException {
        Tokenizer t = name.equals("qwen3") ? qwen3 : llama;
        int checked = 0;
        List<String> texts = new ArrayList<>();
        List<int[]> expected = new ArrayList<>();
        for (JsonNode c : cases()) {
            String text = c.get("text").asText();
            int[] want = Goldens.ints(c.get(name));
            assertArrayEquals(want, t.encode(text, false), name + " / " + c.get("name").asText());
            texts.add(text);
            expected.add(want);
            checked++;
        }
        assertTrue(checked >= 20, "the fixture lost its cases");
        // The batch path (run in parallel on the Rust side) gives the same ids.
        int[][] batch = t.encode(texts, false);
        for (int i = 0; i < batch.length; i++) {
            assertArrayEquals(expected.get(i), batch[i], name + " batch case " + i);
        }
    }

    @Test
    void fixtureCoversTheCasesTheIssueNames() throws IOException {
        boolean cjk = false;
        boolean emoji = false;
        boolean spaces = false;
        boolean tenK = false;
        for (JsonNode c : cases()) {
            String text = c.get("text").asText();
            cjk |= text.codePoints().anyMatch(cp -> Character.UnicodeScript.of(cp) == Character.UnicodeScript.HAN);
            emoji |= text.codePoints().anyMatch(cp -> cp >= 0x1F300);
            spaces |= text.startsWith(" ") && text.endsWith(" ") && !text.isBlank();
            tenK |= text.length() >= 10_000;
        }
        assertTrue(cjk && emoji && spaces && tenK);
    }

    @Test
    void knownIds() {
        assertArrayEquals(new int[] {9707, 1879, 11, 70547, 0}, qwen3.encode("Hello world, embeddings!", false));
        assertEquals(TextModels.ENDOFTEXT, qwen3.tokenId("<|endoftext|>").getAsInt());
        assertEquals(TextModels.BEGIN_OF_TEXT, llama.tokenId("<|begin_of_text|>").getAsInt());
        assertTrue(qwen3.tokenId("two words").isEmpty());
    }

    @Test
    void specialTokensComeFromThePostProcessor() {
        String text = "Hello world, embeddings!";
        // Plain Qwen3: its post-processor (ByteLevel) adds nothing.
        assertArrayEquals(qwen3.encode(text, false), qwen3.encode(text));
        // Llama 3.1: <|begin_of_text|> first.
        int[] plain = llama.encode(text, false);
        int[] full = llama.encode(text);
        assertEquals(plain.length + 1, full.length);
        assertEquals(TextModels.BEGIN_OF_TEXT, full[0]);
        assertArrayEquals(plain, java.util.Arrays.copyOfRange(full, 1, full.length));
        assertArrayEquals(new int[] {TextModels.BEGIN_OF_TEXT}, llama.encode(""));
    }

    @Test
    void qwen3EmbeddingTemplateAppendsEndOfText() throws IOException {
        TextModels.writeTokenizer(TextModels.qwen3Tokenizer(), tmp, TextModels.endOfTextTemplate());
        try (Tokenizer t = Tokenizer.load(tmp)) {
            assertArrayEquals(new int[] {9707, 1879, 11, 70547, 0, TextModels.ENDOFTEXT}, t.encode("Hello world, embeddings!"));
            assertArrayEquals(new int[] {TextModels.ENDOFTEXT}, t.encode(""));
        }
    }

    /** A file's own truncation and padding sections never cut or pad: length is the Embedder's business. */
    @Test
    void ignoresTheFilesTruncationAndPadding() throws IOException {
        ObjectNode json = (ObjectNode) JSON.readTree(TextModels.qwen3Tokenizer().toFile());
        json.set("truncation", JSON.readTree("{\"direction\": \"Right\", \"max_length\": 4, \"strategy\": \"LongestFirst\", \"stride\": 0}"));
        json.set("padding", JSON.readTree("{\"strategy\": {\"Fixed\": 64}, \"direction\": \"Right\", \"pad_to_multiple_of\": null, "
                + "\"pad_id\": 151643, \"pad_type_id\": 0, \"pad_token\": \"<|endoftext|>\"}"));
        Path file = tmp.resolve("tokenizer.json");
        JSON.writeValue(file.toFile(), json);
        String text = "The quick brown fox jumps over the lazy dog.";
        try (Tokenizer t = Tokenizer.load(file)) {
            assertArrayEquals(qwen3.encode(text, false), t.encode(text, false));
            assertArrayEquals(qwen3.encode(text, false), t.encode(List.of(text), false)[0]);
        }
    }

    @Test
    void missingAndBrokenFilesAreTyped() throws IOException {
        assertThrows(ModelNotFoundException.class, () -> Tokenizer.load(tmp.resolve("nope.json")));
        assertThrows(ModelNotFoundException.class, () -> Tokenizer.load(tmp));
        Path bad = tmp.resolve("tokenizer.json");
        Files.writeString(bad, "{\"model\": 42}");
        assertThrows(MalformedModelException.class, () -> Tokenizer.load(bad));
        Files.writeString(bad, "not json");
        assertThrows(MalformedModelException.class, () -> Tokenizer.load(bad));
    }

    @Test
    void closedTokenizerThrows() {
        Tokenizer t = Tokenizer.load(TextModels.qwen3Tokenizer());
        t.close();
        t.close();
        assertThrows(EmberClosedException.class, () -> t.encode("x"));
    }
}
