package dev.ember;

import dev.ember.internal.NativeModel;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Computes embeddings with one loaded model.
 *
 * <p>Thread-safe: any number of threads may call the embed methods at once. {@link #close()} waits
 * for calls in flight, frees the native model, and makes later calls throw {@link
 * EmberClosedException}. An Embedder that is never closed is freed by a {@link Cleaner} with a
 * warning; close it explicitly (try-with-resources).
 *
 * <pre>{@code
 * try (Embedder embedder = Embedder.builder().setModel(Path.of("Qwen3-Embedding-0.6B")).build()) {
 *     float[][] vectors = embedder.embedTokens(new int[][] {{9707, 1879, 151643}});
 * }
 * }</pre>
 */
public final class Embedder implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Embedder.class);
    private static final Cleaner CLEANER = Cleaner.create();
    /** Embedders freed by the Cleaner because nobody closed them (read by the tests). */
    static final AtomicLong UNCLOSED_FREED = new AtomicLong();

    private final NativeModel model;
    private final ModelInfo info;
    private final boolean normalize;
    private final Path path;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final LeakGuard guard;
    private final Cleaner.Cleanable cleanable;
    private boolean closed;

    private Embedder(Builder b) {
        this.path = b.model;
        this.normalize = b.normalize;
        this.model = NativeModel.load(b.model.toString(), b.backend, b.threads, b.device);
        this.info = model.info();
        this.guard = new LeakGuard(model, b.model.toString());
        this.cleanable = CLEANER.register(this, guard);
        LOG.info("loaded {} ({}, {} layers, hidden {}) on {} from {}", info.family(), info.architecture(),
                info.numLayers(), info.hiddenSize(), info.backend(), b.model);
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

    /**
     * Embeds token-id sequences (fed exactly as given: no special tokens added) as one ragged
     * batch. Returns one vector per sequence, in input order, L2-normalised unless the builder
     * said otherwise.
     *
     * @throws InvalidInputException for an empty batch, an empty sequence or an id outside the vocabulary
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
        Objects.requireNonNull(sequences, "sequences");
        if (dimensions < 0 || dimensions > info.embeddingSize()) {
            throw new InvalidInputException("dimensions must be in [1, " + info.embeddingSize() + "] (0 = all), got "
                    + dimensions);
        }
        if (poolStart != null && poolStart.length != sequences.length) {
            throw new InvalidInputException("poolStart has " + poolStart.length + " entries for "
                    + sequences.length + " sequences");
        }
        if (sequences.length == 0) {
            return new float[0][];
        }
        Ragged batch = Ragged.of(sequences);
        return withModel(() -> model.embed(batch.ids, batch.cuSeqlens, poolStart, normalize, dimensions));
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
        }
    }

    /** Builds an {@link Embedder}. {@link #setModel} is required; {@code opt*} are optional. */
    public static final class Builder {
        private Path model;
        private int threads = 0;
        private Backend backend = Backend.AUTO;
        private int device = 0;
        private boolean normalize = true;

        private Builder() {}

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

        /** L2-normalise embeddings (default true). */
        public Builder optNormalize(boolean normalize) {
            this.normalize = normalize;
            return this;
        }

        /**
         * Loads the model.
         *
         * @throws ModelNotFoundException       when the path or a required file is missing
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
