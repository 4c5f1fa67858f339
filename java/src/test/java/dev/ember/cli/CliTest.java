package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ember.Backend;
import dev.ember.EmbedOptions;
import dev.ember.Embedder;
import dev.ember.TextModels;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line: embed and tokenize on a tiny model with the real Qwen3 tokenizer. */
class CliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TASK = "Given a question, retrieve passages that answer it";

    private static Path qwen3;
    private static Path llama;
    private static Embedder api;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() {
        qwen3 = TextModels.qwen3Embedding();
        llama = TextModels.llamaEmbedNemotron();
        api = Embedder.builder().setModel(qwen3).optBackend(Backend.CPU).build();
    }

    @AfterAll
    static void close() {
        api.close();
    }

    record Result(int code, String out, byte[] outBytes, String err) {}

    /** Runs the command line in this JVM with stdin, stdout and stderr redirected. */
    private static synchronized Result run(InputStream stdin, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        InputStream oldIn = System.in;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            System.setIn(stdin);
            int code = Main.run(args);
            System.out.flush();
            System.err.flush();
            return new Result(code, out.toString(StandardCharsets.UTF_8), out.toByteArray(), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
            System.setIn(oldIn);
        }
    }

    private static Result run(String... args) {
        return run(new ByteArrayInputStream(new byte[0]), args);
    }

    private static String[] withModel(Path model, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add(1, "--model");
        all.add(2, model.toString());
        all.add(3, "--backend");
        all.add(4, "cpu");
        return all.toArray(new String[0]);
    }

    private static float[][] jsonlVectors(String out) throws IOException {
        List<float[]> rows = new ArrayList<>();
        for (String line : out.split("\n")) {
            if (!line.isBlank()) {
                JsonNode e = JSON.readTree(line).get("embedding");
                float[] v = new float[e.size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) e.get(i).asDouble();
                }
                rows.add(v);
            }
        }
        return rows.toArray(new float[0][]);
    }

    /** Reads a .npy of little-endian float32 rows, checking the header. */
    static float[][] npy(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals((byte) 0x93, b.get());
        byte[] magic = new byte[5];
        b.get(magic);
        assertEquals("NUMPY", new String(magic, StandardCharsets.US_ASCII));
        assertEquals(1, b.get());
        assertEquals(0, b.get());
        int headerLen = Short.toUnsignedInt(b.getShort());
        assertEquals(0, (10 + headerLen) % 64, "header padded to 64 bytes");
        String header = new String(bytes, 10, headerLen, StandardCharsets.US_ASCII);
        Matcher m = Pattern.compile("'descr': '<f4', 'fortran_order': False, 'shape': \\((\\d+), (\\d+)\\)").matcher(header);
        assertTrue(m.find(), header);
        int rows = Integer.parseInt(m.group(1));
        int cols = Integer.parseInt(m.group(2));
        assertEquals(10 + headerLen + (long) rows * cols * 4, bytes.length);
        b.position(10 + headerLen);
        float[][] out = new float[rows][cols];
        for (float[] r : out) {
            b.asFloatBuffer().get(r);
            b.position(b.position() + cols * 4);
        }
        return out;
    }

    private static void assertClose(float[][] expected, float[][] got, String what) {
        assertEquals(expected.length, got.length, what + ": rows");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i].length, got[i].length, what + ": width of row " + i);
            for (int j = 0; j < expected[i].length; j++) {
                assertEquals(expected[i][j], got[i][j], 1e-6, what + ": row " + i + " col " + j);
            }
        }
    }

    @Test
    void embedArgumentsAsJsonl() throws IOException {
        List<String> texts = List.of("Hello world, embeddings!", "你好，世界", "");
        Result r = run(withModel(qwen3, "embed", texts.get(0), texts.get(1), texts.get(2)));
        assertEquals(0, r.code, r.err);
        assertClose(api.embed(texts, EmbedOptions.defaults()).vectors(), jsonlVectors(r.out), "embed args");
        assertFalse(r.err.contains("texts/s"), "no progress bar when stderr is not a terminal: " + r.err);
    }

    @Test
    void optionsReachTheApi() throws IOException {
        List<String> texts = List.of("What is Ember?", "Where is Paris?");
        Result r = run(withModel(qwen3, "embed", "--instruction", TASK, "--dimensions", "16", texts.get(0), texts.get(1)));
        assertEquals(0, r.code, r.err);
        assertClose(api.embed(texts, EmbedOptions.query(TASK).toBuilder().optDimensions(16).build()).vectors(),
                jsonlVectors(r.out), "--instruction --dimensions");
        Result raw = run(withModel(qwen3, "embed", "--prefix", "passage: ", "--no-normalize", texts.get(0)));
        assertEquals(0, raw.code, raw.err);
        assertClose(api.embed(texts.subList(0, 1), EmbedOptions.builder().optPrompt(dev.ember.Prompt.prefix("passage: "))
                .optNormalize(false).build()).vectors(), jsonlVectors(raw.out), "--prefix --no-normalize");
    }

    @Test
    void badOptionsAreUsageErrors() {
        Result two = run(withModel(qwen3, "embed", "--instruction", TASK, "--prefix", "x", "text"));
        assertEquals(2, two.code);
        assertTrue(two.err.contains("at most one"), two.err);
        Result dims = run(withModel(qwen3, "embed", "--dimensions", "65", "text"));
        assertEquals(2, dims.code);
        assertTrue(dims.err.contains("64"), dims.err);
        Result name = run(withModel(qwen3, "embed", "--prompt-name", "query", "text"));
        assertEquals(1, name.code);
        assertTrue(name.err.contains("no prompt named \"query\""), name.err);
        Result rope = run(withModel(qwen3, "embed", "--rope-scaling", "warp:9", "text"));
        assertEquals(2, rope.code);
        assertTrue(rope.err.contains("unknown RoPE scaling \"warp:9\""), rope.err);
        Result factor = run(withModel(qwen3, "embed", "--rope-scaling", "ntk:0.5", "text"));
        assertEquals(2, factor.code);
        assertTrue(factor.err.contains("factor"), factor.err);
        Result se = run(withModel(qwen3, "embed", "--self-extend", "9", "text"));
        assertEquals(2, se.code);
        assertTrue(se.err.contains("GROUP,WINDOW"), se.err);
        Result theta = run(withModel(qwen3, "embed", "--rope-theta", "0.5", "text"));
        assertEquals(2, theta.code);
        assertTrue(theta.err.contains("theta"), theta.err);
        Result scaling = run(withModel(qwen3, "embed", "--attention-scaling", "1", "text"));
        assertEquals(2, scaling.code);
        assertTrue(scaling.err.contains("attention scaling"), scaling.err);
        Result precision = run(withModel(qwen3, "embed", "--cuda-precision", "fp16", "text"));
        assertEquals(2, precision.code);
        assertTrue(precision.err.contains("expected fast or fp32"), precision.err);
        Result graphs = run(withModel(qwen3, "embed", "--cuda-graphs", "yes", "text"));
        assertEquals(2, graphs.code);
        assertTrue(graphs.err.contains("expected on or off"), graphs.err);
    }

    /** The CUDA flags parse and load (the CPU backend ignores them: the same vectors as without). */
    @Test
    void cudaFlagsAreAcceptedAndIgnoredOnTheCpu() throws IOException {
        Result plain = run(withModel(qwen3, "embed", "text"));
        Result flags = run(withModel(qwen3, "embed", "--device", "0", "--cuda-precision", "fp32",
                "--cuda-graphs", "off", "--cublaslt", "on", "text"));
        assertEquals(0, plain.code, plain.err);
        assertEquals(0, flags.code, flags.err);
        assertEquals(plain.out, flags.out);
    }

    /** The long-context flags reach the API: same vectors as the builder options, shown by info. */
    @Test
    void longContextFlagsReachTheApi() throws IOException {
        List<String> texts = List.of("What is Ember? ".repeat(40));
        Result r = run(withModel(qwen3, "embed", "--rope-scaling", "ntk:4", "--self-extend", "4,16", "--max-length",
                "2048", texts.get(0)));
        assertEquals(0, r.code, r.err);
        try (Embedder e = Embedder.builder().setModel(qwen3).optBackend(Backend.CPU).optRopeScaling("ntk:4")
                .optSelfExtend(4, 16).optMaxLength(2048).build()) {
            assertClose(e.embed(texts, EmbedOptions.defaults()).vectors(), jsonlVectors(r.out), "--rope-scaling --self-extend");
        }
        Result info = run(withModel(qwen3, "info", "--rope-theta", "1e5", "--self-extend", "9,512"));
        assertEquals(0, info.code, info.err);
        JsonNode backbone = JSON.readTree(info.out).get("recognized").get("backbone");
        assertEquals(9, backbone.get("self_extend").get("group").asInt(), info.out);
        assertEquals(512, backbone.get("self_extend").get("window").asInt(), info.out);
        assertEquals(1e5, backbone.get("rope").get("theta").asDouble(), info.out);
    }

    /** convert writes a GGUF file that embeds text alone, as the folder does; synth makes loadable models. */
    @Test
    void convertAndSynth() throws IOException {
        Path gguf = tmp.resolve("qwen3.gguf");
        Result conv = run("convert", "--model", qwen3.toString(), "--out", gguf.toString(), "--type", "f32");
        assertEquals(0, conv.code, conv.err);
        assertTrue(conv.err.contains("wrote"), conv.err);
        List<String> texts = List.of("Hello world, embeddings!", "你好，世界");
        Result r = run(withModel(gguf, "embed", texts.get(0), texts.get(1)));
        assertEquals(0, r.code, r.err);
        float[][] expected = api.embed(texts, EmbedOptions.defaults()).vectors();
        float[][] got = jsonlVectors(r.out);
        for (int i = 0; i < expected.length; i++) {
            assertArrayEquals(expected[i], got[i], 1e-5f, "GGUF text " + i);
        }
        Result badType = run("convert", "--model", qwen3.toString(), "--out", gguf.toString(), "--type", "q5_k");
        assertEquals(2, badType.code);
        assertTrue(badType.err.contains("q6_k"), badType.err);
        Result missing = run("convert", "--model", tmp.resolve("none").toString(), "--out", gguf.toString());
        assertEquals(1, missing.code);
        assertTrue(missing.err.contains("ModelNotFoundException"), missing.err);

        Path tiny = tmp.resolve("tiny.gguf");
        Result synth = run("synth", "--like", "tiny", "--out", tiny.toString(), "--dtype", "q4_0", "--seed", "3");
        assertEquals(0, synth.code, synth.err);
        try (Embedder e = Embedder.builder().setModel(tiny).optBackend(Backend.CPU).build()) {
            assertEquals("q4_0", e.info().weightDtype());
        }
        Result folder = run("synth", "--like", "tiny", "--out", tmp.resolve("dir").toString(), "--dtype", "q8_0");
        assertEquals(2, folder.code);
        assertTrue(folder.err.contains("f32, f16 or bf16"), folder.err);
        Result shape = run("synth", "--like", "qwen3-1b", "--out", tiny.toString());
        assertEquals(2, shape.code);
        assertTrue(shape.err.contains("qwen3-0.6b"), shape.err);
    }

    /** The ids tokenize prints, fed back to embed, give the vectors embed gives for the texts. */
    @Test
    void tokenizeThenEmbedIdsEqualsEmbedTexts() throws IOException {
        for (Path model : List.of(qwen3, llama)) {
            String[] texts = {"What is the capital of China?", "Explain gravity", ""};
            String[] prompt = {"--instruction", TASK, "--exclude-prompt-from-pooling"};
            Result tok = run(withModel(model, concat(new String[] {"tokenize"}, concat(prompt, texts))));
            assertEquals(0, tok.code, tok.err);
            List<String> lines = tok.out.lines().toList();
            assertEquals(3, lines.size(), tok.out);
            JsonNode first = JSON.readTree(lines.get(0));
            assertTrue(first.get("instruction_len").asInt() > 0, lines.get(0));
            Path ids = tmp.resolve("ids.jsonl");
            Files.write(ids, lines);
            Result fromIds = run(withModel(model, "embed", "--input", ids.toString()));
            Result fromTexts = run(withModel(model, concat(new String[] {"embed"}, concat(prompt, texts))));
            assertEquals(0, fromIds.code, fromIds.err);
            assertEquals(0, fromTexts.code, fromTexts.err);
            assertEquals(fromTexts.out, fromIds.out, model.toString());
        }
    }

    /** A model folder without tokenizer.json: ids lines work, text fails clearly. */
    @Test
    void idsLinesNeedNoTokenizer() throws IOException {
        Path model = dev.ember.Goldens.dir("qwen3-tiny");
        Path fixture = dev.ember.Goldens.repo().resolve("tests/fixtures/ids.jsonl");
        Result r = run(withModel(model, "embed", "--input", fixture.toString()));
        assertEquals(0, r.code, r.err);
        List<String> lines = Files.readAllLines(fixture).stream().filter(l -> !l.isBlank()).toList();
        int[][] ids = new int[lines.size()][];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = JSON.readValue(lines.get(i), IdsLine.class).ids();
        }
        try (Embedder e = Embedder.builder().setModel(model).optBackend(Backend.CPU).build()) {
            assertClose(e.embedTokens(ids), jsonlVectors(r.out), "ids fixture");
        }
        Result text = run(withModel(model, "embed", "some text"));
        assertEquals(1, text.code);
        assertTrue(text.err.contains("NoTokenizerException") && text.err.contains("tokenizer.json"), text.err);
    }

    record IdsLine(int[] ids) {}

    @Test
    void tokenizeShowsPromptAndSpecialTokens() throws IOException {
        Result r = run(withModel(qwen3, "tokenize", "Hello world, embeddings!"));
        assertEquals(0, r.code, r.err);
        assertEquals("{\"ids\":[9707,1879,11,70547,0,151643]}", r.out.strip());
        Result cut = run(withModel(qwen3, "tokenize", "--max-length", "3", "Hello world, embeddings!"));
        assertEquals("{\"ids\":[9707,1879,151643],\"truncated\":true}", cut.out.strip());
    }

    /** Text and ids lines mixed, from stdin, to a .npy on stdout. */
    @Test
    void stdinMixedLinesToNpy() throws IOException {
        List<String> texts = List.of("first text", "second, longer text with more words", "third");
        int[] ids = api.tokenize(List.of(texts.get(1)), EmbedOptions.defaults()).get(0).ids();
        String input = JSON.writeValueAsString(java.util.Map.of("text", texts.get(0))) + "\n\n"
                + JSON.writeValueAsString(java.util.Map.of("ids", ids)) + "\n"
                + JSON.writeValueAsString(java.util.Map.of("text", texts.get(2))) + "\n";
        Result r = run(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)),
                withModel(qwen3, "embed", "--format", "npy"));
        assertEquals(0, r.code, r.err);
        assertClose(api.embed(texts, EmbedOptions.defaults()).vectors(), npy(r.outBytes), "stdin -> npy");
    }

    /** One bad line anywhere: exit code 2, its line number, no output file, an old one untouched. */
    @Test
    void malformedLineWritesNothing() throws IOException {
        String[] bad = {
            "{\"txt\": \"typo\"}", "not json", "{\"ids\": [1, 2, 151669]}", "{\"ids\": []}",
            "{\"text\": 42}", "{\"ids\": [1, 2], \"instruction_len\": 2}", "{\"text\": \"a\", \"ids\": [1]}"
        };
        for (String line : bad) {
            List<String> lines = new ArrayList<>();
            for (int i = 1; i <= 3000; i++) {
                lines.add(i == 2500 ? line : "{\"text\": \"line " + i + "\"}");
            }
            lines.add(10, "");
            Path in = tmp.resolve("in.jsonl");
            Files.write(in, lines);
            Path out = tmp.resolve("out.jsonl");
            Files.writeString(out, "old\n");
            Result r = run(withModel(qwen3, "embed", "--input", in.toString(), "--output", out.toString()));
            assertEquals(2, r.code, line + ": " + r.err);
            assertTrue(r.err.contains("line 2501"), line + ": " + r.err);
            assertTrue(r.err.contains("nothing was written"), r.err);
            assertEquals("old\n", Files.readString(out));
            try (var files = Files.list(tmp)) {
                assertEquals(List.of(), files.filter(f -> f.getFileName().toString().endsWith(".part")).toList());
            }
        }
    }

    @Test
    void longInputsTruncateWithAWarningOrFail() throws IOException {
        Path in = tmp.resolve("in.jsonl");
        Files.write(in, List.of("{\"text\": \"short\"}", "{\"text\": \"a much longer text than eight tokens, surely\"}"));
        Result warned = run(withModel(qwen3, "embed", "--max-length", "8", "--input", in.toString()));
        assertEquals(0, warned.code, warned.err);
        assertEquals(2, jsonlVectors(warned.out).length);
        assertTrue(warned.err.contains("1 of 2 texts were longer"), warned.err);
        Result failed = run(withModel(qwen3, "embed", "--max-length", "8", "--no-truncate", "--input", in.toString()));
        assertEquals(2, failed.code);
        assertTrue(failed.err.contains("line 2") && failed.err.contains("more than the maximum length 8"), failed.err);
        assertEquals("", failed.out);
    }

    @Test
    void progressBarOnlyWhenAsked() throws IOException {
        Path in = tmp.resolve("in.jsonl");
        Files.write(in, List.of("{\"text\": \"one\"}", "{\"text\": \"two\"}"));
        Result plain = run(withModel(qwen3, "embed", "--input", in.toString()));
        assertFalse(plain.err.contains("texts/s"), plain.err);
        Result forced = run(withModel(qwen3, "embed", "--progress", "--input", in.toString()));
        assertTrue(forced.err.contains("2/2 texts") && forced.err.contains("tokens/s"), forced.err);
        Result quiet = run(withModel(qwen3, "embed", "--progress", "--quiet", "--input", in.toString()));
        assertFalse(quiet.err.contains("texts/s"), quiet.err);
    }

    /**
     * 10,000 short texts through the real command line in its own JVM with a 64 MB heap: a
     * progress bar, and the vectors the API gives.
     */
    @Test
    void bulkTenThousandTexts() throws Exception {
        List<String> texts = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            String t = "Short text number " + i + (i % 3 == 0 ? " about embeddings" : i % 3 == 1 ? " 关于嵌入" : " 🚀");
            texts.add(t);
            lines.add(JSON.writeValueAsString(java.util.Map.of("text", t)));
        }
        Path in = tmp.resolve("bulk.jsonl");
        Files.write(in, lines);
        Path out = tmp.resolve("bulk.npy");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx64m", "-cp", System.getProperty("java.class.path"),
                "dev.ember.cli.Main"));
        cmd.addAll(List.of(withModel(qwen3, "embed", "--input", in.toString(), "--output", out.toString(), "--progress",
                "--threads", "2")));
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        byte[] err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES));
        String stderr = new String(err, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), stderr);
        assertTrue(stderr.contains("10000/10000 texts") && stderr.contains("texts/s") && stderr.contains("tokens/s"), stderr);
        assertTrue(stderr.contains("ETA"), "the bar redraws with an estimate while it runs: " + stderr);
        assertClose(api.embed(texts, EmbedOptions.defaults()).vectors(), npy(Files.readAllBytes(out)), "bulk");
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = new String[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
