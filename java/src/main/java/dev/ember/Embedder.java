package dev.ember;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ember.internal.NativeModel;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Computes embeddings with one loaded model.
 *
 * <pre>{@code
 * try (Embedder embedder = Embedder.builder().setModel(Path.of("Qwen3-Embedding-0.6B")).build()) {
 *     float[][] docs = embedder.embedDocuments(List.of("Ember runs decoder LLMs.", "Paris is in France."));
 *     float[][] queries = embedder.embedQueries("Given a question, retrieve passages that answer it",
 *             List.of("Where is Paris?"));
 * }
 * }</pre>
 *
 * <p>API shape: everything reduces to one batch method per input kind, as in langchain4j's
 * {@code EmbeddingModel}: {@link #embed(List, EmbedOptions)} for texts (it returns the vectors with
 * how many inputs were truncated) and {@link #embedTokens(int[][], int[], boolean, int)} for token
 * ids. {@link #embedDocuments} and {@link #embedQueries} are the two common calls, spelled out. The
 * way each family expects its input (query format, special tokens, which tokens count in pooling)
 * comes from the model folder and {@link ModelInfo#family()}; {@link EmbedOptions} and {@link Prompt}
 * say what to change.
 *
 * <p>Text needs the model folder's {@code tokenizer.json}, the tokenizer a GGUF file carries (gpt2-style
 * BPE with the {@code qwen2} or {@code llama-bpe} pre-tokenizer, see {@link Tokenizer#load}), or
 * {@link Builder#optTokenizer}; Causal2Vec also needs its encoder's tokenizer (the folder's
 * {@code encoder/tokenizer.json} or {@code encoder_tokenizer.json}, or {@link
 * Builder#optEncoderTokenizer}), which encodes the same text for the encoder. Without them the text
 * methods throw {@link NoTokenizerException} and token ids still work. Inputs longer
 * than the maximum length ({@link Builder#optMaxLength}, default the model's trained context) are
 * truncated, or rejected with {@link Truncation#ERROR}. An empty string is embedded as the prompt
 * and special tokens alone (Qwen3-Embedding: {@code <|endoftext|>}; Llama 3:
 * {@code <|begin_of_text|>}); when that leaves no token at all it is an {@link InvalidInputException}.
 *
 * <p>Batching: a call may hold any number of inputs. They are sorted by length and sent to the
 * native model in ragged batches of at most {@link Builder#optTokenBudget} tokens (a longer input
 * goes alone), which bounds the native working memory; results come back in input order and do not
 * depend on how inputs were grouped.
 *
 * <p>Thread-safe: any number of threads may call the embed methods at once. {@link #close()} waits
 * for calls in flight, frees the native model, and makes later calls throw {@link
 * EmberClosedException}. An Embedder that is never closed is freed by a {@link Cleaner} with a
 * warning; close it explicitly (try-with-resources).
 */
public final class Embedder implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Embedder.class);
    private static final Cleaner CLEANER = Cleaner.create();
    /** Embedders freed by the Cleaner because nobody closed them (read by the tests). */
    static final AtomicLong UNCLOSED_FREED = new AtomicLong();

    /** Tokens per native call unless the builder says otherwise: keeps every core busy, bounds memory. */
    static final int DEFAULT_TOKEN_BUDGET = 16384;

    private final NativeModel model;
    private final ModelInfo info;
    private final boolean normalize;
    private final int tokenBudget;
    private final TextEncoder text;
    /**
     * Why text does not work when a tokenizer.json is there (a GGUF file's own tokenizer cannot be
     * used, Causal2Vec has no encoder tokenizer), as NoTokenizerException says it; null otherwise.
     */
    private final String noTokenizerReason;
    private final Path path;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final LeakGuard guard;
    private final Cleaner.Cleanable cleanable;
    private boolean closed;

    private Embedder(Builder b) {
        this.path = b.model;
        this.tokenBudget = b.tokenBudget;
        this.model = NativeModel.load(b.model.toString(), b.backend, b.threads, b.device,
                new NativeModel.LongContext(b.ropeScaling, b.ropeTheta, b.selfExtend, b.attentionScaling),
                new NativeModel.CudaOptions(b.cudaPrecision, b.cudaGraphs, b.cublasLt));
        this.info = model.info();
        this.guard = new LeakGuard(model, b.model.toString());
        this.cleanable = CLEANER.register(this, guard);
        try {
            ModelPrompts prompts = ModelPrompts.read(b.model, info.family());
            this.normalize = b.normalize != null ? b.normalize : prompts.normalize();
            String[] why = new String[1];
            this.text = loadText(b, prompts, why);
            this.noTokenizerReason = why[0];
            guard.text = text;
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        LOG.info("loaded {} ({}, {} layers, hidden {}) on {} from {}{}", info.family(), info.architecture(),
                info.numLayers(), info.hiddenSize(), info.backend(), b.model,
                text == null ? " (no tokenizer: token ids only)" : "");
    }

    /**
     * The text path: the tokenizer given, else the folder's tokenizer.json, else the tokenizer a
     * GGUF file carries; for a model with an encoder (Causal2Vec) also the encoder's tokenizer. A
     * GGUF file whose tokenizer is absent or of a kind Ember cannot rebuild, or a Causal2Vec model
     * without an encoder tokenizer, still loads (token ids work); {@code why[0]} then says why
     * text does not.
     */
    private TextEncoder loadText(Builder b, ModelPrompts prompts, String[] why) {
        int encoderMaxLength = encoderMaxPositions();
        if (b.encoderTokenizer != null && encoderMaxLength == 0) {
            throw new UnsupportedModelException("an encoder tokenizer was given, but " + b.model + " (" + info.family()
                    + ") has no encoder: only Causal2Vec models take one");
        }
        boolean gguf = b.tokenizer == null && !Files.isDirectory(b.model);
        Path file = b.tokenizer != null ? b.tokenizer
                : gguf ? b.model : b.model.resolve("tokenizer.json");
        if (b.tokenizer == null && !Files.exists(file)) {
            return null;
        }
        Path encoderFile = null;
        if (encoderMaxLength > 0) {
            encoderFile = b.encoderTokenizer != null ? b.encoderTokenizer : encoderTokenizerIn(b.model);
            if (encoderFile == null) {
                why[0] = "text for " + b.model + " (" + info.family() + ") needs the encoder's tokenizer too, and "
                        + "there is none: no encoder/tokenizer.json or encoder_tokenizer.json in the folder; give one "
                        + "with Embedder.Builder.optEncoderTokenizer (command line: --encoder-tokenizer); token ids "
                        + "work (embedTokens with encoder ids)";
                LOG.info("{}: text is not available, token ids are: no encoder tokenizer", b.model);
                return null;
            }
        }
        int maxLength = b.maxLength > 0 ? b.maxLength : info.maxPositions();
        if (maxLength > info.maxPositions() && !b.extendsContext()) {
            LOG.warn("max length {} is longer than the {} positions {} was trained for", maxLength,
                    info.maxPositions(), b.model);
        }
        Tokenizer tokenizer;
        try {
            tokenizer = Tokenizer.load(file);
        } catch (ModelNotFoundException | UnsupportedModelException e) {
            if (!gguf) {
                throw e;
            }
            why[0] = e.getMessage() + "; embed token ids with embedTokens, or give a tokenizer with "
                    + "Embedder.Builder.optTokenizer";
            LOG.info("{}: text is not available, token ids are: {}", b.model, e.getMessage());
            return null;
        }
        Tokenizer encoderTokenizer = null;
        try {
            if (encoderFile != null) {
                encoderTokenizer = Tokenizer.load(encoderFile);
                LOG.debug("{}: encoder tokenizer {}, encoder inputs up to {} tokens", b.model, encoderFile,
                        encoderMaxLength);
            }
            return new TextEncoder(tokenizer, encoderTokenizer, encoderMaxLength, prompts, maxLength, b.truncation);
        } catch (RuntimeException e) {
            tokenizer.close();
            if (encoderTokenizer != null) {
                encoderTokenizer.close();
            }
            throw e;
        }
    }

    /**
     * The encoder's positions (its longest input) when the model has an encoder, as the native side
     * read them from config.json (describe()'s {@code encoder.max_positions}); 0 without one.
     */
    private int encoderMaxPositions() {
        try {
            JsonNode encoder = new ObjectMapper().readTree(model.describe()).get("encoder");
            if (encoder == null || !encoder.isObject()) {
                return 0;
            }
            int positions = encoder.path("max_positions").asInt(0);
            if (positions < 1) {
                throw new MalformedModelException(path + ": the encoder's max_positions is missing from describe()");
            }
            return positions;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("describe() returned invalid JSON", e);
        }
    }

    /** A Causal2Vec folder's encoder tokenizer: {@code encoder/tokenizer.json}, else {@code encoder_tokenizer.json}. */
    private static Path encoderTokenizerIn(Path model) {
        if (!Files.isDirectory(model)) {
            return null;
        }
        for (Path candidate : new Path[] {model.resolve("encoder").resolve("tokenizer.json"),
                model.resolve("encoder_tokenizer.json")}) {
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Width of the vectors {@link #embedTokens} returns without Matryoshka truncation. */
    public int dimension() {
        return info.embeddingSize();
    }

    public ModelInfo info() {
        return info;
    }

    /** Whether text can be embedded (the tokenizers the model needs were found or given). */
    public boolean hasTokenizer() {
        return text != null;
    }

    /**
     * Embeds texts: the one batch method for text, which every other text method calls.
     *
     * @return the vectors in input order, with how many inputs were truncated
     * @throws NoTokenizerException   when this Embedder has no tokenizer
     * @throws InvalidInputException  for a null text, an unknown prompt name, a query prompt for a
     *                                family without a query format, dimensions above the embedding
     *                                size, or an input that tokenizes to nothing
     * @throws InputTooLongException  for an input over the maximum length under {@link Truncation#ERROR}
     */
    public Embeddings embed(List<String> texts, EmbedOptions options) {
        Objects.requireNonNull(options, "options");
        List<TokenizedInput> inputs = tokenize(texts, options);
        int truncated = 0;
        long tokens = 0;
        for (TokenizedInput in : inputs) {
            truncated += in.truncated() ? 1 : 0;
            tokens += in.ids().length;
        }
        float[][] vectors = embedTokens(inputs, options);
        if (truncated > 0) {
            LOG.debug("{} of {} inputs were longer than {} and were truncated", truncated, inputs.size(),
                    text.limits());
        }
        return new Embeddings(vectors, truncated, tokens);
    }

    /**
     * Embeds inputs from {@link #tokenize} (or made by hand) with the options' normalisation and
     * dimensions; their prompt was applied when tokenizing. Results in input order.
     */
    public float[][] embedTokens(List<TokenizedInput> inputs, EmbedOptions options) {
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(options, "options");
        int[][] ids = new int[inputs.size()][];
        int[] poolStart = new int[inputs.size()];
        int[][] encoderIds = null;
        for (int i = 0; i < ids.length; i++) {
            TokenizedInput in = Objects.requireNonNull(inputs.get(i), "inputs contains null");
            ids[i] = in.ids();
            poolStart[i] = in.poolStart();
            if (in.encoderIds() != null) {
                encoderIds = encoderIds == null ? new int[ids.length][] : encoderIds;
                encoderIds[i] = in.encoderIds();
            }
        }
        boolean norm = options.normalize() != null ? options.normalize() : normalize;
        return embedTokens(ids, poolStart, encoderIds, norm, options.dimensions());
    }

    /**
     * Embeds documents (passages to search in): {@link Prompt#document()}, the model's defaults
     * otherwise. Logs a warning when inputs were truncated.
     */
    public float[][] embedDocuments(List<String> documents) {
        return warnTruncated(embed(documents, EmbedOptions.documents()));
    }

    /**
     * Embeds search queries for a task, in the family's query format ({@link Prompt#query}), e.g.
     * {@code "Given a web search query, retrieve relevant passages that answer the query"}. Logs a
     * warning when inputs were truncated.
     */
    public float[][] embedQueries(String task, List<String> queries) {
        return warnTruncated(embed(queries, EmbedOptions.query(task)));
    }

    /**
     * The inputs exactly as {@link #embed(List, EmbedOptions)} gives them to the model: prompt and
     * special tokens included, truncated, with the pool start of an excluded prompt.
     * {@code embedTokens(ids, poolStarts, ...)} on these gives the same vectors as {@code embed}.
     */
    public List<TokenizedInput> tokenize(List<String> texts, EmbedOptions options) {
        Objects.requireNonNull(texts, "texts");
        Objects.requireNonNull(options, "options");
        if (text == null) {
            throw new NoTokenizerException(noTokenizerReason != null ? noTokenizerReason
                    : path + " has no tokenizer.json; embed token ids with embedTokens, or give a tokenizer with "
                    + "Embedder.Builder.optTokenizer");
        }
        if (texts.isEmpty()) {
            return List.of();
        }
        return withModel(() -> text.encode(texts, options));
    }

    private float[][] warnTruncated(Embeddings result) {
        if (result.truncated() > 0) {
            LOG.warn("{} of {} inputs were longer than {} and were truncated", result.truncated(),
                    result.vectors().length, text.limits());
        }
        return result.vectors();
    }

    /**
     * Embeds token-id sequences, fed exactly as given: no special tokens added, nothing truncated.
     * Returns one vector per sequence, in input order, L2-normalised unless the builder or the
     * model's {@code modules.json} said otherwise.
     *
     * @throws InvalidInputException for an empty sequence or an id outside the vocabulary (an empty
     *                               batch gives an empty result)
     */
    public float[][] embedTokens(int[][] sequences) {
        return embedTokens(sequences, null, normalize, 0);
    }

    /** As {@link #embedTokens(int[][])}, from a list. */
    public float[][] embedTokens(List<int[]> sequences) {
        return embedTokens(sequences.toArray(new int[0][]));
    }

    /**
     * Embeds with explicit options.
     *
     * @param poolStart  per sequence, the number of leading tokens left out of mean pooling (they
     *                   are still attended to), or null
     * @param normalize  L2-normalise each vector
     * @param dimensions Matryoshka: keep the first {@code dimensions} components (then normalise
     *                   when asked); 0 keeps all
     */
    public float[][] embedTokens(int[][] sequences, int[] poolStart, boolean normalize, int dimensions) {
        return embedTokens(sequences, poolStart, null, normalize, dimensions);
    }

    /**
     * Embeds token-id sequences with everything an architecture may need besides the ids:
     * NV-Embed's instruction lengths ({@code poolStart}: left out of pooling, still attended to) and
     * Causal2Vec's encoder ids (its own tokenizer's ids of the same text, one array per sequence).
     * L2-normalised unless the builder or the model's {@code modules.json} said otherwise.
     *
     * @param poolStart  per sequence, leading tokens left out of mean / latent pooling, or null
     * @param encoderIds per sequence, the encoder's token ids (Causal2Vec, required there), or null
     * @throws InvalidInputException for mismatched lengths, an empty sequence, an id outside a
     *                               vocabulary, encoder ids for a model without an encoder or none
     *                               for Causal2Vec
     */
    public float[][] embedTokens(int[][] sequences, int[] poolStart, int[][] encoderIds) {
        return embedTokens(sequences, poolStart, encoderIds, normalize, 0);
    }

    /**
     * As {@link #embedTokens(int[][], int[], int[][])} with explicit normalisation and Matryoshka
     * dimensions (0 keeps all).
     */
    public float[][] embedTokens(int[][] sequences, int[] poolStart, int[][] encoderIds, boolean normalize,
            int dimensions) {
        Objects.requireNonNull(sequences, "sequences");
        if (encoderIds != null && encoderIds.length != sequences.length) {
            throw new InvalidInputException("encoderIds has " + encoderIds.length + " entries for "
                    + sequences.length + " sequences");
        }
        if (dimensions < 0 || dimensions > info.embeddingSize()) {
            throw new InvalidInputException("dimensions must be in [1, " + info.embeddingSize() + "] (0 = all), got "
                    + dimensions);
        }
        if (poolStart != null && poolStart.length != sequences.length) {
            throw new InvalidInputException("poolStart has " + poolStart.length + " entries for "
                    + sequences.length + " sequences");
        }
        // Checked here as well as natively so that a message names the caller's index, not the
        // index inside whichever sub-batch the sequence landed in.
        Integer[] order = new Integer[sequences.length];
        for (int s = 0; s < order.length; s++) {
            checkSequence(sequences, poolStart, s);
            if (encoderIds != null && (encoderIds[s] == null || encoderIds[s].length == 0)) {
                throw new InvalidInputException("sequence " + s + " has no encoder ids: give them for every sequence "
                        + "or for none");
            }
            order[s] = s;
        }
        // Longest first: one that does not fit memory fails before the others ran.
        Arrays.sort(order, Comparator.comparingInt((Integer s) -> sequences[s].length).reversed());
        float[][] out = new float[sequences.length][];
        int start = 0;
        while (start < order.length) {
            int end = start;
            long tokens = 0;
            while (end < order.length && (end == start || tokens + tokensOf(sequences, encoderIds, order[end]) <= tokenBudget)) {
                tokens += tokensOf(sequences, encoderIds, order[end]);
                end++;
            }
            int[][] part = new int[end - start][];
            int[] partPoolStart = poolStart == null ? null : new int[part.length];
            int[][] partEncoder = encoderIds == null ? null : new int[part.length][];
            for (int i = 0; i < part.length; i++) {
                part[i] = sequences[order[start + i]];
                if (partPoolStart != null) {
                    partPoolStart[i] = poolStart[order[start + i]];
                }
                if (partEncoder != null) {
                    partEncoder[i] = encoderIds[order[start + i]];
                }
            }
            Ragged batch = Ragged.of(part);
            Ragged encoder = partEncoder == null ? null : Ragged.of(partEncoder);
            float[][] vectors = withModel(() -> model.embed(batch.ids, batch.cuSeqlens, partPoolStart,
                    encoder == null ? null : encoder.ids, encoder == null ? null : encoder.cuSeqlens, normalize,
                    dimensions));
            for (int i = 0; i < part.length; i++) {
                out[order[start + i]] = vectors[i];
            }
            start = end;
        }
        return out;
    }

    /** Tokens sequence s costs a batch: its ids, plus its encoder ids when there are any. */
    private static long tokensOf(int[][] sequences, int[][] encoderIds, int s) {
        return sequences[s].length + (encoderIds == null ? 0 : encoderIds[s].length);
    }

    private void checkSequence(int[][] sequences, int[] poolStart, int s) {
        int[] seq = sequences[s];
        if (seq == null) {
            throw new InvalidInputException("sequence " + s + " is null");
        }
        if (seq.length == 0) {
            throw new InvalidInputException("sequence " + s + " is empty: every sequence needs at least one token");
        }
        for (int p = 0; p < seq.length; p++) {
            if (seq[p] < 0 || seq[p] >= info.vocabSize()) {
                throw new InvalidInputException("sequence " + s + ": token id " + seq[p] + " at position " + p
                        + " is outside the vocabulary [0, " + info.vocabSize() + ")");
            }
        }
        if (poolStart != null && (poolStart[s] < 0 || poolStart[s] >= seq.length)) {
            throw new InvalidInputException("sequence " + s + ": pool start " + poolStart[s]
                    + " must leave at least one of its " + seq.length + " tokens to pool");
        }
    }

    /**
     * The decoder's last hidden state (after the final norm) for one sequence: one row per token.
     */
    public float[][] lastHiddenState(int[] ids) {
        Objects.requireNonNull(ids, "ids");
        Ragged batch = Ragged.of(new int[][] {ids});
        float[] flat = withModel(() -> model.forwardHidden(batch.ids, batch.cuSeqlens));
        int h = info.hiddenSize();
        int rows = flat.length / h;
        float[][] out = new float[rows][h];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, r * h, out[r], 0, h);
        }
        return out;
    }

    /**
     * The decoder's last hidden state for one sequence, with the encoder ids Causal2Vec needs
     * (null otherwise). Causal2Vec returns one more row than ids: its contextual token.
     */
    public float[][] lastHiddenState(int[] ids, int[] encoderIds) {
        Objects.requireNonNull(ids, "ids");
        Ragged batch = Ragged.of(new int[][] {ids});
        Ragged encoder = encoderIds == null ? null : Ragged.of(new int[][] {encoderIds});
        float[] flat = withModel(() -> model.forwardHidden(batch.ids, batch.cuSeqlens,
                encoder == null ? null : encoder.ids, encoder == null ? null : encoder.cuSeqlens));
        int h = info.hiddenSize();
        float[][] out = new float[flat.length / h][h];
        for (int r = 0; r < out.length; r++) {
            System.arraycopy(flat, r * h, out[r], 0, h);
        }
        return out;
    }

    /**
     * An intermediate output for one sequence, for checks against reference implementations.
     *
     * @param poolStart  leading tokens left out of pooling (NV-Embed's instruction length), or 0
     * @param encoderIds the encoder's ids (Causal2Vec), or null
     * @throws InvalidInputException when this model has no such output
     */
    public float[][] intermediate(Intermediate which, int[] ids, int poolStart, int[] encoderIds) {
        Objects.requireNonNull(which, "which");
        Objects.requireNonNull(ids, "ids");
        Ragged batch = Ragged.of(new int[][] {ids});
        Ragged encoder = encoderIds == null ? null : Ragged.of(new int[][] {encoderIds});
        int[] starts = poolStart == 0 ? null : new int[] {poolStart};
        return withModel(() -> model.forwardIntermediate(which.code, batch.ids, batch.cuSeqlens, starts,
                encoder == null ? null : encoder.ids, encoder == null ? null : encoder.cuSeqlens));
    }

    /**
     * What the native side recognized in the model folder, as a JSON object: family, backbone
     * dimensions, attention, pooling, RoPE, dtype, prompt formats and the folder's
     * sentence-transformers prompts, the architecture's own parts, memory.
     */
    public String describe() {
        return withModel(model::describe);
    }

    /**
     * What the model has done at run time so far, as a JSON object: {@code "graphs"} says whether
     * the CUDA backend replays CUDA graphs for short batches (on unless {@code EMBER_CUDA_GRAPHS=0})
     * and how many passes were recorded, replayed, or failed to record or replay (those ran
     * directly; the last failure's message is kept).
     */
    public String runtime() {
        return withModel(model::runtime);
    }

    /** Frees the native model after calls in flight finish. Idempotent. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            guard.explicit = true;
            cleanable.clean();
        } finally {
            lock.writeLock().unlock();
        }
    }

    private <T> T withModel(java.util.function.Supplier<T> call) {
        lock.readLock().lock();
        try {
            if (closed) {
                throw new EmberClosedException("this Embedder (" + path + ") is closed");
            }
            return call.get();
        } finally {
            lock.readLock().unlock();
            // Keeps `this` reachable until the native call has returned. Without the fence the
            // JIT may consider it dead once the call has its arguments (only field values are
            // needed); for `builder().build().embedTokens(...)` a GC could then run the Cleaner,
            // which frees the model under the running call: a use-after-free in native code.
            Reference.reachabilityFence(this);
        }
    }

    /** Flat ids plus cumulative lengths: the ragged batch the native side takes. */
    private record Ragged(int[] ids, int[] cuSeqlens) {
        static Ragged of(int[][] sequences) {
            int[] cu = new int[sequences.length + 1];
            long total = 0;
            for (int s = 0; s < sequences.length; s++) {
                if (sequences[s] == null) {
                    throw new InvalidInputException("sequence " + s + " is null");
                }
                total += sequences[s].length;
                if (total > Integer.MAX_VALUE - 8) {
                    throw new InvalidInputException("batch has more than 2^31 tokens");
                }
                cu[s + 1] = (int) total;
            }
            int[] ids = new int[(int) total];
            for (int s = 0; s < sequences.length; s++) {
                System.arraycopy(sequences[s], 0, ids, cu[s], sequences[s].length);
            }
            return new Ragged(ids, cu);
        }
    }

    /** Frees the native model; warns when it runs because an Embedder was garbage collected unclosed. */
    private static final class LeakGuard implements Runnable {
        private final NativeModel model;
        private final String path;
        private volatile TextEncoder text;
        private volatile boolean explicit;

        LeakGuard(NativeModel model, String path) {
            this.model = model;
            this.path = path;
        }

        @Override
        public void run() {
            if (!explicit) {
                UNCLOSED_FREED.incrementAndGet();
                LOG.warn("an Embedder for {} was garbage collected without close(); freeing its native model now", path);
            }
            model.close();
            if (text != null) {
                text.close();
            }
        }
    }

    /** Builds an {@link Embedder}. {@link #setModel} is required; {@code opt*} are optional. */
    public static final class Builder {
        private Path model;
        private int threads = 0;
        private Backend backend = Backend.AUTO;
        private int device = 0;
        private Boolean normalize;
        private Path tokenizer;
        private Path encoderTokenizer;
        private int maxLength;
        private Truncation truncation = Truncation.TRUNCATE;
        private int tokenBudget = DEFAULT_TOKEN_BUDGET;
        private RopeScaling ropeScaling;
        private double ropeTheta;
        private SelfExtend selfExtend;
        private int attentionScaling;
        private CudaPrecision cudaPrecision;
        private Boolean cudaGraphs;
        private Boolean cublasLt;

        private Builder() {}

        /** Whether a long-context option is set (then a maximum length past the trained context is intended). */
        private boolean extendsContext() {
            return (ropeScaling != null && ropeScaling.type() != RopeScaling.Type.NONE) || ropeTheta > 0
                    || selfExtend != null;
        }

        /** A Hugging Face model folder (config.json + safetensors) or a GGUF file. */
        public Builder setModel(Path model) {
            this.model = Objects.requireNonNull(model, "model");
            return this;
        }

        /** CPU worker threads; 0 (the default) uses every core. */
        public Builder optThreads(int threads) {
            if (threads < 0) {
                throw new IllegalArgumentException("threads must be >= 0");
            }
            this.threads = threads;
            return this;
        }

        public Builder optBackend(Backend backend) {
            this.backend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        /** CUDA device ordinal (default 0). */
        public Builder optDevice(int device) {
            this.device = device;
            return this;
        }

        /**
         * How the CUDA backend computes. Default: {@code EMBER_CUDA_PRECISION} (fast / fp32) if set,
         * else {@link CudaPrecision#FAST}. No effect on the CPU backend.
         */
        public Builder optCudaPrecision(CudaPrecision precision) {
            this.cudaPrecision = Objects.requireNonNull(precision, "precision");
            return this;
        }

        /**
         * Whether the CUDA backend replays CUDA graphs for short batches (up to 1,024 tokens) of
         * shapes it has seen before: a single query is bound by kernel launches, which a replay
         * saves. Default: {@code EMBER_CUDA_GRAPHS} (0 / 1) if set, else on. {@link Embedder#runtime()}
         * counts the replays.
         */
        public Builder optCudaGraphs(boolean graphs) {
            this.cudaGraphs = graphs;
            return this;
        }

        /**
         * Whether the CUDA backend runs bf16 matmuls through the system's cuBLASLt
         * ({@code libcublasLt.so.13}, loaded at run time; Ember does not ship it) where it loads,
         * instead of its own kernels: faster on Hopper (BENCHMARKS.md). Default:
         * {@code EMBER_CUBLASLT} (0 / 1) if set, else off.
         */
        public Builder optCublasLt(boolean cublasLt) {
            this.cublasLt = cublasLt;
            return this;
        }

        /**
         * L2-normalise embeddings. Default: as sentence-transformers would, true unless the model
         * has a {@code modules.json} without a Normalize module.
         */
        public Builder optNormalize(boolean normalize) {
            this.normalize = normalize;
            return this;
        }

        /** A {@code tokenizer.json}, a folder with one, or a GGUF file whose tokenizer to use instead of the model's. */
        public Builder optTokenizer(Path tokenizer) {
            this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
            return this;
        }

        /**
         * Causal2Vec: the encoder's {@code tokenizer.json} (or a folder with one), instead of the
         * model folder's {@code encoder/tokenizer.json} or {@code encoder_tokenizer.json}. Its ids
         * of each text, with its own special tokens, go to the encoder; without one, text fails
         * with {@link NoTokenizerException} and token ids still work. Building fails with {@link
         * UnsupportedModelException} for a model without an encoder.
         */
        public Builder optEncoderTokenizer(Path encoderTokenizer) {
            this.encoderTokenizer = Objects.requireNonNull(encoderTokenizer, "encoderTokenizer");
            return this;
        }

        /**
         * Longest input in tokens, prompt and special tokens included (default: the context the
         * model was trained for, {@link ModelInfo#maxPositions()}). Causal2Vec's encoder reads what
         * the decoder kept and stops at its own positions ({@code max_position_embeddings}).
         */
        public Builder optMaxLength(int maxLength) {
            if (maxLength < 1) {
                throw new IllegalArgumentException("maxLength must be >= 1, got " + maxLength);
            }
            this.maxLength = maxLength;
            return this;
        }

        /** What to do with longer inputs (default {@link Truncation#TRUNCATE}). */
        public Builder optTruncation(Truncation truncation) {
            this.truncation = Objects.requireNonNull(truncation, "truncation");
            return this;
        }

        /**
         * Most tokens in one native call (default 16384). Larger budgets use more working memory
         * (activations grow with it) for little speed once every core or the GPU is busy.
         */
        public Builder optTokenBudget(int tokenBudget) {
            if (tokenBudget < 1) {
                throw new IllegalArgumentException("tokenBudget must be >= 1, got " + tokenBudget);
            }
            this.tokenBudget = tokenBudget;
            return this;
        }

        /**
         * Replaces the model's RoPE scaling (from {@code config.json} or the GGUF file) with this
         * one, e.g. {@code RopeScaling.parse("ntk:4")}: NTK-aware, dynamic NTK, YaRN, Llama 3 or
         * linear scaling by a factor over the trained context, or {@link RopeScaling#none()}. Raise
         * {@link #optMaxLength} to use the longer context.
         */
        public Builder optRopeScaling(RopeScaling ropeScaling) {
            this.ropeScaling = Objects.requireNonNull(ropeScaling, "ropeScaling");
            return this;
        }

        /**
         * {@link #optRopeScaling(RopeScaling)} from its text form: {@code none}, {@code linear:F},
         * {@code ntk:F}, {@code dynamic:F}, {@code yarn:F} or {@code llama3:F}.
         *
         * @throws InvalidInputException when the text is not one of these
         */
        public Builder optRopeScaling(String spec) {
            return optRopeScaling(RopeScaling.parse(spec));
        }

        /**
         * Replaces the RoPE base ({@code rope_theta}), e.g. 1e5: NTK-aware scaling with an explicit
         * new base, as LongEmbed extends E5-Mistral from 4k to 32k tokens.
         *
         * @throws InvalidInputException unless finite and greater than 1
         */
        public Builder optRopeTheta(double ropeTheta) {
            if (!(ropeTheta > 1.0) || Double.isInfinite(ropeTheta)) {
                throw new InvalidInputException("RoPE theta must be a finite number > 1, got " + ropeTheta);
            }
            this.ropeTheta = ropeTheta;
            return this;
        }

        /**
         * SelfExtend grouped attention with group size {@code group} and neighbour window
         * {@code window} (see {@link SelfExtend}; LongEmbed uses 9 and 512 for E5-Mistral), for
         * causal and bidirectional models.
         *
         * @throws InvalidInputException unless both are in [1, 2^20]
         */
        public Builder optSelfExtend(int group, int window) {
            this.selfExtend = new SelfExtend(group, window);
            return this;
        }

        /** {@link #optSelfExtend(int, int)} with the pair as a value. */
        public Builder optSelfExtend(SelfExtend selfExtend) {
            this.selfExtend = Objects.requireNonNull(selfExtend, "selfExtend");
            return this;
        }

        /**
         * LongEmbed's attention scaling: the attention logits of an input of L tokens are multiplied
         * by {@code max(log(L) / log(trainedLength), 1)} (LongEmbed uses 512). Off by default.
         *
         * @throws InvalidInputException unless in [2, 2^24]
         */
        public Builder optAttentionScaling(int trainedLength) {
            if (trainedLength < 2 || trainedLength > (1 << 24)) {
                throw new InvalidInputException("attention scaling length must be in [2, 2^24], got " + trainedLength);
            }
            this.attentionScaling = trainedLength;
            return this;
        }

        /**
         * Loads the model.
         *
         * @throws ModelNotFoundException       when the path, a required file or the tokenizer given is missing
         * @throws MalformedModelException      when a file is inconsistent
         * @throws UnsupportedModelException    when the model is something Ember does not run
         * @throws BackendUnavailableException  when the requested backend cannot run here
         */
        public Embedder build() {
            if (model == null) {
                throw new IllegalStateException("setModel(Path) is required");
            }
            if (!Files.exists(model)) {
                throw new ModelNotFoundException("model path " + model + " does not exist");
            }
            return new Embedder(this);
        }
    }
}
