package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ember.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Causal2Vec from text: both tokenizers run on the same text, and the result is what
 * {@code embedTokens(ids, encoderIds)} gives for the ids {@code tokenize} reports.
 *
 * <p>The model is causal2vec-tiny (vocabulary 512 for both the LLM and the encoder) with two small
 * tokenizers written here: a case-sensitive WordLevel one for the LLM that splits digits one by one
 * and appends {@code <|endoftext|>}, and a BERT-style one for the encoder (lowercasing normalizer,
 * BertPreTokenizer, WordPiece, TemplateProcessing {@code [CLS] $A [SEP]}). Their vocabularies are
 * laid out so that {@link #GOLDEN_TEXT} tokenizes to exactly the ids and encoder ids of the
 * golden's first case, which ties the text path to the transformers reference.
 */
class Causal2VecTextTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Tokenizes to the golden's case 0: 11 decoder tokens + end token, 7 encoder tokens + [CLS]/[SEP]. */
    static final String GOLDEN_TEXT = "alpha 12 gamma 345 zeta 67 theta";
    static final int UNK = 0;
    static final int ENDOFTEXT = 429;
    static final int CLS = 333;
    static final int SEP = 403;
    static final int ENCODER_MAX = 512;

    private static final List<String> WORDS = List.of("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
            "one", "two", "three", "four", "five", "hello", "world", "embeddings", "are", "vectors", "text", "model",
            "query", "passage", "search", "paris", "is", "in", "france", "capital", "of", "what", "where", "ember",
            "runs", "decoder", "llms", "a", "and", "to", "for", "with", "this", "that", "it");

    private static final List<String> TEXTS = List.of(
            "the quick brown fox jumps over the lazy dog",
            "Hello, world! embeddings are vectors.",
            "",
            "what is the capital of france?",
            "paris is in france 2024",
            "Ember runs decoder LLMs 🚀 with 3 tokenizers... two",
            "one");

    @TempDir
    static Path dir;

    private static Path full;
    private static Path decoderTokenizer;
    private static Path encoderTokenizer;
    private static Embedder c2v;

    @BeforeAll
    static void load() throws IOException {
        decoderTokenizer = writeJson(dir.resolve("decoder-tokenizer.json"), decoderTokenizerJson());
        encoderTokenizer = writeJson(dir.resolve("encoder-tokenizer.json"), encoderTokenizerJson());
        full = model("full");
        Files.copy(decoderTokenizer, full.resolve("tokenizer.json"));
        Files.createDirectories(full.resolve("encoder"));
        Files.copy(encoderTokenizer, full.resolve("encoder/tokenizer.json"));
        c2v = open(full).build();
    }

    @AfterAll
    static void close() {
        c2v.close();
    }

    private static Embedder.Builder open(Path model) {
        return Embedder.builder().setModel(model).optBackend(Backend.CPU).optThreads(2);
    }

    /** The golden's config and weights in a new folder, without tokenizers. */
    private static Path model(String name) throws IOException {
        Path m = Files.createDirectories(dir.resolve(name));
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(Goldens.dir("causal2vec-tiny").resolve(f), m.resolve(f));
        }
        return m;
    }

    // ------------------------------------------------------------------ what each part sees

    @Test
    void bothTokenizersRunOnTheSamePromptedText() {
        try (Tokenizer dec = Tokenizer.load(decoderTokenizer); Tokenizer enc = Tokenizer.load(encoderTokenizer)) {
            for (EmbedOptions o : List.of(EmbedOptions.documents(),
                    EmbedOptions.builder().optPrompt(Prompt.prefix("query: ")).build())) {
                String prefix = o.prompt().kind() == Prompt.Kind.PREFIX ? o.prompt().value() : "";
                List<TokenizedInput> in = c2v.tokenize(TEXTS, o);
                assertEquals(TEXTS.size(), in.size());
                for (int i = 0; i < TEXTS.size(); i++) {
                    String text = prefix + TEXTS.get(i);
                    TokenizedInput t = in.get(i);
                    assertArrayEquals(dec.encode(text, true), t.ids(), "ids of " + text);
                    assertArrayEquals(enc.encode(text, true), t.encoderIds(), "encoder ids of " + text);
                    assertEquals(ENDOFTEXT, t.ids()[t.ids().length - 1]);
                    assertEquals(CLS, t.encoderIds()[0]);
                    assertEquals(SEP, t.encoderIds()[t.encoderIds().length - 1]);
                    assertFalse(t.truncated());
                }
            }
        }
        // The two vocabularies differ: the encoder's ids are not the decoder's (and it lowercases).
        TokenizedInput hello = c2v.tokenize(List.of("Hello world"), EmbedOptions.documents()).get(0);
        assertArrayEquals(new int[] {UNK, decoderVocab().get("world"), ENDOFTEXT}, hello.ids());
        assertArrayEquals(new int[] {CLS, encoderVocab().get("hello"), encoderVocab().get("world"), SEP},
                hello.encoderIds());
    }

    /** Text through both tokenizers and the model lands on the transformers reference. */
    @Test
    void goldenTextGivesTheReferenceEmbedding() {
        Goldens.Case c = Goldens.cases("causal2vec-tiny").get(0);
        TokenizedInput t = c2v.tokenize(List.of(GOLDEN_TEXT), EmbedOptions.documents()).get(0);
        assertArrayEquals(c.ids(), t.ids());
        assertArrayEquals(c.encoderIds(), t.encoderIds());
        float[] v = c2v.embedDocuments(List.of(GOLDEN_TEXT))[0];
        double err = Goldens.relError(v, c.embedding());
        assertTrue(err <= 1e-5, "rel error " + err);
    }

    // ------------------------------------------------------------------ text = ids

    @Test
    void embedEqualsEmbedTokensOfWhatTokenizeReports() {
        EmbedOptions o = EmbedOptions.builder().optPrompt(Prompt.prefix("query: ")).build();
        float[][] vectors = c2v.embed(TEXTS, o).vectors();
        List<TokenizedInput> in = c2v.tokenize(TEXTS, o);
        for (int i = 0; i < TEXTS.size(); i++) {
            // One sequence per call: nothing shared with the batch embed made.
            float[] alone = c2v.embedTokens(new int[][] {in.get(i).ids()}, null, new int[][] {in.get(i).encoderIds()})[0];
            assertClose(alone, vectors[i], 1e-6, "text " + i);
        }
        // The encoder ids matter: another text's encoder ids give another vector.
        float[] swapped = c2v.embedTokens(new int[][] {in.get(0).ids()}, null, new int[][] {in.get(1).encoderIds()})[0];
        assertTrue(maxDiff(swapped, vectors[0]) > 1e-3, "encoder ids of another text changed nothing");
        assertTrue(maxDiff(vectors[0], vectors[1]) > 1e-3, "different texts gave the same vector");
    }

    @Test
    void batchOrderAndGroupingDoNotChangeResults() {
        float[][] forward = c2v.embedDocuments(TEXTS);
        List<String> reversed = new ArrayList<>(TEXTS);
        Collections.reverse(reversed);
        float[][] backward = c2v.embedDocuments(reversed);
        // A budget of 8 tokens puts (almost) every input in a native batch of its own.
        try (Embedder small = open(full).optTokenBudget(8).build()) {
            float[][] grouped = small.embedDocuments(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) {
                assertClose(forward[i], backward[TEXTS.size() - 1 - i], 1e-6, "reversed, text " + i);
                assertClose(forward[i], grouped[i], 1e-6, "one per batch, text " + i);
            }
        }
    }

    // ------------------------------------------------------------------ lengths

    /** When the decoder cuts a text, the encoder reads the same characters: up to the last decoder token kept. */
    @Test
    void decoderTruncationCutsTheEncoderTextAtTheSamePlace() {
        try (Embedder cut = open(full).optMaxLength(3).build(); Tokenizer enc = Tokenizer.load(encoderTokenizer)) {
            Map<String, String> cases = new LinkedHashMap<>();
            cases.put("one two three four", "one two");
            // Code points vs UTF-16: the rockets are two chars each in Java, one character each to the tokenizer.
            cases.put("🚀🚀 one two three", "🚀🚀 one");
            cases.put("Paris is in France", "Paris is");
            for (Map.Entry<String, String> e : cases.entrySet()) {
                TokenizedInput t = cut.tokenize(List.of(e.getKey()), EmbedOptions.documents()).get(0);
                assertTrue(t.truncated(), e.getKey());
                assertEquals(3, t.ids().length, e.getKey());
                assertArrayEquals(enc.encode(e.getValue(), true), t.encoderIds(), e.getKey());
            }
            assertEquals(1, cut.embed(List.of("one two three four", "one"), EmbedOptions.documents()).truncated());
        }
    }

    @Test
    void encoderInputsStopAtTheEncodersPositions() {
        String longText = String.join(" ", Collections.nCopies(600, "one"));
        TokenizedInput t = c2v.tokenize(List.of(longText), EmbedOptions.documents()).get(0);
        assertEquals(601, t.ids().length, "the decoder (4096 positions) keeps everything");
        assertEquals(ENCODER_MAX, t.encoderIds().length);
        assertEquals(CLS, t.encoderIds()[0]);
        assertEquals(SEP, t.encoderIds()[ENCODER_MAX - 1]);
        assertTrue(t.truncated());
        Embeddings r = c2v.embed(List.of(longText, "one"), EmbedOptions.documents());
        assertEquals(1, r.truncated());
        assertClose(c2v.embedTokens(new int[][] {t.ids()}, null, new int[][] {t.encoderIds()})[0], r.vectors()[0], 1e-6,
                "truncated text");

        try (Embedder strict = open(full).optTruncation(Truncation.ERROR).build()) {
            InputTooLongException e = assertThrows(InputTooLongException.class,
                    () -> strict.embedDocuments(List.of("one", longText)));
            assertTrue(e.encoder());
            assertEquals(1, e.index());
            assertEquals(602, e.tokens());
            assertEquals(ENCODER_MAX, e.maxLength());
            assertTrue(e.getMessage().contains("encoder"), e.getMessage());
            assertEquals(2, strict.embedDocuments(List.of("one", String.join(" ", Collections.nCopies(510, "one")))).length);
        }
    }

    // ------------------------------------------------------------------ where the encoder tokenizer comes from

    @Test
    void withoutAnEncoderTokenizerTextFailsAndIdsWork() throws IOException {
        Path bare = model("no-encoder-tokenizer");
        Files.copy(decoderTokenizer, bare.resolve("tokenizer.json"));
        float[] reference = c2v.embedDocuments(List.of(TEXTS.get(0)))[0];
        try (Embedder e = open(bare).build()) {
            assertFalse(e.hasTokenizer());
            NoTokenizerException ex = assertThrows(NoTokenizerException.class, () -> e.embedDocuments(List.of("one")));
            assertTrue(ex.getMessage().contains("encoder/tokenizer.json") && ex.getMessage().contains("encoder_tokenizer.json")
                    && ex.getMessage().contains("optEncoderTokenizer"), ex.getMessage());
            assertThrows(NoTokenizerException.class, () -> e.tokenize(List.of("one"), EmbedOptions.documents()));
            TokenizedInput t = c2v.tokenize(List.of(TEXTS.get(0)), EmbedOptions.documents()).get(0);
            assertClose(reference, e.embedTokens(new int[][] {t.ids()}, null, new int[][] {t.encoderIds()})[0], 1e-6, "ids");
        }
        // Given with the builder, or as encoder_tokenizer.json in the folder: the same vectors.
        try (Embedder e = open(bare).optEncoderTokenizer(encoderTokenizer).build()) {
            assertTrue(e.hasTokenizer());
            assertClose(reference, e.embedDocuments(List.of(TEXTS.get(0)))[0], 1e-6, "optEncoderTokenizer");
        }
        Path flat = model("flat-encoder-tokenizer");
        Files.copy(decoderTokenizer, flat.resolve("tokenizer.json"));
        Files.copy(encoderTokenizer, flat.resolve("encoder_tokenizer.json"));
        try (Embedder e = open(flat).build()) {
            assertClose(reference, e.embedDocuments(List.of(TEXTS.get(0)))[0], 1e-6, "encoder_tokenizer.json");
        }
        // The decoder's tokenizer given as the encoder's: it runs, and the vectors change.
        try (Embedder e = open(bare).optEncoderTokenizer(decoderTokenizer).build()) {
            assertTrue(maxDiff(reference, e.embedDocuments(List.of(TEXTS.get(0)))[0]) > 1e-3);
        }
        assertThrows(ModelNotFoundException.class,
                () -> open(bare).optEncoderTokenizer(dir.resolve("missing.json")).build());
    }

    @Test
    void anEncoderTokenizerForAModelWithoutEncoderIsRefused() {
        UnsupportedModelException e = assertThrows(UnsupportedModelException.class,
                () -> open(Goldens.dir("qwen3-tiny")).optEncoderTokenizer(encoderTokenizer).build());
        assertTrue(e.getMessage().contains("no encoder"), e.getMessage());
    }

    @Test
    void otherFamiliesHaveNoEncoderIds() {
        try (Embedder q = open(TextModels.qwen3Embedding()).build()) {
            assertNull(q.tokenize(List.of("hello"), EmbedOptions.documents()).get(0).encoderIds());
        }
    }

    // ------------------------------------------------------------------ command line

    @Test
    void commandLineTokenizesAndEmbedsText() throws IOException {
        Cli tok = cli("tokenize", "--model", full.toString(), "--backend", "cpu", "--prefix", "query: ",
                TEXTS.get(0), TEXTS.get(1));
        assertEquals(0, tok.code, tok.err);
        List<TokenizedInput> api = c2v.tokenize(TEXTS.subList(0, 2),
                EmbedOptions.builder().optPrompt(Prompt.prefix("query: ")).build());
        String[] lines = tok.out.strip().split("\n");
        assertEquals(2, lines.length, tok.out);
        for (int i = 0; i < 2; i++) {
            JsonNode line = JSON.readTree(lines[i]);
            assertArrayEquals(api.get(i).ids(), Goldens.ints(line.get("ids")));
            assertNotNull(line.get("encoder_ids"), lines[i]);
            assertArrayEquals(api.get(i).encoderIds(), Goldens.ints(line.get("encoder_ids")));
        }

        // Text lines, and an ids line as tokenize prints it, in one file.
        Path in = dir.resolve("cli-in.jsonl");
        Path out = dir.resolve("cli-out.jsonl");
        List<String> input = new ArrayList<>();
        for (String t : TEXTS) {
            input.add(JSON.writeValueAsString(Map.of("text", t)));
        }
        input.add(JSON.writeValueAsString(Map.of("text", GOLDEN_TEXT)));
        Cli golden = cli("tokenize", "--model", full.toString(), "--backend", "cpu", GOLDEN_TEXT);
        input.add(golden.out.strip());
        Files.write(in, input, StandardCharsets.UTF_8);
        Cli embed = cli("embed", "--model", full.toString(), "--backend", "cpu", "--threads", "2", "--input", in.toString(),
                "--output", out.toString());
        assertEquals(0, embed.code, embed.err);
        float[][] got = vectors(Files.readString(out, StandardCharsets.UTF_8));
        float[][] want = c2v.embedDocuments(TEXTS);
        assertEquals(TEXTS.size() + 2, got.length);
        for (int i = 0; i < TEXTS.size(); i++) {
            assertClose(want[i], got[i], 1e-6, "line " + (i + 1));
        }
        float[] reference = Goldens.cases("causal2vec-tiny").get(0).embedding();
        assertTrue(Goldens.relError(got[TEXTS.size()], reference) <= 1e-5, "golden text line");
        assertTrue(Goldens.relError(got[TEXTS.size() + 1], reference) <= 1e-5, "golden ids line");
    }

    @Test
    void commandLineEncoderTokenizerFlag() throws IOException {
        Path bare = model("cli-no-encoder-tokenizer");
        Files.copy(decoderTokenizer, bare.resolve("tokenizer.json"));
        Cli missing = cli("embed", "--model", bare.toString(), "--backend", "cpu", "one two");
        assertEquals(1, missing.code);
        assertTrue(missing.err.contains("NoTokenizerException") && missing.err.contains("--encoder-tokenizer"), missing.err);
        Cli given = cli("embed", "--model", bare.toString(), "--backend", "cpu", "--encoder-tokenizer",
                encoderTokenizer.toString(), "one two");
        assertEquals(0, given.code, given.err);
        assertClose(c2v.embedDocuments(List.of("one two"))[0], vectors(given.out)[0], 1e-6, "--encoder-tokenizer");
        Cli strict = cli("embed", "--model", full.toString(), "--backend", "cpu", "--no-truncate",
                String.join(" ", Collections.nCopies(600, "one")));
        assertEquals(2, strict.code);
        assertTrue(strict.err.contains("encoder's 512 positions"), strict.err);
    }

    private record Cli(int code, String out, String err) {}

    private static synchronized Cli cli(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            System.out.flush();
            System.err.flush();
            return new Cli(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private static float[][] vectors(String jsonl) throws IOException {
        List<float[]> rows = new ArrayList<>();
        for (String line : jsonl.split("\n")) {
            if (!line.isBlank()) {
                rows.add(Goldens.floats(JSON.readTree(line).get("embedding")));
            }
        }
        return rows.toArray(new float[0][]);
    }

    private static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    private static void assertClose(float[] expected, float[] got, double tol, String what) {
        double d = maxDiff(expected, got);
        assertTrue(d <= tol, what + ": max abs difference " + d);
    }

    // ------------------------------------------------------------------ the two tokenizers

    /**
     * The LLM's vocabulary: the golden's case-0 ids for its words and digits, every other entry on
     * the lowest free id. Case-sensitive; unknown words are {@code <unk>} (0).
     */
    static Map<String, Integer> decoderVocab() {
        Map<String, Integer> v = new LinkedHashMap<>();
        v.put("<unk>", UNK);
        String[] golden = {"alpha", "1", "2", "gamma", "3", "4", "5", "zeta", "6", "7", "theta"};
        int[] ids = Goldens.cases("causal2vec-tiny").get(0).ids();
        for (int i = 0; i < golden.length; i++) {
            v.put(golden[i], ids[i]);
        }
        v.put("<|endoftext|>", ENDOFTEXT);
        List<String> rest = new ArrayList<>(List.of("0", "8", "9", ",", ".", "!", "?", "...", "query", ":"));
        rest.addAll(WORDS);
        return fill(v, rest, 1, 1);
    }

    /**
     * The encoder's WordPiece vocabulary: [CLS] / [SEP] and the golden's case-0 encoder ids for its
     * words, then lowercase words, letters and digits (with ## continuations, so any lowercase word
     * splits into known pieces) on free ids counted down from 511, away from the decoder's.
     */
    static Map<String, Integer> encoderVocab() {
        Map<String, Integer> v = new LinkedHashMap<>();
        int[] ids = Goldens.cases("causal2vec-tiny").get(0).encoderIds();
        String[] golden = {"[CLS]", "alpha", "12", "gamma", "345", "zeta", "67", "theta", "[SEP]"};
        for (int i = 0; i < golden.length; i++) {
            v.put(golden[i], ids[i]);
        }
        v.put("[UNK]", 100);
        List<String> rest = new ArrayList<>(List.of(",", ".", "!", "?", ":"));
        rest.addAll(WORDS);
        for (char c = 'a'; c <= 'z'; c++) {
            rest.add(String.valueOf(c));
            rest.add("##" + c);
        }
        for (char c = '0'; c <= '9'; c++) {
            rest.add(String.valueOf(c));
            rest.add("##" + c);
        }
        return fill(v, rest, 511, -1);
    }

    private static Map<String, Integer> fill(Map<String, Integer> v, List<String> tokens, int from, int step) {
        int next = from;
        for (String t : tokens) {
            if (v.containsKey(t)) {
                continue;
            }
            while (v.containsValue(next)) {
                next += step;
            }
            assertTrue(next >= 0 && next < 512, "vocabulary overflows 512 ids");
            v.put(t, next);
        }
        return v;
    }

    private static ObjectNode decoderTokenizerJson() {
        Map<String, Integer> vocab = decoderVocab();
        ObjectNode t = base(List.of("<unk>", "<|endoftext|>"), vocab);
        t.putNull("normalizer");
        ObjectNode pre = t.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode steps = pre.putArray("pretokenizers");
        steps.addObject().put("type", "Whitespace");
        steps.addObject().put("type", "Digits").put("individual_digits", true);
        ObjectNode model = t.putObject("model");
        model.put("type", "WordLevel");
        model.set("vocab", JSON.valueToTree(vocab));
        model.put("unk_token", "<unk>");
        t.set("post_processor", template(List.of(), List.of("<|endoftext|>"), vocab));
        t.putNull("decoder");
        return t;
    }

    private static ObjectNode encoderTokenizerJson() {
        Map<String, Integer> vocab = encoderVocab();
        ObjectNode t = base(List.of("[UNK]", "[CLS]", "[SEP]"), vocab);
        t.putObject("normalizer").put("type", "BertNormalizer").put("clean_text", true).put("handle_chinese_chars", true)
                .putNull("strip_accents").put("lowercase", true);
        t.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
        ObjectNode model = t.putObject("model");
        model.put("type", "WordPiece");
        model.put("unk_token", "[UNK]");
        model.put("continuing_subword_prefix", "##");
        model.put("max_input_chars_per_word", 100);
        model.set("vocab", JSON.valueToTree(vocab));
        t.set("post_processor", template(List.of("[CLS]"), List.of("[SEP]"), vocab));
        t.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);
        return t;
    }

    private static ObjectNode base(List<String> special, Map<String, Integer> vocab) {
        ObjectNode t = JSON.createObjectNode();
        t.put("version", "1.0");
        t.putNull("truncation");
        t.putNull("padding");
        ArrayNode added = t.putArray("added_tokens");
        for (String s : special) {
            added.addObject().put("id", vocab.get(s)).put("content", s).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        return t;
    }

    /** TemplateProcessing: {@code before $A after} for one text (pairs: the same around B). */
    private static ObjectNode template(List<String> before, List<String> after, Map<String, Integer> vocab) {
        ObjectNode p = JSON.createObjectNode();
        p.put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        ArrayNode pair = p.putArray("pair");
        for (String seq : new String[] {"A", "B"}) {
            int type = seq.equals("A") ? 0 : 1;
            List<ArrayNode> targets = seq.equals("A") ? List.of(single, pair) : List.of(pair);
            for (ArrayNode target : targets) {
                for (String s : before) {
                    target.addObject().putObject("SpecialToken").put("id", s).put("type_id", type);
                }
                target.addObject().putObject("Sequence").put("id", seq).put("type_id", type);
                for (String s : after) {
                    target.addObject().putObject("SpecialToken").put("id", s).put("type_id", type);
                }
            }
        }
        ObjectNode specials = p.putObject("special_tokens");
        for (String s : concat(before, after)) {
            ObjectNode e = specials.putObject(s);
            e.put("id", s);
            e.putArray("ids").add(vocab.get(s));
            e.putArray("tokens").add(s);
        }
        return p;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    private static Path writeJson(Path file, JsonNode json) throws IOException {
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), json);
        return file;
    }
}
