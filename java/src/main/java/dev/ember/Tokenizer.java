package dev.ember;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * A Hugging Face {@code tokenizer.json} (or a GGUF file's tokenizer, rebuilt as one), run by Hugging Face's own Rust implementation (through
 * DJL's bindings), so ids are exactly what {@code transformers} gives for the same file.
 *
 * <p>Nothing is truncated or padded here, whatever the file says: an {@link Embedder} decides
 * about length. Thread-safe; {@link #close()} waits for calls in flight.
 */
public final class Tokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final Path file;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    private Tokenizer(HuggingFaceTokenizer tokenizer, Path file) {
        this.tokenizer = tokenizer;
        this.file = file;
    }

    /**
     * Loads a {@code tokenizer.json} file, the one in a model folder, or the tokenizer a GGUF file
     * carries ({@code tokenizer.ggml.*}: gpt2-style byte-level BPE with the {@code qwen2} or
     * {@code llama-bpe} pre-tokenizer, rebuilt as the tokenizer.json it was converted from, so ids
     * match the original folder's).
     *
     * @throws ModelNotFoundException     when there is no such file, or the GGUF file has no tokenizer
     * @throws MalformedModelException    when the file is not a tokenizer Hugging Face can load
     * @throws UnsupportedModelException  for a GGUF tokenizer of another kind or pre-tokenizer
     */
    public static Tokenizer load(Path path) {
        Objects.requireNonNull(path, "path");
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) {
            throw new ModelNotFoundException("no tokenizer file " + file);
        }
        try {
            if (isGguf(file)) {
                String json = GgufTokenizer.tokenizerJson(file);
                try (InputStream in = new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8))) {
                    return new Tokenizer(HuggingFaceTokenizer.newInstance(in, OPTIONS), file);
                }
            }
            return new Tokenizer(HuggingFaceTokenizer.newInstance(file, OPTIONS), file);
        } catch (EmberException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new MalformedModelException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    // Every length decision belongs to the Embedder: switch off the file's own truncation and
    // padding sections, and the default max length DJL would otherwise apply.
    private static final Map<String, String> OPTIONS = Map.of(
            "addSpecialTokens", "true",
            "truncation", "false",
            "padding", "false",
            "modelMaxLength", String.valueOf(Integer.MAX_VALUE));

    /** Whether {@code file} starts with the GGUF magic. */
    static boolean isGguf(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F';
        }
    }

    /** The ids of {@code text} with the special tokens the file's post-processor adds. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * The ids of {@code text}; with {@code addSpecialTokens} the file's post-processor adds its
     * special tokens (BOS for Llama 3, {@code <|endoftext|>} at the end for Qwen3-Embedding).
     * Special tokens written in the text itself ({@code "<|endoftext|>"}) are recognized either way,
     * as in {@code transformers}.
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        Objects.requireNonNull(text, "text");
        return locked(() -> toInts(tokenizer.encode(text, addSpecialTokens, false).getIds()));
    }

    /** {@link #encode(String, boolean)} for many texts at once (the Rust side runs them in parallel). */
    public int[][] encode(List<String> texts, boolean addSpecialTokens) {
        Objects.requireNonNull(texts, "texts");
        String[] array = new String[texts.size()];
        for (int i = 0; i < array.length; i++) {
            array[i] = texts.get(i);
            if (array[i] == null) {
                throw new NullPointerException("texts[" + i + "] is null");
            }
        }
        return locked(() -> {
            var encodings = tokenizer.batchEncode(array, addSpecialTokens, false);
            int[][] out = new int[encodings.length][];
            for (int i = 0; i < out.length; i++) {
                out[i] = toInts(encodings[i].getIds());
            }
            return out;
        });
    }

    /**
     * Where the first {@code tokens} tokens of {@code encode(text, false)} end in {@code text}: the
     * index (in Java chars) just past the last character they cover, to cut a text where a
     * truncation cut its ids.
     */
    int endOfTokens(String text, int tokens) {
        Objects.requireNonNull(text, "text");
        return locked(() -> {
            CharSpan[] spans = tokenizer.encode(text, false, false).getCharTokenSpans();
            int end = 0;
            for (int t = 0; t < Math.min(tokens, spans.length); t++) {
                if (spans[t] != null) {
                    end = Math.max(end, spans[t].getEnd());
                }
            }
            // The Rust side counts Unicode code points; a Java index counts UTF-16 chars.
            return text.offsetByCodePoints(0, Math.min(end, text.codePointCount(0, text.length())));
        });
    }

    /** The id of a token that encodes to exactly one id (a special token such as {@code "</s>"}). */
    public OptionalInt tokenId(String token) {
        int[] ids = encode(token, false);
        return ids.length == 1 ? OptionalInt.of(ids[0]) : OptionalInt.empty();
    }

    /** Frees the native tokenizer after calls in flight finish. Idempotent. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                tokenizer.close();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "Tokenizer[" + file + "]";
    }

    private <T> T locked(Supplier<T> call) {
        lock.readLock().lock();
        try {
            if (closed) {
                throw new EmberClosedException("the tokenizer " + file + " is closed");
            }
            return call.get();
        } finally {
            lock.readLock().unlock();
        }
    }

    private static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }
}
