package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Text in, vectors out, on tiny random-weight models with the real Qwen3 and Llama-3.1
 * vocabularies (see {@link TextModels}): prompts, special tokens, truncation, Matryoshka, batching.
 */
class TextEmbeddingTest {
    private static final String TASK = "Given a web search query, retrieve relevant passages that answer the query";
    private static final List<String> TEXTS = List.of(
            "Hello world, embeddings!",
            "你好，世界！这是一个用于测试嵌入模型的句子。",
            "Emoji: 🚀🔥 👍🏽",
            "   leading and trailing spaces   ",
            "",
            "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(8),
            "The quick brown fox jumps over the lazy dog. ".repeat(40));

    private static Embedder qwen3;
    private static Embedder llama;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() {
        qwen3 = Embedder.builder().setModel(TextModels.qwen3Embedding()).optBackend(Backend.CPU).optThreads(2).build();
        llama = Embedder.builder().setModel(TextModels.llamaEmbedNemotron()).optBackend(Backend.CPU).optThreads(2).build();
    }

    @AfterAll
    static void close() {
        qwen3.close();
        llama.close();
    }

    private static EmbedOptions query() {
        return EmbedOptions.query(TASK);
    }

    // ------------------------------------------------------------------ what the model sees

    @Test
    void qwen3EndsEveryInputWithEndOfText() {
        assertEquals("qwen3-embedding", qwen3.info().family());
        int[] ids = qwen3.tokenize(List.of("Hello world, embeddings!"), EmbedOptions.documents()).get(0).ids();
        assertArrayEquals(new int[] {9707, 1879, 11, 70547, 0, TextModels.ENDOFTEXT}, ids);
    }

    /** Without the post-processor in tokenizer.json, Ember appends <|endoftext|> itself: same ids, same vectors. */
    @Test
    void qwen3WithoutThePostProcessorIsTheSame() {
        try (Embedder old = Embedder.builder().setModel(TextModels.qwen3EmbeddingOldTokenizer()).optBackend(Backend.CPU).build()) {
            for (EmbedOptions o : List.of(EmbedOptions.documents(), query())) {
                List<TokenizedInput> a = qwen3.tokenize(TEXTS, o);
                List<TokenizedInput> b = old.tokenize(TEXTS, o);
                for (int i = 0; i < TEXTS.size(); i++) {
                    assertArrayEquals(a.get(i).ids(), b.get(i).ids(), "text " + i);
                }
                float[][] va = qwen3.embed(TEXTS, o).vectors();
                float[][] vb = old.embed(TEXTS, o).vectors();
                for (int i = 0; i < va.length; i++) {
                    assertArrayEquals(va[i], vb[i], "text " + i);
                }
            }
        }
    }

    @Test
    void qwen3QueryFormatHasNoSpaceAfterQuery() {
        try (Tokenizer t = Tokenizer.load(TextModels.qwen3Tokenizer())) {
            int[] body = t.encode("Instruct: " + TASK + "\nQuery:" + "What is the capital of China?", false);
            int[] want = Arrays.copyOf(body, body.length + 1);
            want[body.length] = TextModels.ENDOFTEXT;
            assertArrayEquals(want, qwen3.tokenize(List.of("What is the capital of China?"), query()).get(0).ids());
        }
    }

    @Test
    void llamaQueryFormatHasASpaceAndBeginOfText() {
        assertEquals("llama-embed-nemotron", llama.info().family());
        try (Tokenizer t = Tokenizer.load(TextModels.llamaTokenizer())) {
            int[] body = t.encode("Instruct: " + TASK + "\nQuery: " + "What is the capital of China?", false);
            int[] want = new int[body.length + 1];
            want[0] = TextModels.BEGIN_OF_TEXT;
            System.arraycopy(body, 0, want, 1, body.length);
            TokenizedInput in = llama.tokenize(List.of("What is the capital of China?"), query()).get(0);
            assertArrayEquals(want, in.ids());
            // llama-embed-nemotron pools over the instruction too.
            assertEquals(0, in.poolStart());
        }
    }

    @Test
    void documentsGetNoPrefix() {
        try (Tokenizer t = Tokenizer.load(TextModels.llamaTokenizer())) {
            for (String text : TEXTS) {
                assertArrayEquals(t.encode(text), llama.tokenize(List.of(text), EmbedOptions.documents()).get(0).ids());
            }
        }
    }

    // ------------------------------------------------------------------ texts vs ids

    /** embed(texts) equals embedTokens of exactly the ids tokenize reports, for every option. */
    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "llama"})
    void embedTextsEqualsEmbedTheReportedIds(String which) {
        Embedder e = which.equals("qwen3") ? qwen3 : llama;
        List<EmbedOptions> all = List.of(EmbedOptions.documents(), query(),
                query().toBuilder().optExcludePromptFromPooling(true).optDimensions(16).build(),
                EmbedOptions.builder().optPrompt(Prompt.prefix("passage: ")).optNormalize(false).build());
        for (EmbedOptions o : all) {
            List<TokenizedInput> inputs = e.tokenize(TEXTS, o);
            int[][] ids = inputs.stream().map(TokenizedInput::ids).toArray(int[][]::new);
            int[] poolStart = inputs.stream().mapToInt(TokenizedInput::poolStart).toArray();
            boolean normalize = o.normalize() == null || o.normalize();
            float[][] fromIds = e.embedTokens(ids, poolStart, normalize, o.dimensions());
            Embeddings fromText = e.embed(TEXTS, o);
            for (int i = 0; i < TEXTS.size(); i++) {
                assertArrayEquals(fromIds[i], fromText.vectors()[i], which + " " + o + " text " + i);
            }
            assertEquals(Arrays.stream(ids).mapToLong(a -> a.length).sum(), fromText.tokens());
        }
    }

    @Test
    void documentsAndQueriesShortcuts() {
        assertArrayEquals(qwen3.embed(TEXTS, EmbedOptions.documents()).vectors()[0], qwen3.embedDocuments(TEXTS)[0]);
        assertArrayEquals(qwen3.embed(TEXTS, query()).vectors()[2], qwen3.embedQueries(TASK, TEXTS)[2]);
        assertFalse(Arrays.equals(qwen3.embedDocuments(TEXTS)[0], qwen3.embedQueries(TASK, TEXTS)[0]));
    }

    // ------------------------------------------------------------------ batching

    /** Shuffled inputs, tiny or huge token budgets, one at a time: the same vector for each text. */
    @Test
    void batchOrderAndBudgetNeverChangeResults() {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            texts.add(TEXTS.get(i % TEXTS.size()) + " #" + i);
        }
        float[][] base = qwen3.embed(texts, query()).vectors();
        List<Integer> perm = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            perm.add(i);
        }
        Collections.shuffle(perm, new Random(7));
        List<String> shuffled = perm.stream().map(texts::get).toList();
        float[][] got = qwen3.embed(shuffled, query()).vectors();
        for (int i = 0; i < perm.size(); i++) {
            assertTrue(Goldens.relError(got[i], base[perm.get(i)]) <= 1e-6, "shuffled " + i);
        }
        for (int budget : new int[] {1, 64, 1 << 20}) {
            try (Embedder e = Embedder.builder().setModel(TextModels.qwen3Embedding()).optBackend(Backend.CPU)
                    .optTokenBudget(budget).build()) {
                float[][] v = e.embed(texts, query()).vectors();
                for (int i = 0; i < v.length; i++) {
                    assertTrue(Goldens.relError(v[i], base[i]) <= 1e-6, "budget " + budget + " text " + i);
                }
            }
        }
        for (int i = 0; i < texts.size(); i += 9) {
            float[] alone = qwen3.embed(List.of(texts.get(i)), query()).vectors()[0];
            assertTrue(Goldens.relError(alone, base[i]) <= 1e-6, "alone " + i);
        }
    }

    // ------------------------------------------------------------------ output options

    @ParameterizedTest
    @ValueSource(ints = {1, 32, 63, 64})
    void matryoshkaIsTheRenormalizedPrefix(int dims) {
        float[][] full = llama.embed(TEXTS, query()).vectors();
        float[][] cut = llama.embed(TEXTS, query().toBuilder().optDimensions(dims).build()).vectors();
        for (int t = 0; t < TEXTS.size(); t++) {
            assertEquals(dims, cut[t].length);
            double norm = 0;
            double prefixNorm = 0;
            for (int i = 0; i < dims; i++) {
                norm += (double) cut[t][i] * cut[t][i];
                prefixNorm += (double) full[t][i] * full[t][i];
            }
            assertEquals(1.0, norm, 1e-5);
            float[] expected = new float[dims];
            for (int i = 0; i < dims; i++) {
                expected[i] = (float) (full[t][i] / Math.sqrt(prefixNorm));
            }
            assertTrue(Goldens.relError(cut[t], expected) <= 1e-5, "text " + t);
        }
    }

    @Test
    void dimensionsOutsideTheRangeAreRejected() {
        InvalidInputException zero = assertThrows(InvalidInputException.class, () -> EmbedOptions.builder().optDimensions(0));
        assertTrue(zero.getMessage().contains("at least 1"), zero.getMessage());
        InvalidInputException big = assertThrows(InvalidInputException.class,
                () -> qwen3.embed(TEXTS, EmbedOptions.builder().optDimensions(65).build()));
        assertTrue(big.getMessage().contains("[1, 64]"), big.getMessage());
    }

    @Test
    void normalizationFollowsModulesJsonUnlessTold() throws IOException {
        float[] unit = qwen3.embedDocuments(TEXTS)[0];
        assertEquals(1.0, norm(unit), 1e-5);
        float[] raw = qwen3.embed(TEXTS, EmbedOptions.builder().optNormalize(false).build()).vectors()[0];
        assertTrue(Math.abs(norm(raw) - 1) > 1e-3, "raw pooled vector of norm " + norm(raw));
        // sentence-transformers normalises only with a Normalize module: drop it, get raw vectors.
        Path m = TextModels.copy(TextModels.qwen3Embedding(), tmp.resolve("m"));
        Files.writeString(m.resolve("modules.json"), """
                [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
                """);
        try (Embedder e = Embedder.builder().setModel(m).optBackend(Backend.CPU).build()) {
            assertArrayEquals(raw, e.embedDocuments(TEXTS)[0]);
        }
        try (Embedder e = Embedder.builder().setModel(m).optBackend(Backend.CPU).optNormalize(true).build()) {
            assertArrayEquals(unit, e.embedDocuments(TEXTS)[0]);
        }
    }

    // ------------------------------------------------------------------ prompts from the model folder

    @Test
    void namedPromptsComeFromSentenceTransformersConfig() throws IOException {
        Path m = TextModels.copy(TextModels.qwen3Embedding(), tmp.resolve("m"));
        Files.writeString(m.resolve("config_sentence_transformers.json"), new ObjectMapper().writeValueAsString(
                java.util.Map.of("prompts", java.util.Map.of("query", "Instruct: " + TASK + "\nQuery:", "document", ""),
                        "default_prompt_name", "query")));
        try (Embedder e = Embedder.builder().setModel(m).optBackend(Backend.CPU).build()) {
            EmbedOptions named = EmbedOptions.builder().optPrompt(Prompt.named("query")).build();
            assertArrayEquals(e.tokenize(TEXTS, query()).get(0).ids(), e.tokenize(TEXTS, named).get(0).ids());
            // default_prompt_name applies when no prompt is given, not to documents.
            assertArrayEquals(e.tokenize(TEXTS, query()).get(0).ids(), e.tokenize(TEXTS, EmbedOptions.defaults()).get(0).ids());
            assertArrayEquals(qwen3.tokenize(TEXTS, EmbedOptions.documents()).get(0).ids(),
                    e.tokenize(TEXTS, EmbedOptions.documents()).get(0).ids());
            InvalidInputException unknown = assertThrows(InvalidInputException.class,
                    () -> e.tokenize(TEXTS, EmbedOptions.builder().optPrompt(Prompt.named("passage")).build()));
            assertTrue(unknown.getMessage().contains("query"), "lists the names it has: " + unknown.getMessage());
        }
    }

    /**
     * NV-Embed-style masking on a mean-pooling model: the prompt's tokens are attended to but left
     * out of the mean. Pool start = prompt tokens with special tokens, minus one (here: BOS + prompt
     * - 1 = the prompt's own token count).
     */
    @Test
    void excludingThePromptFromPooling() {
        EmbedOptions exclude = query().toBuilder().optExcludePromptFromPooling(true).build();
        List<TokenizedInput> in = llama.tokenize(TEXTS, exclude);
        int promptTokens;
        try (Tokenizer t = Tokenizer.load(TextModels.llamaTokenizer())) {
            promptTokens = t.encode("Instruct: " + TASK + "\nQuery: ", false).length;
        }
        assertEquals(promptTokens, in.get(0).poolStart());
        float[] masked = llama.embed(TEXTS, exclude).vectors()[0];
        float[] byHand = llama.embedTokens(new int[][] {in.get(0).ids()}, new int[] {promptTokens}, true, 0)[0];
        assertArrayEquals(byHand, masked);
        assertFalse(Arrays.equals(masked, llama.embed(TEXTS, query()).vectors()[0]));
        // An empty query is all prompt: at least its last token stays in the pool.
        TokenizedInput empty = in.get(4);
        assertEquals(empty.ids().length - 1, empty.poolStart());
    }

    @Test
    void includePromptFalseInPoolingConfigExcludesByDefault() throws IOException {
        Path m = TextModels.copy(TextModels.llamaEmbedNemotron(), tmp.resolve("m"));
        Path pooling = m.resolve("1_Pooling/config.json");
        Files.writeString(pooling, Files.readString(pooling).replace("\"include_prompt\": true", "\"include_prompt\": false"));
        try (Embedder e = Embedder.builder().setModel(m).optBackend(Backend.CPU).build()) {
            assertEquals(llama.tokenize(TEXTS, query().toBuilder().optExcludePromptFromPooling(true).build()).get(0).poolStart(),
                    e.tokenize(TEXTS, query()).get(0).poolStart());
            assertEquals(0, e.tokenize(TEXTS, query().toBuilder().optExcludePromptFromPooling(false).build()).get(0).poolStart());
        }
    }

    // ------------------------------------------------------------------ length

    /** The longest accepted input goes through whole; one token more is truncated, or fails. */
    @Test
    void truncationAtTheEdge() {
        String text = "The quick brown fox jumps over the lazy dog. ".repeat(10);
        int whole = qwen3.tokenize(List.of(text), EmbedOptions.documents()).get(0).ids().length;
        try (Embedder fits = Embedder.builder().setModel(TextModels.qwen3Embedding()).optBackend(Backend.CPU)
                        .optMaxLength(whole).optTruncation(Truncation.ERROR).build();
                Embedder cuts = Embedder.builder().setModel(TextModels.qwen3Embedding()).optBackend(Backend.CPU)
                        .optMaxLength(whole - 1).build();
                Embedder fails = Embedder.builder().setModel(TextModels.qwen3Embedding()).optBackend(Backend.CPU)
                        .optMaxLength(whole - 1).optTruncation(Truncation.ERROR).build()) {
            Embeddings ok = fits.embed(List.of(text), EmbedOptions.documents());
            assertEquals(0, ok.truncated());
            assertArrayEquals(qwen3.embedDocuments(List.of(text))[0], ok.vectors()[0]);

            List<String> two = List.of("short", text);
            TokenizedInput cut = cuts.tokenize(two, EmbedOptions.documents()).get(1);
            int[] all = qwen3.tokenize(List.of(text), EmbedOptions.documents()).get(0).ids();
            assertTrue(cut.truncated());
            assertEquals(whole - 1, cut.ids().length);
            // The text loses its last token; the <|endoftext|> the model pools at stays.
            assertArrayEquals(Arrays.copyOf(all, whole - 2), Arrays.copyOf(cut.ids(), whole - 2));
            assertEquals(TextModels.ENDOFTEXT, cut.ids()[whole - 2]);
            assertEquals(1, cuts.embed(two, EmbedOptions.documents()).truncated());

            InputTooLongException e = assertThrows(InputTooLongException.class, () -> fails.embed(two, EmbedOptions.documents()));
            assertEquals(1, e.index());
            assertEquals(whole, e.tokens());
            assertEquals(whole - 1, e.maxLength());
        }
    }

    @Test
    void defaultMaxLengthIsTheModelsContext() {
        int max = qwen3.info().maxPositions();
        TokenizedInput in = qwen3.tokenize(List.of("x".repeat(8 * (max + 10))), EmbedOptions.documents()).get(0);
        assertTrue(in.truncated());
        assertEquals(max, in.ids().length);
    }

    // ------------------------------------------------------------------ edges

    /** An empty string is embedded as its special tokens: <|endoftext|> for Qwen3, <|begin_of_text|> for Llama 3. */
    @Test
    void emptyStrings() {
        assertArrayEquals(new int[] {TextModels.ENDOFTEXT}, qwen3.tokenize(List.of(""), EmbedOptions.documents()).get(0).ids());
        assertArrayEquals(qwen3.embedTokens(new int[][] {{TextModels.ENDOFTEXT}})[0], qwen3.embedDocuments(List.of(""))[0]);
        assertArrayEquals(new int[] {TextModels.BEGIN_OF_TEXT}, llama.tokenize(List.of(""), EmbedOptions.documents()).get(0).ids());
        assertArrayEquals(llama.embedTokens(new int[][] {{TextModels.BEGIN_OF_TEXT}})[0], llama.embedDocuments(List.of(""))[0]);
        assertEquals(0, qwen3.embedDocuments(List.of()).length);
    }

    @Test
    void modelWithoutTokenizerEmbedsIdsOnly() {
        try (Embedder e = Embedder.builder().setModel(Goldens.dir("qwen3-tiny")).optBackend(Backend.CPU).build()) {
            assertFalse(e.hasTokenizer());
            NoTokenizerException ex = assertThrows(NoTokenizerException.class, () -> e.embedDocuments(List.of("hi")));
            assertTrue(ex.getMessage().contains("tokenizer.json"), ex.getMessage());
            assertThrows(NoTokenizerException.class, () -> e.tokenize(List.of("hi"), EmbedOptions.documents()));
            assertEquals(64, e.embedTokens(new int[][] {{1, 2, 3}})[0].length);
        }
        // A tokenizer from elsewhere makes text work.
        try (Embedder e = Embedder.builder().setModel(TextModels.qwen3Embedding()).optBackend(Backend.CPU)
                .optTokenizer(TextModels.qwen3Tokenizer()).build()) {
            assertTrue(e.hasTokenizer());
            assertArrayEquals(qwen3.embedDocuments(TEXTS)[1], e.embedDocuments(TEXTS)[1]);
        }
        assertThrows(ModelNotFoundException.class, () -> Embedder.builder().setModel(TextModels.qwen3Embedding())
                .optTokenizer(tmp.resolve("missing.json")).build());
    }

    @Test
    void badTextInputsAreTyped() {
        List<String> withNull = new ArrayList<>(List.of("a"));
        withNull.add(null);
        assertThrows(InvalidInputException.class, () -> qwen3.embedDocuments(withNull));
        InvalidInputException q = assertThrows(InvalidInputException.class,
                () -> qwen3.embed(TEXTS, EmbedOptions.builder().optPrompt(Prompt.named("nope")).build()));
        assertTrue(q.getMessage().contains("no config_sentence_transformers.json prompts"), q.getMessage());
    }

    /** Sequence errors name the caller's index, whichever sub-batch the sequence was sorted into. */
    @Test
    void idErrorsNameTheCallersIndex() {
        int[][] seqs = {{1, 2, 3}, {4, 5, 6, 7, 8, 9}, {1, TextModels.QWEN3_VOCAB}};
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> qwen3.embedTokens(seqs));
        assertTrue(e.getMessage().startsWith("sequence 2"), e.getMessage());
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }
}
