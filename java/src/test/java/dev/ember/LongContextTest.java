package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Long-context options through the API: RoPE scaling and base overrides, SelfExtend and
 * LongEmbed's attention scaling reach the native model; bad values are InvalidInputException.
 * (The numerics are pinned by the C++ tests: test_rope_freqs, test_self_extend, test_models.)
 */
class LongContextTest {
    private static final double TOLERANCE = 1e-5;

    private static Embedder.Builder cpu(String golden) {
        return Embedder.builder().setModel(Goldens.dir(golden)).optBackend(Backend.CPU).optThreads(2);
    }

    private static int[] randomIds(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = r.nextInt(vocab);
        }
        return ids;
    }

    private static double maxDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            assertTrue(Float.isFinite(a[i]) && Float.isFinite(b[i]), "finite");
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    @Test
    void ropeScalingTextForms() {
        assertEquals(RopeScaling.of(RopeScaling.Type.NTK, 4), RopeScaling.parse("ntk:4"));
        assertEquals(RopeScaling.of(RopeScaling.Type.YARN, 2.5), RopeScaling.parse(" YaRN:2.5 "));
        assertEquals(RopeScaling.none(), RopeScaling.parse("none"));
        for (String s : List.of("linear:8", "ntk:4", "dynamic:2", "yarn:4", "llama3:8", "none", "yarn:2.5")) {
            assertEquals(s, RopeScaling.parse(s).toString());
        }
        for (String bad : List.of("", "ntk", "ntk:", "ntk:x", "ntk:0.5", "ntk:-2", "ntk:NaN", "ntk:Infinity", "longrope:4",
                "none:2", "default:2", "ntk:4:5")) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> RopeScaling.parse(bad), bad);
            assertTrue(e.getMessage().contains("RoPE scaling"), e.getMessage());
        }
        assertEquals(new SelfExtend(9, 512), SelfExtend.parse("9,512"));
        assertEquals("9,512", new SelfExtend(9, 512).toString());
        for (String bad : List.of("9", "9,", ",512", "0,512", "9,0", "a,b", "9,512,1", "-1,4")) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> SelfExtend.parse(bad), bad);
            assertTrue(e.getMessage().contains("SelfExtend"), e.getMessage());
        }
    }

    @Test
    void badBuilderValuesAreInvalidInput() {
        Embedder.Builder b = Embedder.builder();
        assertThrows(InvalidInputException.class, () -> b.optRopeTheta(1.0));
        assertThrows(InvalidInputException.class, () -> b.optRopeTheta(Double.NaN));
        assertThrows(InvalidInputException.class, () -> b.optRopeTheta(Double.POSITIVE_INFINITY));
        assertThrows(InvalidInputException.class, () -> b.optSelfExtend(0, 512));
        assertThrows(InvalidInputException.class, () -> b.optSelfExtend(9, -1));
        assertThrows(InvalidInputException.class, () -> b.optAttentionScaling(1));
        assertThrows(InvalidInputException.class, () -> b.optRopeScaling("warp:9"));
        assertThrows(InvalidInputException.class, () -> RopeScaling.of(RopeScaling.Type.LINEAR, 0.9));
    }

    /** Naming the variant config.json already has (same factor, base, trained context) changes nothing. */
    @Test
    void anOverrideEqualToTheConfigReproducesTheGolden() {
        Goldens.Case c = Goldens.cases("qwen3-yarn-tiny").get(1);  // 450 tokens: past the trained 128
        try (Embedder e = cpu("qwen3-yarn-tiny").optRopeScaling("yarn:4").build()) {
            double err = Goldens.relError(e.embedTokens(new int[][] {c.ids()})[0], c.embedding());
            assertTrue(err <= TOLERANCE, "yarn:4 over qwen3-yarn-tiny: embedding rel error " + err);
        }
        try (Embedder e = cpu("qwen3-yarn-tiny").optRopeScaling("none").build()) {
            double err = Goldens.relError(e.embedTokens(new int[][] {c.ids()})[0], c.embedding());
            assertTrue(err > 1e-3, "without YaRN the 450-token case must differ: " + err);
        }
    }

    @Test
    void selfExtendAndRopeThetaReachTheModel() {
        int[] ids = randomIds(200, 512, 7);
        float[] plain;
        try (Embedder e = cpu("llama-bidir-tiny").build()) {
            plain = e.embedTokens(new int[][] {ids})[0];
        }
        // A window covering the input is ordinary attention, exactly.
        try (Embedder e = cpu("llama-bidir-tiny").optSelfExtend(4, 256).build()) {
            assertArrayEquals(plain, e.embedTokens(new int[][] {ids})[0]);
        }
        try (Embedder e = cpu("llama-bidir-tiny").optSelfExtend(3, 16).optAttentionScaling(64).build()) {
            float[] grouped = e.embedTokens(new int[][] {ids})[0];
            assertTrue(maxDiff(plain, grouped) > 1e-4, "SelfExtend with W=16 over 200 tokens changes the embedding");
            assertTrue(e.describe().contains("\"self_extend\":{\"group\":3,\"window\":16}"), e.describe());
            assertTrue(e.describe().contains("\"attention_scaling\":64"), e.describe());
        }
        try (Embedder e = cpu("llama-bidir-tiny").optRopeTheta(1e5).optMaxLength(8192).build()) {
            assertTrue(maxDiff(plain, e.embedTokens(new int[][] {ids})[0]) > 1e-4, "another RoPE base");
            assertTrue(e.describe().contains("\"theta\":100000.0"), e.describe());
        }
    }
}
