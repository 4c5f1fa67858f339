package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole stack (Java -> JNI -> native model -> CPU kernels) against Hugging Face transformers'
 * float64 outputs: within 1e-5 relative error (max |diff| / max |ref|).
 */
class GoldenTest {
    private static final double TOLERANCE = 1e-5;

    @ParameterizedTest
    @ValueSource(strings = {"qwen3-tiny", "qwen3-tiny-bf16", "llama-bidir-tiny"})
    void matchesTransformers(String name) {
        List<Goldens.Case> cases = Goldens.cases(name);
        try (Embedder e = Embedder.builder().setModel(Goldens.dir(name)).optBackend(Backend.CPU).optThreads(2).build()) {
            for (Goldens.Case c : cases) {
                double hiddenErr = Goldens.relError(e.lastHiddenState(c.ids()), c.lastHiddenState());
                assertTrue(hiddenErr <= TOLERANCE, name + " len " + c.ids().length + ": last_hidden_state rel error " + hiddenErr);
                float[] embedding = e.embedTokens(new int[][] {c.ids()})[0];
                double embErr = Goldens.relError(embedding, c.embedding());
                assertTrue(embErr <= TOLERANCE, name + " len " + c.ids().length + ": embedding rel error " + embErr);
                float[] pooled = e.embedTokens(new int[][] {c.ids()}, null, false, 0)[0];
                double pooledErr = Goldens.relError(pooled, c.pooled());
                assertTrue(pooledErr <= TOLERANCE, name + ": pooled rel error " + pooledErr);
            }
        }
    }

    /** A ragged batch of every case gives the vectors each case gives alone. */
    @ParameterizedTest
    @ValueSource(strings = {"qwen3-tiny", "llama-bidir-tiny"})
    void raggedBatchEqualsSingles(String name) {
        List<Goldens.Case> cases = Goldens.cases(name);
        int[][] all = cases.stream().map(Goldens.Case::ids).toArray(int[][]::new);
        try (Embedder e = Embedder.builder().setModel(Goldens.dir(name)).optBackend(Backend.CPU).optThreads(2).build()) {
            float[][] batched = e.embedTokens(all);
            assertEquals(all.length, batched.length);
            for (int i = 0; i < all.length; i++) {
                float[] alone = e.embedTokens(new int[][] {all[i]})[0];
                double err = Goldens.relError(batched[i], alone);
                assertTrue(err <= 1e-6, "case " + i + ": batched vs alone rel error " + err);
            }
            // Order of the batch does not matter either.
            int[][] reversed = new int[all.length][];
            for (int i = 0; i < all.length; i++) {
                reversed[i] = all[all.length - 1 - i];
            }
            float[][] back = e.embedTokens(reversed);
            for (int i = 0; i < all.length; i++) {
                assertTrue(Goldens.relError(back[all.length - 1 - i], batched[i]) <= 1e-6);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 16, 63})
    void matryoshkaIsTheRenormalizedPrefix(int dims) {
        int[] ids = Goldens.cases("qwen3-tiny").get(2).ids();
        try (Embedder e = Embedder.builder().setModel(Goldens.dir("qwen3-tiny")).optBackend(Backend.CPU).build()) {
            float[] full = e.embedTokens(new int[][] {ids})[0];
            float[] cut = e.embedTokens(new int[][] {ids}, null, true, dims)[0];
            assertEquals(dims, cut.length);
            double norm = 0;
            double prefixNorm = 0;
            for (int i = 0; i < dims; i++) {
                norm += (double) cut[i] * cut[i];
                prefixNorm += (double) full[i] * full[i];
            }
            assertEquals(1.0, norm, 1e-5);
            float[] expected = new float[dims];
            for (int i = 0; i < dims; i++) {
                expected[i] = (float) (full[i] / Math.sqrt(prefixNorm));
            }
            assertArrayEquals(expected, cut, 1e-6f);
        }
    }
}
