package dev.ember.internal;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.annotation.ByPtrPtr;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.MemberGetter;
import org.bytedeco.javacpp.annotation.Opaque;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;

/**
 * JavaCPP binding of the C ABI in {@code native/include/ember/ember.h}, {@code kernels.h} and
 * {@code tools.h}.
 * Internal: the public API in {@code dev.ember} wraps it. Names follow the C ones.
 *
 * <p>Native libraries: {@code dev/ember/internal/linux-x86_64/} (CPU build) and
 * {@code dev/ember/internal/linux-x86_64-gpu/} (CPU + CUDA build), each holding {@code libember.so}
 * and the JNI glue {@code libjniEmberLib.so}. When both are on the class path, {@link Loader} tries
 * the {@code -gpu} directory first (it walks the {@code extension}s declared below before the plain
 * platform), so the GPU build wins; without a driver it runs on the CPU and reports 0 devices.
 * {@code -Dorg.bytedeco.javacpp.platform.extension=} (empty) forces the plain CPU build.
 *
 * <p>Every C function returns an {@code ember_status} ({@link #EMBER_OK} or an error code whose
 * message {@link #ember_last_error()} gives, on the same thread). The class loads its libraries in
 * its static initializer; touch it before creating JavaCPP pointers.
 */
@Properties(
        value = {
            @Platform(
                    value = "linux-x86_64",
                    include = {"ember/ember.h", "ember/kernels.h", "ember/tools.h"},
                    link = "ember"),
            @Platform(
                    value = "linux-x86_64",
                    extension = "-gpu",
                    include = {"ember/ember.h", "ember/kernels.h", "ember/tools.h"},
                    link = "ember")
        })
public final class EmberLib {
    static {
        Loader.load();
    }

    private EmberLib() {}

    // ------------------------------------------------------------------ ember_status

    public static final int EMBER_OK = 0;
    public static final int EMBER_ERR_INVALID_ARGUMENT = 1;
    public static final int EMBER_ERR_MODEL_NOT_FOUND = 2;
    public static final int EMBER_ERR_MODEL_MALFORMED = 3;
    public static final int EMBER_ERR_MODEL_UNSUPPORTED = 4;
    public static final int EMBER_ERR_BACKEND_UNAVAILABLE = 5;
    public static final int EMBER_ERR_OUT_OF_MEMORY = 6;
    public static final int EMBER_ERR_INTERNAL = 7;

    // ------------------------------------------------------------------ ember_backend

    public static final int EMBER_BACKEND_AUTO = 0;
    public static final int EMBER_BACKEND_CPU = 1;
    public static final int EMBER_BACKEND_CUDA = 2;

    // ------------------------------------------------------------------ ember_cuda_precision, ember_switch

    public static final int EMBER_CUDA_PRECISION_DEFAULT = 0;
    public static final int EMBER_CUDA_PRECISION_FAST = 1;
    public static final int EMBER_CUDA_PRECISION_FP32 = 2;
    public static final int EMBER_SWITCH_DEFAULT = 0;
    public static final int EMBER_SWITCH_ON = 1;
    public static final int EMBER_SWITCH_OFF = 2;

    // ------------------------------------------------------------------ ember_rope_scaling

    public static final int EMBER_ROPE_SCALING_MODEL = 0;
    public static final int EMBER_ROPE_SCALING_NONE = 1;
    public static final int EMBER_ROPE_SCALING_LINEAR = 2;
    public static final int EMBER_ROPE_SCALING_NTK = 3;
    public static final int EMBER_ROPE_SCALING_DYNAMIC = 4;
    public static final int EMBER_ROPE_SCALING_YARN = 5;
    public static final int EMBER_ROPE_SCALING_LLAMA3 = 6;

    // ------------------------------------------------------------------ ember_pooling

    public static final int EMBER_POOLING_LAST = 0;
    public static final int EMBER_POOLING_MEAN = 1;
    public static final int EMBER_POOLING_CLS = 2;
    public static final int EMBER_POOLING_LATENT = 3;
    public static final int EMBER_POOLING_CONCAT_CONTEXTUAL_LAST = 4;

    // ------------------------------------------------------------------ ember_dtype (ggml ids)

    public static final int EMBER_DTYPE_F32 = 0;
    public static final int EMBER_DTYPE_F16 = 1;
    public static final int EMBER_DTYPE_Q4_0 = 2;
    public static final int EMBER_DTYPE_Q8_0 = 8;
    public static final int EMBER_DTYPE_Q4_K = 12;
    public static final int EMBER_DTYPE_Q6_K = 14;
    public static final int EMBER_DTYPE_BF16 = 30;

    // ------------------------------------------------------------------ ember_impl

    public static final int EMBER_IMPL_FAST = 0;
    public static final int EMBER_IMPL_REFERENCE = 1;

    // ------------------------------------------------------------------ library

    /** Message of the last failure on the calling thread ("" if none). */
    public static native @Cast("const char*") String ember_last_error();

    public static native @Cast("const char*") String ember_version();

    public static native int ember_cuda_built();

    public static native @Cast("ember_status") int ember_cuda_device_count(
            IntPointer count, @Cast("char*") BytePointer reason, @Cast("size_t") long reason_len);

    public static native @Cast("ember_status") int ember_cuda_device_count(
            int[] count, @Cast("char*") byte[] reason, @Cast("size_t") long reason_len);

    /** Device {@code index}: name, total memory, compute capability, multiprocessors. */
    public static native @Cast("ember_status") int ember_cuda_device_info(int index, @Cast("char*") byte[] name,
            @Cast("size_t") long name_len, @Cast("int64_t*") long[] total_memory, int[] major, int[] minor,
            int[] multiprocessors);

    public static native @Cast("const char*") String ember_cpu_isa();

    // ------------------------------------------------------------------ models

    /** {@code ember_model*}: a loaded model, freed with {@link #ember_model_free}. */
    @Opaque
    public static class ember_model extends Pointer {
        public ember_model() {
            super((Pointer) null);
        }

        public ember_model(Pointer p) {
            super(p);
        }
    }

    public static class ember_load_options extends Pointer {
        static {
            Loader.load();
        }

        public ember_load_options() {
            super((Pointer) null);
            allocate();
        }

        public ember_load_options(Pointer p) {
            super(p);
        }

        private native void allocate();

        public native int backend();
        public native ember_load_options backend(int setter);
        public native int threads();
        public native ember_load_options threads(int setter);
        public native int device();
        public native ember_load_options device(int setter);
        public native int rope_scaling();
        public native ember_load_options rope_scaling(int setter);
        public native double rope_factor();
        public native ember_load_options rope_factor(double setter);
        public native double rope_theta();
        public native ember_load_options rope_theta(double setter);
        public native int self_extend_group();
        public native ember_load_options self_extend_group(int setter);
        public native int self_extend_window();
        public native ember_load_options self_extend_window(int setter);
        public native int attention_scaling();
        public native ember_load_options attention_scaling(int setter);
        public native int cuda_precision();
        public native ember_load_options cuda_precision(int setter);
        public native int cuda_graphs();
        public native ember_load_options cuda_graphs(int setter);
        public native int cuda_cublaslt();
        public native ember_load_options cuda_cublaslt(int setter);
        public native int reserved(int i);
        public native ember_load_options reserved(int i, int setter);
    }

    public static native void ember_load_options_init(ember_load_options opts);

    public static native @Cast("ember_status") int ember_model_load(
            @Cast("const char*") BytePointer path, @Const ember_load_options opts, @ByPtrPtr ember_model out);

    public static native @Cast("ember_status") int ember_model_load(
            String path, @Const ember_load_options opts, @ByPtrPtr ember_model out);

    public static native void ember_model_free(ember_model model);

    /** Model handles loaded and not yet freed, process-wide (leak checks). */
    public static native long ember_live_models();

    /** Filled by {@link #ember_model_get_info}; read-only fields. */
    public static class ember_model_info extends Pointer {
        static {
            Loader.load();
        }

        public ember_model_info() {
            super((Pointer) null);
            allocate();
        }

        public ember_model_info(Pointer p) {
            super(p);
        }

        private native void allocate();

        @MemberGetter public native int hidden_size();
        @MemberGetter public native int embedding_size();
        @MemberGetter public native int vocab_size();
        @MemberGetter public native int num_layers();
        @MemberGetter public native int num_heads();
        @MemberGetter public native int num_kv_heads();
        @MemberGetter public native int head_dim();
        @MemberGetter public native int intermediate_size();
        @MemberGetter public native int max_positions();
        @MemberGetter public native int causal();
        @MemberGetter public native int pooling();
        @MemberGetter public native int backend();
        @MemberGetter public native int weight_dtype();
        @MemberGetter public native int threads();
        @MemberGetter public native long weight_bytes();

        /** {@code char architecture[64]}, NUL-terminated: read with {@code getString()}. */
        @MemberGetter
        public native @Cast("char*") BytePointer architecture();

        /** {@code char family[64]}, NUL-terminated: read with {@code getString()}. */
        @MemberGetter
        public native @Cast("char*") BytePointer family();
    }

    public static native @Cast("ember_status") int ember_model_get_info(
            @Const ember_model model, ember_model_info out);

    /** A ragged batch; the arrays it points to must stay alive while it is used. */
    public static class ember_batch extends Pointer {
        static {
            Loader.load();
        }

        public ember_batch() {
            super((Pointer) null);
            allocate();
        }

        public ember_batch(Pointer p) {
            super(p);
        }

        private native void allocate();

        public native @Cast("const int32_t*") IntPointer token_ids();
        public native ember_batch token_ids(@Cast("const int32_t*") IntPointer setter);
        public native @Cast("const int32_t*") IntPointer cu_seqlens();
        public native ember_batch cu_seqlens(@Cast("const int32_t*") IntPointer setter);
        public native int n_seqs();
        public native ember_batch n_seqs(int setter);
        public native @Cast("const int32_t*") IntPointer pool_start();
        public native ember_batch pool_start(@Cast("const int32_t*") IntPointer setter);
        public native @Cast("const int32_t*") IntPointer encoder_token_ids();
        public native ember_batch encoder_token_ids(@Cast("const int32_t*") IntPointer setter);
        public native @Cast("const int32_t*") IntPointer encoder_cu_seqlens();
        public native ember_batch encoder_cu_seqlens(@Cast("const int32_t*") IntPointer setter);
    }

    public static class ember_embed_options extends Pointer {
        static {
            Loader.load();
        }

        public ember_embed_options() {
            super((Pointer) null);
            allocate();
        }

        public ember_embed_options(Pointer p) {
            super(p);
        }

        private native void allocate();

        public native int normalize();
        public native ember_embed_options normalize(int setter);
        public native int dimensions();
        public native ember_embed_options dimensions(int setter);
        public native int reserved(int i);
        public native ember_embed_options reserved(int i, int setter);
    }

    public static native void ember_embed_options_init(ember_embed_options opts);

    public static native @Cast("ember_status") int ember_embed(
            ember_model model, @Const ember_batch batch, @Const ember_embed_options opts,
            FloatPointer out, @Cast("size_t") long out_len);

    public static native @Cast("ember_status") int ember_forward_hidden(
            ember_model model, @Const ember_batch batch, FloatPointer out, @Cast("size_t") long out_len);

    public static native @Cast("ember_status") int ember_hidden_rows(
            @Const ember_model model, @Const ember_batch batch, @Cast("int64_t*") LongPointer rows);

    public static native @Cast("ember_status") int ember_hidden_rows(
            @Const ember_model model, @Const ember_batch batch, @Cast("int64_t*") long[] rows);

    /** ember_embed with plain arrays: no JavaCPP allocation on the hot path. */
    public static native @Cast("ember_status") int ember_embed_arrays(
            ember_model model, @Cast("const int32_t*") int[] token_ids, @Cast("const int32_t*") int[] cu_seqlens,
            int n_seqs, @Cast("const int32_t*") int[] pool_start, @Cast("const int32_t*") int[] encoder_token_ids,
            @Cast("const int32_t*") int[] encoder_cu_seqlens, int normalize, int dimensions, float[] out,
            @Cast("size_t") long out_len);

    public static native @Cast("ember_status") int ember_forward_hidden_arrays(
            ember_model model, @Cast("const int32_t*") int[] token_ids, @Cast("const int32_t*") int[] cu_seqlens,
            int n_seqs, @Cast("const int32_t*") int[] encoder_token_ids,
            @Cast("const int32_t*") int[] encoder_cu_seqlens, float[] out, @Cast("size_t") long out_len);

    public static native @Cast("ember_status") int ember_hidden_rows_arrays(
            @Const ember_model model, @Cast("const int32_t*") int[] token_ids, @Cast("const int32_t*") int[] cu_seqlens,
            int n_seqs, @Cast("const int32_t*") int[] encoder_token_ids,
            @Cast("const int32_t*") int[] encoder_cu_seqlens, @Cast("int64_t*") long[] rows);

    /** The model as Ember recognized it, as JSON; see ember.h. */
    public static native @Cast("ember_status") int ember_model_describe(
            @Const ember_model model, @Cast("char*") byte[] buf, @Cast("size_t") long buf_len,
            @Cast("size_t*") SizeTPointer needed);

    /** What the model has done at run time (CUDA-graph replays), as JSON; see ember.h. */
    public static native @Cast("ember_status") int ember_model_runtime(
            @Const ember_model model, @Cast("char*") byte[] buf, @Cast("size_t") long buf_len,
            @Cast("size_t*") SizeTPointer needed);

    // ------------------------------------------------------------------ ember_intermediate

    public static final int EMBER_INTERMEDIATE_LATENT_OUTPUT = 1;
    public static final int EMBER_INTERMEDIATE_CONTEXTUAL_TOKEN = 2;
    public static final int EMBER_INTERMEDIATE_ENCODER_HIDDEN = 3;

    public static native @Cast("ember_status") int ember_intermediate_shape(
            @Const ember_model model, @Const ember_batch batch, int which,
            @Cast("int64_t*") long[] rows, @Cast("int64_t*") long[] cols);

    public static native @Cast("ember_status") int ember_forward_intermediate(
            ember_model model, @Const ember_batch batch, int which, FloatPointer out, @Cast("size_t") long out_len);

    // ------------------------------------------------------------------ kernels (kernels.h)

    /** y[m, n] (+)= x[m, k] * W[n, k]^T (+ bias[n]). */
    public static class ember_matmul_params extends Pointer {
        static {
            Loader.load();
        }

        public ember_matmul_params() {
            super((Pointer) null);
            allocate();
        }

        public ember_matmul_params(Pointer p) {
            super(p);
        }

        private native void allocate();

        public native @Const FloatPointer x();
        public native ember_matmul_params x(@Const FloatPointer setter);
        public native long x_stride();
        public native ember_matmul_params x_stride(long setter);
        public native @Const Pointer w();
        public native ember_matmul_params w(@Const Pointer setter);
        public native int w_dtype();
        public native ember_matmul_params w_dtype(int setter);
        public native @Const FloatPointer bias();
        public native ember_matmul_params bias(@Const FloatPointer setter);
        public native FloatPointer y();
        public native ember_matmul_params y(FloatPointer setter);
        public native long y_stride();
        public native ember_matmul_params y_stride(long setter);
        public native long m();
        public native ember_matmul_params m(long setter);
        public native long n();
        public native ember_matmul_params n(long setter);
        public native long k();
        public native ember_matmul_params k(long setter);
        public native int accumulate();
        public native ember_matmul_params accumulate(int setter);
    }

    /** y = x / sqrt(mean(x^2) + eps) * weight per row, after x += residual when set. */
    public static class ember_rmsnorm_params extends Pointer {
        static {
            Loader.load();
        }

        public ember_rmsnorm_params() {
            super((Pointer) null);
            allocate();
        }

        public ember_rmsnorm_params(Pointer p) {
            super(p);
        }

        private native void allocate();

        public native FloatPointer x();
        public native ember_rmsnorm_params x(FloatPointer setter);
        public native long x_stride();
        public native ember_rmsnorm_params x_stride(long setter);
        public native @Const FloatPointer residual();
        public native ember_rmsnorm_params residual(@Const FloatPointer setter);
        public native long residual_stride();
        public native ember_rmsnorm_params residual_stride(long setter);
        public native @Const FloatPointer weight();
        public native ember_rmsnorm_params weight(@Const FloatPointer setter);
        public native FloatPointer y();
        public native ember_rmsnorm_params y(FloatPointer setter);
        public native long y_stride();
        public native ember_rmsnorm_params y_stride(long setter);
        public native long rows();
        public native ember_rmsnorm_params rows(long setter);
        public native int dim();
        public native ember_rmsnorm_params dim(int setter);
        public native float eps();
        public native ember_rmsnorm_params eps(float setter);
    }

    /** Rotary position embedding, in place on heads of head_dim within each row of x. */
    public static class ember_rope_params extends Pointer {
        static {
            Loader.load();
        }

        public ember_rope_params() {
            super((Pointer) null);
            allocate();
        }

        public ember_rope_params(Pointer p) {
            super(p);
        }

        private native void allocate();

        public native FloatPointer x();
        public native ember_rope_params x(FloatPointer setter);
        public native long x_stride();
        public native ember_rope_params x_stride(long setter);
        public native @Cast("const int32_t*") IntPointer cu_seqlens();
        public native ember_rope_params cu_seqlens(@Cast("const int32_t*") IntPointer setter);
        public native int n_seqs();
        public native ember_rope_params n_seqs(int setter);
        public native int n_heads();
        public native ember_rope_params n_heads(int setter);
        public native int head_dim();
        public native ember_rope_params head_dim(int setter);
        public native int rot_dim();
        public native ember_rope_params rot_dim(int setter);
        public native @Const FloatPointer cos();
        public native ember_rope_params cos(@Const FloatPointer setter);
        public native @Const FloatPointer sin();
        public native ember_rope_params sin(@Const FloatPointer setter);
        public native long table_rows();
        public native ember_rope_params table_rows(long setter);
        public native @Cast("const int64_t*") LongPointer table_first_row();
        public native ember_rope_params table_first_row(@Cast("const int64_t*") LongPointer setter);
        public native int pos_offset();
        public native ember_rope_params pos_offset(int setter);
        public native int interleaved();
        public native ember_rope_params interleaved(int setter);
        public native int pos_group();
        public native ember_rope_params pos_group(int setter);
    }

    /** Fused attention over a ragged batch (GQA, optional causal mask, SelfExtend, length scaling). */
    public static class ember_attention_params extends Pointer {
        static {
            Loader.load();
        }

        public ember_attention_params() {
            super((Pointer) null);
            allocate();
        }

        public ember_attention_params(Pointer p) {
            super(p);
        }

        private native void allocate();

        public native @Const FloatPointer q();
        public native ember_attention_params q(@Const FloatPointer setter);
        public native @Const FloatPointer k();
        public native ember_attention_params k(@Const FloatPointer setter);
        public native @Const FloatPointer v();
        public native ember_attention_params v(@Const FloatPointer setter);
        public native FloatPointer out();
        public native ember_attention_params out(FloatPointer setter);
        public native long q_stride();
        public native ember_attention_params q_stride(long setter);
        public native long k_stride();
        public native ember_attention_params k_stride(long setter);
        public native long v_stride();
        public native ember_attention_params v_stride(long setter);
        public native long out_stride();
        public native ember_attention_params out_stride(long setter);
        public native @Cast("const int32_t*") IntPointer cu_seqlens();
        public native ember_attention_params cu_seqlens(@Cast("const int32_t*") IntPointer setter);
        public native int n_seqs();
        public native ember_attention_params n_seqs(int setter);
        public native int n_heads();
        public native ember_attention_params n_heads(int setter);
        public native int n_kv_heads();
        public native ember_attention_params n_kv_heads(int setter);
        public native int head_dim();
        public native ember_attention_params head_dim(int setter);
        public native float scale();
        public native ember_attention_params scale(float setter);
        public native int causal();
        public native ember_attention_params causal(int setter);
        public native @Const FloatPointer q_group();
        public native ember_attention_params q_group(@Const FloatPointer setter);
        public native @Const FloatPointer k_group();
        public native ember_attention_params k_group(@Const FloatPointer setter);
        public native @Const FloatPointer q_group_future();
        public native ember_attention_params q_group_future(@Const FloatPointer setter);
        public native @Const FloatPointer k_group_future();
        public native ember_attention_params k_group_future(@Const FloatPointer setter);
        public native long q_group_stride();
        public native ember_attention_params q_group_stride(long setter);
        public native long k_group_stride();
        public native ember_attention_params k_group_stride(long setter);
        public native long q_group_future_stride();
        public native ember_attention_params q_group_future_stride(long setter);
        public native long k_group_future_stride();
        public native ember_attention_params k_group_future_stride(long setter);
        public native int self_extend_window();
        public native ember_attention_params self_extend_window(int setter);
        public native int length_scaling_base();
        public native ember_attention_params length_scaling_base(int setter);
    }

    /** out = silu(gate) * up, elementwise over rows of cols. */
    public static class ember_swiglu_params extends Pointer {
        static {
            Loader.load();
        }

        public ember_swiglu_params() {
            super((Pointer) null);
            allocate();
        }

        public ember_swiglu_params(Pointer p) {
            super(p);
        }

        private native void allocate();

        public native @Const FloatPointer gate();
        public native ember_swiglu_params gate(@Const FloatPointer setter);
        public native long gate_stride();
        public native ember_swiglu_params gate_stride(long setter);
        public native @Const FloatPointer up();
        public native ember_swiglu_params up(@Const FloatPointer setter);
        public native long up_stride();
        public native ember_swiglu_params up_stride(long setter);
        public native FloatPointer out();
        public native ember_swiglu_params out(FloatPointer setter);
        public native long out_stride();
        public native ember_swiglu_params out_stride(long setter);
        public native long rows();
        public native ember_swiglu_params rows(long setter);
        public native long cols();
        public native ember_swiglu_params cols(long setter);
    }

    /** Pools each sequence's rows into one vector (LAST, MEAN or CLS). */
    public static class ember_pool_params extends Pointer {
        static {
            Loader.load();
        }

        public ember_pool_params() {
            super((Pointer) null);
            allocate();
        }

        public ember_pool_params(Pointer p) {
            super(p);
        }

        private native void allocate();

        public native @Const FloatPointer x();
        public native ember_pool_params x(@Const FloatPointer setter);
        public native long x_stride();
        public native ember_pool_params x_stride(long setter);
        public native @Cast("const int32_t*") IntPointer cu_seqlens();
        public native ember_pool_params cu_seqlens(@Cast("const int32_t*") IntPointer setter);
        public native int n_seqs();
        public native ember_pool_params n_seqs(int setter);
        public native @Cast("const int32_t*") IntPointer pool_start();
        public native ember_pool_params pool_start(@Cast("const int32_t*") IntPointer setter);
        public native int dim();
        public native ember_pool_params dim(int setter);
        public native int mode();
        public native ember_pool_params mode(int setter);
        public native FloatPointer out();
        public native ember_pool_params out(FloatPointer setter);
    }

    /** {@code threads <= 0} uses all cores; {@link #EMBER_IMPL_REFERENCE} ignores it. */
    public static native @Cast("ember_status") int ember_kernel_matmul(
            int impl, @Const ember_matmul_params p, int threads);

    public static native @Cast("ember_status") int ember_kernel_rmsnorm(
            int impl, @Const ember_rmsnorm_params p, int threads);

    public static native @Cast("ember_status") int ember_kernel_rope(
            int impl, @Const ember_rope_params p, int threads);

    public static native @Cast("ember_status") int ember_kernel_attention(
            int impl, @Const ember_attention_params p, int threads);

    public static native @Cast("ember_status") int ember_kernel_swiglu(
            int impl, @Const ember_swiglu_params p, int threads);

    public static native @Cast("ember_status") int ember_kernel_pool(
            int impl, @Const ember_pool_params p, int threads);

    /** Bytes that n elements of dtype occupy (n a multiple of the block size), or -1. */
    public static native long ember_dtype_row_bytes(int dtype, long n);

    // ------------------------------------------------------------------ tools (tools.h)

    /** Hugging Face folder to a GGUF file whose matrices are {@code dtype} (an ember_dtype). */
    public static native @Cast("ember_status") int ember_convert(
            String hf_dir, String out_gguf, int dtype);

    /** A random-weight model of a known shape: a folder, or a GGUF file when out ends in .gguf. */
    public static native @Cast("ember_status") int ember_synth_model(
            String like, String out, int dtype, @Cast("uint64_t") long seed);

    /** The tokenizer metadata of a GGUF file as JSON, without loading weights; see tools.h. */
    public static native @Cast("ember_status") int ember_gguf_tokenizer_json(
            String path, @Cast("char*") byte[] buf, @Cast("size_t") long buf_len, @Cast("size_t*") SizeTPointer needed);
}
