package dev.ember.internal;

import dev.ember.Backend;
import dev.ember.ModelInfo;
import dev.ember.Pooling;
import java.nio.charset.StandardCharsets;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * One native model handle and the calls on it. Internal: {@link dev.ember.Embedder} owns it and
 * guarantees {@link #close()} does not race with other calls.
 */
public final class NativeModel implements AutoCloseable {
    static {
        // JavaCPP refuses allocations once the process's resident memory passes 4x the Java heap,
        // and mapped model weights count; Ember's few allocations are small, so unless the
        // application chose a limit itself, lift it (effective only if JavaCPP is not loaded yet).
        if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null) {
            System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
        }
        // Loads the native libraries before any JavaCPP pointer is created.
        org.bytedeco.javacpp.Loader.load(EmberLib.class);
    }

    private EmberLib.ember_model handle;
    private final ModelInfo info;

    private NativeModel(EmberLib.ember_model handle) {
        this.handle = handle;
        this.info = queryInfo();
    }

    public static String version() {
        return EmberLib.ember_version();
    }

    public static String cpuIsa() {
        return EmberLib.ember_cpu_isa();
    }

    public static boolean cudaBuilt() {
        return EmberLib.ember_cuda_built() != 0;
    }

    /** Native model handles loaded and not yet freed in this process. */
    public static long liveModels() {
        return EmberLib.ember_live_models();
    }

    public static int cudaDeviceCount() {
        int[] count = new int[1];
        NativeStatus.check(EmberLib.ember_cuda_device_count(count, null, 0));
        return count[0];
    }

    public static String cudaUnavailableReason() {
        int[] count = new int[1];
        byte[] reason = new byte[512];
        NativeStatus.check(EmberLib.ember_cuda_device_count(count, reason, reason.length));
        int n = 0;
        while (n < reason.length && reason[n] != 0) {
            n++;
        }
        return count[0] > 0 ? "" : new String(reason, 0, n, StandardCharsets.UTF_8);
    }

    /** Every usable CUDA device (empty without the GPU library, a driver or a device). */
    public static java.util.List<dev.ember.CudaDevice> cudaDevices() {
        int n = cudaDeviceCount();
        java.util.List<dev.ember.CudaDevice> out = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte[] name = new byte[256];
            long[] memory = new long[1];
            int[] major = new int[1];
            int[] minor = new int[1];
            int[] sms = new int[1];
            NativeStatus.check(EmberLib.ember_cuda_device_info(i, name, name.length, memory, major, minor, sms));
            int len = 0;
            while (len < name.length && name[len] != 0) {
                len++;
            }
            out.add(new dev.ember.CudaDevice(i, new String(name, 0, len, StandardCharsets.UTF_8), memory[0], major[0],
                    minor[0], sms[0]));
        }
        return java.util.List.copyOf(out);
    }

    /**
     * The long-context load options (ember_load_options); null / 0 fields keep the model as it is.
     * Values are validated by their types and again natively.
     */
    public record LongContext(dev.ember.RopeScaling ropeScaling, double ropeTheta, dev.ember.SelfExtend selfExtend,
            int attentionScaling) {
    }

    /**
     * The CUDA load options (ember_load_options); a null field defers to the environment
     * (EMBER_CUDA_PRECISION, EMBER_CUDA_GRAPHS, EMBER_CUBLASLT), then to Ember's default.
     */
    public record CudaOptions(dev.ember.CudaPrecision precision, Boolean graphs, Boolean cublasLt) {
        public static final CudaOptions DEFAULT = new CudaOptions(null, null, null);

        public int precisionCode() {
            if (precision == null) {
                return EmberLib.EMBER_CUDA_PRECISION_DEFAULT;
            }
            return switch (precision) {
                case FAST -> EmberLib.EMBER_CUDA_PRECISION_FAST;
                case FP32 -> EmberLib.EMBER_CUDA_PRECISION_FP32;
            };
        }

        public int graphsCode() {
            return switchCode(graphs);
        }

        public int cublasLtCode() {
            return switchCode(cublasLt);
        }

        private static int switchCode(Boolean on) {
            if (on == null) {
                return EmberLib.EMBER_SWITCH_DEFAULT;
            }
            return on ? EmberLib.EMBER_SWITCH_ON : EmberLib.EMBER_SWITCH_OFF;
        }
    }

    public static NativeModel load(String path, Backend backend, int threads, int device, LongContext lc,
            CudaOptions cuda) {
        try (PointerScope scope = new PointerScope()) {
            EmberLib.ember_load_options opts = new EmberLib.ember_load_options();
            EmberLib.ember_load_options_init(opts);
            opts.backend(switch (backend) {
                case AUTO -> EmberLib.EMBER_BACKEND_AUTO;
                case CPU -> EmberLib.EMBER_BACKEND_CPU;
                case CUDA -> EmberLib.EMBER_BACKEND_CUDA;
            });
            opts.threads(threads);
            opts.device(device);
            if (lc.ropeScaling() != null) {
                opts.rope_scaling(switch (lc.ropeScaling().type()) {
                    case NONE -> EmberLib.EMBER_ROPE_SCALING_NONE;
                    case LINEAR -> EmberLib.EMBER_ROPE_SCALING_LINEAR;
                    case NTK -> EmberLib.EMBER_ROPE_SCALING_NTK;
                    case DYNAMIC -> EmberLib.EMBER_ROPE_SCALING_DYNAMIC;
                    case YARN -> EmberLib.EMBER_ROPE_SCALING_YARN;
                    case LLAMA3 -> EmberLib.EMBER_ROPE_SCALING_LLAMA3;
                });
                opts.rope_factor(lc.ropeScaling().factor());
            }
            opts.rope_theta(lc.ropeTheta());
            if (lc.selfExtend() != null) {
                opts.self_extend_group(lc.selfExtend().group());
                opts.self_extend_window(lc.selfExtend().window());
            }
            opts.attention_scaling(lc.attentionScaling());
            opts.cuda_precision(cuda.precisionCode());
            opts.cuda_graphs(cuda.graphsCode());
            opts.cuda_cublaslt(cuda.cublasLtCode());
            EmberLib.ember_model out = new EmberLib.ember_model();
            NativeStatus.check(EmberLib.ember_model_load(path, opts, out));
            // The handle outlives the scope: detach it from automatic deallocation.
            EmberLib.ember_model handle = new EmberLib.ember_model(out);
            try {
                return new NativeModel(handle);
            } catch (RuntimeException | Error e) {
                // queryInfo failed (e.g. a pooling code this version does not know): free the handle.
                EmberLib.ember_model_free(handle);
                throw e;
            }
        }
    }

    public ModelInfo info() {
        return info;
    }

    private ModelInfo queryInfo() {
        try (PointerScope scope = new PointerScope()) {
            EmberLib.ember_model_info i = new EmberLib.ember_model_info();
            NativeStatus.check(EmberLib.ember_model_get_info(handle(), i));
            return new ModelInfo(
                    cString(i.architecture()),
                    cString(i.family()),
                    i.hidden_size(),
                    i.embedding_size(),
                    i.vocab_size(),
                    i.num_layers(),
                    i.num_heads(),
                    i.num_kv_heads(),
                    i.head_dim(),
                    i.intermediate_size(),
                    i.max_positions(),
                    i.causal() != 0,
                    Pooling.fromCode(i.pooling()),
                    i.backend() == EmberLib.EMBER_BACKEND_CUDA ? Backend.CUDA : Backend.CPU,
                    dtypeName(i.weight_dtype()),
                    i.threads(),
                    i.weight_bytes());
        }
    }

    /**
     * Pooled (and optionally normalised / truncated) embeddings, one row per sequence. Java arrays
     * go straight to the native call: no JavaCPP allocation, so JavaCPP's memory limits (which
     * count the mapped model weights) never refuse a call.
     */
    public float[][] embed(int[] ids, int[] cuSeqlens, int[] poolStart, boolean normalize, int dimensions) {
        return embed(ids, cuSeqlens, poolStart, null, null, normalize, dimensions);
    }

    /**
     * As {@link #embed(int[], int[], int[], boolean, int)}, with the encoder's ragged ids
     * (Causal2Vec; null for every other model).
     */
    public float[][] embed(int[] ids, int[] cuSeqlens, int[] poolStart, int[] encoderIds, int[] encoderCuSeqlens,
            boolean normalize, int dimensions) {
        int nSeqs = cuSeqlens.length - 1;
        int width = dimensions == 0 ? info.embeddingSize() : dimensions;
        float[] out = new float[Math.multiplyExact(nSeqs, width)];
        NativeStatus.check(EmberLib.ember_embed_arrays(handle(), nonEmpty(ids), cuSeqlens, nSeqs, poolStart,
                encoderIds == null ? null : nonEmpty(encoderIds), encoderCuSeqlens, normalize ? 1 : 0, dimensions,
                out, out.length));
        float[][] result = new float[nSeqs][];
        for (int s = 0; s < nSeqs; s++) {
            result[s] = java.util.Arrays.copyOfRange(out, s * width, (s + 1) * width);
        }
        return result;
    }

    /** last_hidden_state rows of the whole batch, flat. */
    public float[] forwardHidden(int[] ids, int[] cuSeqlens) {
        return forwardHidden(ids, cuSeqlens, null, null);
    }

    /** As {@link #forwardHidden(int[], int[])}, with the encoder's ragged ids (Causal2Vec). */
    public float[] forwardHidden(int[] ids, int[] cuSeqlens, int[] encoderIds, int[] encoderCuSeqlens) {
        int nSeqs = cuSeqlens.length - 1;
        int[] enc = encoderIds == null ? null : nonEmpty(encoderIds);
        long[] rows = new long[1];
        NativeStatus.check(EmberLib.ember_hidden_rows_arrays(handle(), nonEmpty(ids), cuSeqlens, nSeqs, enc,
                encoderCuSeqlens, rows));
        long n = rows[0] * info.hiddenSize();
        if (n > Integer.MAX_VALUE - 8) {
            throw new dev.ember.InvalidInputException("hidden states of " + rows[0] + " rows do not fit a Java array");
        }
        float[] out = new float[(int) n];
        NativeStatus.check(EmberLib.ember_forward_hidden_arrays(handle(), nonEmpty(ids), cuSeqlens, nSeqs, enc,
                encoderCuSeqlens, out, out.length));
        return out;
    }

    /** A zero-length Java array may arrive in C as NULL; the native side then reports the empty sequence. */
    private static int[] nonEmpty(int[] ids) {
        return ids.length == 0 ? new int[1] : ids;
    }

    /** What the native side recognized in the model, as a JSON object's text (ember_model_describe). */
    public String describe() {
        return text(EmberLib::ember_model_describe);
    }

    /** What the model has done at run time, as a JSON object's text (ember_model_runtime). */
    public String runtime() {
        return text(EmberLib::ember_model_runtime);
    }

    private interface TextCall {
        int call(EmberLib.ember_model model, byte[] buf, long bufLen, SizeTPointer needed);
    }

    // Asks for the size, then for the text; again while the text outgrew the buffer in between
    // (runtime counters grow while other threads embed).
    private String text(TextCall call) {
        try (PointerScope scope = new PointerScope()) {
            SizeTPointer needed = new SizeTPointer(1);
            NativeStatus.check(call.call(handle(), null, 0, needed));
            while (true) {
                byte[] buf = new byte[(int) needed.get() + 64];
                NativeStatus.check(call.call(handle(), buf, buf.length, needed));
                if (needed.get() <= buf.length) {
                    return new String(buf, 0, (int) needed.get() - 1, StandardCharsets.UTF_8);
                }
            }
        }
    }

    /**
     * An intermediate output (an {@code EMBER_INTERMEDIATE_*} code) of the batch: rows of the
     * width the native side reports.
     */
    public float[][] forwardIntermediate(int which, int[] ids, int[] cuSeqlens, int[] poolStart, int[] encoderIds,
            int[] encoderCuSeqlens) {
        try (PointerScope scope = new PointerScope()) {
            EmberLib.ember_batch batch = batch(ids, cuSeqlens, poolStart, encoderIds, encoderCuSeqlens);
            long[] rows = new long[1];
            long[] cols = new long[1];
            NativeStatus.check(EmberLib.ember_intermediate_shape(handle(), batch, which, rows, cols));
            long n = rows[0] * cols[0];
            if (n > Integer.MAX_VALUE - 8) {
                throw new dev.ember.InvalidInputException("an output of " + rows[0] + " rows does not fit a Java array");
            }
            FloatPointer out = new FloatPointer(Math.max(1, n));
            NativeStatus.check(EmberLib.ember_forward_intermediate(handle(), batch, which, out, n));
            float[][] result = new float[(int) rows[0]][(int) cols[0]];
            for (int r = 0; r < result.length; r++) {
                out.position(r * cols[0]).get(result[r]);
            }
            return result;
        }
    }

    @Override
    public void close() {
        if (handle != null) {
            EmberLib.ember_model_free(handle);
            handle = null;
        }
    }

    private EmberLib.ember_model handle() {
        if (handle == null) {
            throw new dev.ember.EmberClosedException("the native model was freed");
        }
        return handle;
    }

    private static EmberLib.ember_batch batch(int[] ids, int[] cuSeqlens, int[] poolStart, int[] encoderIds,
            int[] encoderCuSeqlens) {
        EmberLib.ember_batch batch = batch(ids, cuSeqlens, poolStart);
        if (encoderIds != null) {
            batch.encoder_token_ids(new IntPointer(encoderIds.length == 0 ? new int[1] : encoderIds));
            batch.encoder_cu_seqlens(new IntPointer(encoderCuSeqlens));
        }
        return batch;
    }

    private static EmberLib.ember_batch batch(int[] ids, int[] cuSeqlens, int[] poolStart) {
        EmberLib.ember_batch batch = new EmberLib.ember_batch();
        // An empty IntPointer would be null in C; keep one element so the pointer is valid.
        batch.token_ids(new IntPointer(ids.length == 0 ? new int[1] : ids));
        batch.cu_seqlens(new IntPointer(cuSeqlens));
        batch.n_seqs(cuSeqlens.length - 1);
        if (poolStart != null) {
            batch.pool_start(new IntPointer(poolStart));
        }
        return batch;
    }

    private static String cString(BytePointer p) {
        return p == null ? "" : p.getString(StandardCharsets.UTF_8);
    }

    static String dtypeName(int dtype) {
        return switch (dtype) {
            case EmberLib.EMBER_DTYPE_F32 -> "f32";
            case EmberLib.EMBER_DTYPE_F16 -> "f16";
            case EmberLib.EMBER_DTYPE_BF16 -> "bf16";
            case EmberLib.EMBER_DTYPE_Q8_0 -> "q8_0";
            case EmberLib.EMBER_DTYPE_Q4_0 -> "q4_0";
            case EmberLib.EMBER_DTYPE_Q4_K -> "q4_k";
            case EmberLib.EMBER_DTYPE_Q6_K -> "q6_k";
            default -> "type" + dtype;
        };
    }
}
