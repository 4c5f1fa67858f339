package dev.ember.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ember.EmbedOptions;
import dev.ember.Embedder;
import dev.ember.InputTooLongException;
import dev.ember.TokenizedInput;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code ember embed}: texts from the command line, or JSONL lines ({@code {"text": "..."}} or
 * {@code {"ids": [...], "instruction_len": k, "encoder_ids": [...]}}, the last two optional:
 * NV-Embed's instruction masking and Causal2Vec's encoder input) from a file or stdin; one vector
 * per input, in order, as JSONL ({@code {"embedding": [...]}}) or a {@code .npy} matrix.
 *
 * <p>Two passes over the input, so memory stays bounded whatever its size: the first parses and
 * tokenizes every line (any malformed or too-long line fails here, with its line number, before
 * anything is written) and counts tokens for the progress bar; the second embeds chunks of lines
 * and streams the vectors out. Stdin is copied to a temporary file for the second pass. With
 * {@code --output} the file appears only when every line succeeded; on stdout, a failure during
 * the second pass (out of memory, say) leaves the lines already written.
 */
@Command(name = "embed", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Embed texts (arguments, or JSONL lines {\"text\": ...} / {\"ids\": [...]}) into vectors.")
final class EmbedCommand implements Callable<Integer> {
    /** Lines and characters per chunk of the second pass: enough for several full native batches. */
    private static final int CHUNK_LINES = 2048;
    private static final int CHUNK_CHARS = 4 << 20;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Mixin
    TextOptions text;

    @Parameters(paramLabel = "TEXT", arity = "0..*", description = "Texts to embed (instead of --input).")
    List<String> texts;

    @Option(names = "--input", paramLabel = "FILE.jsonl",
            description = "JSONL input, one {\"text\": ...} or {\"ids\": [...], \"instruction_len\": k, "
                    + "\"encoder_ids\": [...]} per line "
                    + "(default: stdin when no TEXT is given).")
    Path input;

    @Option(names = "--output", paramLabel = "FILE", description = "Output file (default: stdout); .npy selects --format npy.")
    Path output;

    @Option(names = "--format", paramLabel = "jsonl|npy", description = "Output format (default: from --output, else jsonl).")
    String format;

    @Option(names = "--dimensions", paramLabel = "N", description = "Matryoshka: keep the first N dimensions, then renormalize.")
    Integer dimensions;

    @Option(names = "--no-normalize", description = "Do not L2-normalise (default: the model's modules.json).")
    boolean noNormalize;

    @Option(names = "--token-budget", paramLabel = "N", description = "Most tokens per native batch (default: 16384).")
    Integer tokenBudget;

    @Option(names = "--progress", description = "Show the progress bar even when stderr is not a terminal.")
    boolean progress;

    @Option(names = {"-q", "--quiet"}, description = "No progress bar.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        boolean positional = texts != null && !texts.isEmpty();
        if (positional && input != null) {
            throw new ParameterException(spec.commandLine(), "give texts as arguments or --input, not both");
        }
        boolean npy = outputFormat();
        if (input != null && !Files.isReadable(input)) {
            throw new BadInputException("cannot read input file " + input);
        }
        if (dimensions != null && dimensions < 1) {
            throw new ParameterException(spec.commandLine(), "--dimensions must be at least 1");
        }
        EmbedOptions.Builder optionsBuilder = text.options();
        if (dimensions != null) {
            optionsBuilder.optDimensions(dimensions);
        }
        if (noNormalize) {
            optionsBuilder.optNormalize(false);
        }
        EmbedOptions options = optionsBuilder.build();
        Embedder.Builder builder = text.configure(model.builder());
        if (tokenBudget != null) {
            if (tokenBudget < 1) {
                throw new ParameterException(spec.commandLine(), "--token-budget must be at least 1");
            }
            builder.optTokenBudget(tokenBudget);
        }

        Path spill = null;
        try (Embedder embedder = builder.build()) {
            if (dimensions != null && dimensions > embedder.dimension()) {
                throw new ParameterException(spec.commandLine(), "--dimensions must be at most the model's embedding size "
                        + embedder.dimension() + ", got " + dimensions);
            }
            Source source;
            if (positional) {
                source = new ArgumentSource(texts);
            } else if (input != null) {
                source = new FileSource(input, input.toString());
            } else {
                // Stdin can be read once; the second pass reads this copy.
                spill = Files.createTempFile("ember-stdin-", ".jsonl");
                Files.copy(System.in, spill, StandardCopyOption.REPLACE_EXISTING);
                source = new FileSource(spill, "stdin");
            }
            Scan scan = scan(embedder, source, options);
            int width = dimensions != null ? dimensions : embedder.dimension();
            if (output == null) {
                OutputStream stdout = new BufferedOutputStream(System.out, 1 << 16);
                writeAll(embedder, source, options, scan, sink(stdout, npy, scan.lines, width));
            } else {
                Path dir = output.toAbsolutePath().getParent();
                Path tmp = Files.createTempFile(dir, ".ember-", ".part");
                try {
                    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                        writeAll(embedder, source, options, scan, sink(out, npy, scan.lines, width));
                    }
                    Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
            if (scan.truncated > 0) {
                System.err.printf(Locale.ROOT, "ember: %d of %d texts were longer than the maximum length and were "
                        + "truncated (--no-truncate makes that an error)%n", scan.truncated, scan.lines);
            }
        } finally {
            if (spill != null) {
                Files.deleteIfExists(spill);
            }
        }
        return 0;
    }

    /** True for .npy output. */
    private boolean outputFormat() {
        String f = format != null ? format.toLowerCase(Locale.ROOT)
                : output != null && output.toString().toLowerCase(Locale.ROOT).endsWith(".npy") ? "npy" : "jsonl";
        return switch (f) {
            case "npy" -> true;
            case "jsonl" -> false;
            default -> throw new ParameterException(spec.commandLine(), "--format must be jsonl or npy, got " + format);
        };
    }

    private static VectorSink sink(OutputStream out, boolean npy, long rows, int width) throws IOException {
        return npy ? VectorSink.npy(out, rows, width)
                : VectorSink.jsonl(new OutputStreamWriter(out, StandardCharsets.UTF_8));
    }

    /** What the first pass learned. */
    private record Scan(long lines, long tokens, long truncated) {}

    /** First pass: every line parsed and tokenized, nothing kept but counts. */
    private Scan scan(Embedder embedder, Source source, EmbedOptions options) throws IOException {
        long lines = 0;
        long tokens = 0;
        long truncated = 0;
        int vocab = embedder.info().vocabSize();
        Boolean withEncoder = null;  // whether ids lines carry "encoder_ids": all of them or none
        try (LineReader in = source.open()) {
            while (in.hasNext()) {
                List<Line> chunk = in.nextChunk();
                for (Line l : chunk) {
                    if (l.ids != null) {
                        if (withEncoder == null) {
                            withEncoder = l.encoderIds != null;
                        } else if (withEncoder != (l.encoderIds != null)) {
                            throw bad(l.where, "either every \"ids\" line has \"encoder_ids\" or none does");
                        }
                        for (int id : l.ids) {
                            if (id < 0 || id >= vocab) {
                                throw bad(l.where, "token id " + id + " is outside the vocabulary [0, " + vocab + ")");
                            }
                        }
                    }
                }
                for (TokenizedInput t : tokenize(embedder, chunk, options)) {
                    lines++;
                    tokens += t.ids().length;
                    truncated += t.truncated() ? 1 : 0;
                }
            }
        }
        return new Scan(lines, tokens, truncated);
    }

    /** Second pass: embed chunk by chunk and stream the vectors out. */
    private void writeAll(Embedder embedder, Source source, EmbedOptions options, Scan scan, VectorSink sink)
            throws IOException {
        boolean show = !quiet && (progress || (source instanceof FileSource && Progress.stderrIsTerminal()));
        Progress bar = new Progress(System.err, show, scan.lines, scan.tokens);
        try (LineReader in = source.open()) {
            while (in.hasNext()) {
                List<TokenizedInput> chunk = tokenize(embedder, in.nextChunk(), options);
                float[][] vectors = embedder.embedTokens(chunk, options);
                long tokens = 0;
                for (int i = 0; i < vectors.length; i++) {
                    sink.write(vectors[i]);
                    tokens += chunk.get(i).ids().length;
                }
                bar.advance(vectors.length, tokens);
            }
        }
        sink.flush();
        bar.finish();
    }

    /** The chunk's lines as model inputs: text lines through the tokenizer (both, for Causal2Vec), ids lines as given. */
    private List<TokenizedInput> tokenize(Embedder embedder, List<Line> chunk, EmbedOptions options) {
        List<String> texts = new ArrayList<>();
        List<Line> textLines = new ArrayList<>();
        for (Line l : chunk) {
            if (l.text != null) {
                texts.add(l.text);
                textLines.add(l);
            }
        }
        List<TokenizedInput> tokenized = List.of();
        try {
            // Only when there is text: ids lines need no tokenizer.
            if (!texts.isEmpty()) {
                tokenized = embedder.tokenize(texts, options);
            }
        } catch (InputTooLongException e) {
            Line l = textLines.get(e.index());
            throw new BadInputException(l.where + ": the text has " + e.tokens() + (e.encoder()
                    ? " encoder tokens, more than the encoder's " + e.maxLength() + " positions"
                    : " tokens, more than the maximum length " + e.maxLength()) + " (--no-truncate; nothing was written)");
        }
        List<TokenizedInput> out = new ArrayList<>(chunk.size());
        int t = 0;
        for (Line l : chunk) {
            if (l.text != null) {
                out.add(tokenized.get(t++));
            } else {
                out.add(new TokenizedInput(l.ids, l.instructionLen, false, l.encoderIds));
            }
        }
        return out;
    }

    /** One input: a text, or ids with the number of leading instruction tokens kept out of pooling. */
    private record Line(String where, String text, int[] ids, int instructionLen, int[] encoderIds) {}

    private interface Source {
        LineReader open() throws IOException;
    }

    private interface LineReader extends Closeable {
        boolean hasNext() throws IOException;

        /** The next lines, at most {@link #CHUNK_LINES} of them and about {@link #CHUNK_CHARS} characters. */
        List<Line> nextChunk() throws IOException;
    }

    private static final class ArgumentSource implements Source {
        private final List<String> texts;

        ArgumentSource(List<String> texts) {
            this.texts = texts;
        }

        @Override
        public LineReader open() {
            Iterator<String> it = texts.iterator();
            return new LineReader() {
                private int n;

                @Override
                public boolean hasNext() {
                    return it.hasNext();
                }

                @Override
                public List<Line> nextChunk() {
                    if (!it.hasNext()) {
                        throw new NoSuchElementException();
                    }
                    List<Line> out = new ArrayList<>();
                    long chars = 0;
                    while (it.hasNext() && out.size() < CHUNK_LINES && chars < CHUNK_CHARS) {
                        String t = it.next();
                        n++;
                        chars += t.length();
                        out.add(new Line("argument " + n, t, null, 0, null));
                    }
                    return out;
                }

                @Override
                public void close() {}
            };
        }
    }

    /** JSONL lines of a file; blank lines are skipped but counted, so line numbers are the file's. */
    private static final class FileSource implements Source {
        private final Path file;
        private final String name;

        FileSource(Path file, String name) {
            this.file = file;
            this.name = name;
        }

        @Override
        public LineReader open() throws IOException {
            BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8);
            ObjectMapper json = new ObjectMapper();
            return new LineReader() {
                private int lineNo;
                private Line pending;

                @Override
                public boolean hasNext() throws IOException {
                    if (pending == null) {
                        pending = readLine();
                    }
                    return pending != null;
                }

                @Override
                public List<Line> nextChunk() throws IOException {
                    if (!hasNext()) {
                        throw new NoSuchElementException();
                    }
                    List<Line> out = new ArrayList<>();
                    long chars = 0;
                    while (hasNext() && out.size() < CHUNK_LINES && chars < CHUNK_CHARS) {
                        chars += pending.text != null ? pending.text.length() : pending.ids.length;
                        out.add(pending);
                        pending = null;
                    }
                    return out;
                }

                private Line readLine() throws IOException {
                    String line;
                    while ((line = reader.readLine()) != null) {
                        lineNo++;
                        if (!line.isBlank()) {
                            return parse(json, line, name + " line " + lineNo);
                        }
                    }
                    return null;
                }

                @Override
                public void close() throws IOException {
                    reader.close();
                }
            };
        }
    }

    private static Line parse(ObjectMapper json, String line, String where) {
        JsonNode node;
        try {
            node = json.readTree(line);
        } catch (IOException e) {
            throw bad(where, "not valid JSON");
        }
        if (node == null || !node.isObject()) {
            throw bad(where, "expected a JSON object");
        }
        JsonNode textNode = node.get("text");
        JsonNode idsNode = node.get("ids");
        if ((textNode == null) == (idsNode == null)) {
            throw bad(where, "expected an object with either \"text\" or \"ids\"");
        }
        if (textNode != null) {
            if (!textNode.isTextual()) {
                throw bad(where, "\"text\" is not a string");
            }
            if (node.has("instruction_len")) {
                throw bad(where, "\"instruction_len\" goes with \"ids\"; for text use --exclude-prompt-from-pooling");
            }
            if (node.has("encoder_ids")) {
                throw bad(where, "\"encoder_ids\" goes with \"ids\"");
            }
            return new Line(where, textNode.asText(), null, 0, null);
        }
        if (!idsNode.isArray()) {
            throw bad(where, "\"ids\" is not an array");
        }
        int[] ids = new int[idsNode.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode id = idsNode.get(i);
            if (!id.isIntegralNumber() || !id.canConvertToInt()) {
                throw bad(where, "ids[" + i + "] is not an integer");
            }
            ids[i] = id.intValue();
        }
        if (ids.length == 0) {
            throw bad(where, "\"ids\" is empty");
        }
        int instructionLen = 0;
        JsonNode il = node.get("instruction_len");
        if (il != null) {
            if (!il.isIntegralNumber() || !il.canConvertToInt() || il.intValue() < 0 || il.intValue() >= ids.length) {
                throw bad(where, "\"instruction_len\" must be an integer in [0, " + ids.length + ")");
            }
            instructionLen = il.intValue();
        }
        // Causal2Vec: the encoder tokenizer's ids of the same text.
        int[] encoderIds = null;
        JsonNode enc = node.get("encoder_ids");
        if (enc != null) {
            if (!enc.isArray() || enc.isEmpty()) {
                throw bad(where, "\"encoder_ids\" must be a non-empty array");
            }
            encoderIds = new int[enc.size()];
            for (int i = 0; i < encoderIds.length; i++) {
                JsonNode id = enc.get(i);
                if (!id.isIntegralNumber() || !id.canConvertToInt()) {
                    throw bad(where, "encoder_ids[" + i + "] is not an integer");
                }
                encoderIds[i] = id.intValue();
            }
        }
        return new Line(where, null, ids, instructionLen, encoderIds);
    }

    private static BadInputException bad(String where, String what) {
        return new BadInputException(where + ": " + what + " (nothing was written)");
    }
}
