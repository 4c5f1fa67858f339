package dev.ember;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads the Hugging Face float64 references in tests/goldens. */
public final class Goldens {
    private Goldens() {}

    public static Path repo() {
        return Path.of(System.getProperty("ember.repo", "..")).toAbsolutePath().normalize();
    }

    public static Path dir(String name) {
        return repo().resolve("tests/goldens").resolve(name);
    }

    /**
     * One reference case. NV-Embed cases add instructionLen and latentOutput; Causal2Vec cases add
     * encoderIds, contextualToken and encoderHidden (null where a golden has none).
     */
    record Case(int[] ids, float[][] lastHiddenState, float[] pooled, float[] embedding, int instructionLen,
            int[] encoderIds, float[][] latentOutput, float[] contextualToken, float[][] encoderHidden) {}

    static List<Case> cases(String name) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(dir(name).resolve("reference.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Case> out = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            int instructionLen = c.has("instruction_len") ? c.get("instruction_len").asInt() : 0;
            out.add(new Case(ints(c.get("ids")), rows(c.get("last_hidden_state")), floats(c.get("pooled")),
                    floats(c.get("embedding")), instructionLen,
                    c.has("encoder_ids") ? ints(c.get("encoder_ids")) : null,
                    c.has("latent_output") ? rows(c.get("latent_output")) : null,
                    c.has("contextual_token") ? floats(c.get("contextual_token")) : null,
                    c.has("encoder_last_hidden_state") ? rows(c.get("encoder_last_hidden_state")) : null));
        }
        return out;
    }

    static float[][] rows(JsonNode a) {
        float[][] rows = new float[a.size()][];
        for (int r = 0; r < rows.length; r++) {
            rows[r] = floats(a.get(r));
        }
        return rows;
    }

    static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asInt();
        }
        return v;
    }

    static float[] floats(JsonNode a) {
        float[] v = new float[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) a.get(i).asDouble();
        }
        return v;
    }

    /** max |a - b| / max |b|; NaN or a length mismatch gives +inf so it never passes. */
    static double relError(float[] a, float[] b) {
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i]) || !Float.isFinite(b[i])) {
                return Double.POSITIVE_INFINITY;
            }
            maxDiff = Math.max(maxDiff, Math.abs((double) a[i] - b[i]));
            maxRef = Math.max(maxRef, Math.abs((double) b[i]));
        }
        return maxRef > 0 ? maxDiff / maxRef : maxDiff;
    }

    static double relError(float[][] a, float[][] b) {
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        return relError(flatten(a), flatten(b));
    }

    static float[] flatten(float[][] rows) {
        int n = 0;
        for (float[] r : rows) {
            n += r.length;
        }
        float[] out = new float[n];
        int o = 0;
        for (float[] r : rows) {
            System.arraycopy(r, 0, out, o, r.length);
            o += r.length;
        }
        return out;
    }
}
