package dev.ember;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.internal.NativeKernels;
import java.util.Random;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Ember's fused attention kernel (and its scalar twin) against an implementation nobody here
 * wrote: PyTorch's scaled_dot_product_attention, run in float64 on the same float32 inputs, one
 * sequence of the ragged batch at a time.
 */
class AttentionVsPyTorchTest {
    /**
     * flash-attention's rule: measured against float64 SDPA, Ember's float32 kernel may be at most
     * twice as far off as PyTorch's own float32 SDPA on the same inputs (plus 1e-7 so that a lucky
     * near-exact float32 run does not make the bound zero). The error of float32 attention grows
     * with the size of the logits (rounding of q.k is amplified by exp), so a fixed bound would be
     * either loose or flaky; a wrong mask or GQA mapping shows up as O(1) errors either way.
     */
    private static double bound(double naiveFloat32Error) {
        return 2 * naiveFloat32Error + 1e-7;
    }

    @ParameterizedTest(name = "heads {0}/{1}, d {2}, causal {3}, lengths {4}")
    @CsvSource({
        "4, 4, 64, true, 1 7 97",
        "4, 4, 64, false, 1 7 97",
        "8, 2, 128, true, 33 129",
        "8, 2, 128, false, 33 129",
        "16, 8, 128, true, 515",
        "16, 2, 64, false, 1025",
        "6, 1, 64, true, 5 300 2",
    })
    void matchesSdpa(int heads, int kvHeads, int headDim, boolean causal, String lengths) {
        String[] parts = lengths.trim().split(" ");
        int[] cu = new int[parts.length + 1];
        for (int i = 0; i < parts.length; i++) {
            cu[i + 1] = cu[i] + Integer.parseInt(parts[i]);
        }
        int tokens = cu[parts.length];
        Random rng = new Random();
        float[] q = random(rng, tokens * heads * headDim);
        float[] k = random(rng, tokens * kvHeads * headDim);
        float[] v = random(rng, tokens * kvHeads * headDim);

        float[] fast = NativeKernels.attention(q, k, v, cu, heads, kvHeads, headDim, causal, false, 2);
        float[] ref = NativeKernels.attention(q, k, v, cu, heads, kvHeads, headDim, causal, true, 1);
        float[] exact = sdpa(q, k, v, cu, heads, kvHeads, headDim, causal, torch.ScalarType.Double);
        float[] naive = sdpa(q, k, v, cu, heads, kvHeads, headDim, causal, torch.ScalarType.Float);

        double errNaive = Goldens.relError(naive, exact);
        double errFast = Goldens.relError(fast, exact);
        double errRef = Goldens.relError(ref, exact);
        assertTrue(errFast <= bound(errNaive),
                "fast kernel vs float64 SDPA rel error " + errFast + ", float32 SDPA's " + errNaive);
        assertTrue(errRef <= bound(errNaive),
                "scalar twin vs float64 SDPA rel error " + errRef + ", float32 SDPA's " + errNaive);
    }

    private static float[] random(Random rng, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rng.nextGaussian() * 1.5);
        }
        return a;
    }

    /** SDPA per sequence in `type`, with GQA enabled. Layout in and out: rows of heads x headDim. */
    private static float[] sdpa(float[] q, float[] k, float[] v, int[] cu, int heads, int kvHeads, int headDim,
            boolean causal, torch.ScalarType type) {
        float[] out = new float[q.length];
        try (PointerScope scope = new PointerScope()) {
            for (int s = 0; s + 1 < cu.length; s++) {
                int len = cu[s + 1] - cu[s];
                Tensor tq = slice(q, cu[s], len, heads, headDim).to(type);
                Tensor tk = slice(k, cu[s], len, kvHeads, headDim).to(type);
                Tensor tv = slice(v, cu[s], len, kvHeads, headDim).to(type);
                Tensor o = torch.scaled_dot_product_attention(tq, tk, tv, new TensorOptional(), 0.0, causal,
                        new DoubleOptional(), true);
                // [1, H, L, D] -> [L, H, D], float32.
                Tensor rows = o.squeeze(0).permute(1, 0, 2).contiguous().to(torch.ScalarType.Float);
                FloatPointer data = new FloatPointer(rows.data_ptr());
                data.get(out, cu[s] * heads * headDim, len * heads * headDim);
            }
        }
        return out;
    }

    private static Tensor slice(float[] a, int start, int len, int heads, int headDim) {
        int width = heads * headDim;
        double[] d = new double[len * width];
        for (int i = 0; i < d.length; i++) {
            d[i] = a[start * width + i];
        }
        DoublePointer p = new DoublePointer(d);
        Tensor t = torch.from_blob(p, new long[] {len, heads, headDim},
                new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Double));
        // [L, H, D] -> [1, H, L, D]; clone so the tensor owns its memory.
        return t.permute(1, 0, 2).unsqueeze(0).contiguous().clone();
    }
}
