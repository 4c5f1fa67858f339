package dev.ember.internal;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;

/** Single CPU kernels on Java arrays, for tests against independent implementations and benchmarks. */
public final class NativeKernels {
    static {
        Loader.load(EmberLib.class);
    }

    private NativeKernels() {}

    /**
     * Fused attention over a ragged batch. q: tokens x (nHeads * headDim), k and v: tokens x
     * (nKvHeads * headDim), rows packed. Returns tokens x (nHeads * headDim).
     *
     * @param reference true for the scalar twin, false for the optimized kernel
     */
    public static float[] attention(float[] q, float[] k, float[] v, int[] cuSeqlens, int nHeads, int nKvHeads,
            int headDim, boolean causal, boolean reference, int threads) {
        int tokens = cuSeqlens[cuSeqlens.length - 1];
        try (PointerScope scope = new PointerScope()) {
            FloatPointer out = new FloatPointer((long) tokens * nHeads * headDim);
            EmberLib.ember_attention_params p = new EmberLib.ember_attention_params();
            p.q(new FloatPointer(q)).k(new FloatPointer(k)).v(new FloatPointer(v)).out(out);
            p.q_stride((long) nHeads * headDim).k_stride((long) nKvHeads * headDim)
                    .v_stride((long) nKvHeads * headDim).out_stride((long) nHeads * headDim);
            p.cu_seqlens(new IntPointer(cuSeqlens)).n_seqs(cuSeqlens.length - 1);
            p.n_heads(nHeads).n_kv_heads(nKvHeads).head_dim(headDim);
            p.scale((float) (1.0 / Math.sqrt(headDim))).causal(causal ? 1 : 0);
            NativeStatus.check(EmberLib.ember_kernel_attention(
                    reference ? EmberLib.EMBER_IMPL_REFERENCE : EmberLib.EMBER_IMPL_FAST, p, threads));
            float[] result = new float[(int) ((long) tokens * nHeads * headDim)];
            out.get(result);
            return result;
        }
    }
}
