package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole stack (Java -> JNI -> native model -> CPU kernels) against Hugging Face transformers'
 * float64 outputs: within 1e-5 relative error (max |diff| / max |ref|).
 */
class GoldenTest {
    private static final double TOLERANCE = 1e-5;

    @ParameterizedTest
    @ValueSource(strings = {"qwen3-tiny", "qwen3-tiny-bf16", "llama-bidir-tiny", "qwen3-yarn-tiny",
        "llama-bidir-llama3rope-tiny"})
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

    /**
     * NV-Embed (latent-attention pooling over the instruction-masked tokens) and Causal2Vec (encoder
     * ids, contextual token): every field of the reference, and all cases as one ragged batch.
     */
    @ParameterizedTest
    @ValueSource(strings = {"nvembed-tiny", "causal2vec-tiny"})
    void latentAndContextualFamiliesMatchReference(String name) {
        List<Goldens.Case> cases = Goldens.cases(name);
        try (Embedder e = Embedder.builder().setModel(Goldens.dir(name)).optBackend(Backend.CPU).optThreads(2).build()) {
            for (Goldens.Case c : cases) {
                String what = name + " len " + c.ids().length + ": ";
                int[][] enc = c.encoderIds() == null ? null : new int[][] {c.encoderIds()};
                int[] start = {c.instructionLen()};
                double hiddenErr = Goldens.relError(e.lastHiddenState(c.ids(), c.encoderIds()), c.lastHiddenState());
                assertTrue(hiddenErr <= TOLERANCE, what + "last_hidden_state rel error " + hiddenErr);
                double embErr = Goldens.relError(e.embedTokens(new int[][] {c.ids()}, start, enc)[0], c.embedding());
                assertTrue(embErr <= TOLERANCE, what + "embedding rel error " + embErr);
                float[] pooled = e.embedTokens(new int[][] {c.ids()}, start, enc, false, 0)[0];
                double pooledErr = Goldens.relError(pooled, c.pooled());
                assertTrue(pooledErr <= TOLERANCE, what + "pooled rel error " + pooledErr);
                if (c.latentOutput() != null) {
                    float[][] latent = e.intermediate(Intermediate.LATENT_OUTPUT, c.ids(), c.instructionLen(), null);
                    double err = Goldens.relError(latent, c.latentOutput());
                    assertTrue(err <= TOLERANCE, what + "latent_output rel error " + err);
                }
                if (c.contextualToken() != null) {
                    float[][] ctx = e.intermediate(Intermediate.CONTEXTUAL_TOKEN, c.ids(), 0, c.encoderIds());
                    assertEquals(1, ctx.length);
                    double err = Goldens.relError(ctx[0], c.contextualToken());
                    assertTrue(err <= TOLERANCE, what + "contextual_token rel error " + err);
                    float[][] encoder = e.intermediate(Intermediate.ENCODER_HIDDEN, c.ids(), 0, c.encoderIds());
                    double encErr = Goldens.relError(encoder, c.encoderHidden());
                    assertTrue(encErr <= TOLERANCE, what + "encoder_last_hidden_state rel error " + encErr);
                }
            }
            int n = cases.size();
            int[][] ids = new int[n][];
            int[] starts = new int[n];
            int[][] enc = cases.get(0).encoderIds() == null ? null : new int[n][];
            for (int i = 0; i < n; i++) {
                ids[i] = cases.get(i).ids();
                starts[i] = cases.get(i).instructionLen();
                if (enc != null) {
                    enc[i] = cases.get(i).encoderIds();
                }
            }
            float[][] batched = e.embedTokens(ids, starts, enc);
            for (int i = 0; i < n; i++) {
                double err = Goldens.relError(batched[i], cases.get(i).embedding());
                assertTrue(err <= TOLERANCE, name + " batched case " + i + ": rel error " + err);
            }
        }
    }

    /** What the native side recognized, through the Java API. */
    @Test
    void describeReportsTheFamily() throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        try (Embedder e = Embedder.builder().setModel(Goldens.dir("nvembed-tiny")).optBackend(Backend.CPU).build()) {
            com.fasterxml.jackson.databind.JsonNode d = json.readTree(e.describe());
            assertEquals("nv-embed", d.get("family").asText());
            assertEquals(16, d.get("latent_attention").get("latents").asInt());
            assertEquals("bidirectional", d.get("attention").asText());
            assertEquals(Pooling.LATENT, e.info().pooling());
            e.embedTokens(new int[][] {{1, 2, 3}});
            com.fasterxml.jackson.databind.JsonNode graphs = json.readTree(e.runtime()).get("graphs");
            assertFalse(graphs.get("enabled").asBoolean(), "the CPU backend replays no CUDA graphs");
            assertEquals(0, graphs.get("replayed").asInt());
            assertEquals(0, graphs.get("failed").asInt());
            assertThrows(InvalidInputException.class,
                    () -> e.intermediate(Intermediate.CONTEXTUAL_TOKEN, new int[] {1, 2}, 0, null));
            assertThrows(InvalidInputException.class,
                    () -> e.embedTokens(new int[][] {{1, 2}}, null, new int[][] {{3}}));
        }
        try (Embedder e = Embedder.builder().setModel(Goldens.dir("causal2vec-tiny")).optBackend(Backend.CPU).build()) {
            assertEquals(128, e.dimension());
            assertEquals(Pooling.CONCAT_CONTEXTUAL_LAST, e.info().pooling());
            InvalidInputException missing = assertThrows(InvalidInputException.class,
                    () -> e.embedTokens(new int[][] {{1, 2}}));
            assertTrue(missing.getMessage().contains("encoder"), missing.getMessage());
            assertEquals(3, e.lastHiddenState(new int[] {1, 2}, new int[] {4}).length);
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
