package dev.ember.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ember.Embedder;
import java.util.List;
import java.util.function.Function;

/**
 * One JSONL input line of token ids: {@code {"ids": [...]}}, with NV-Embed's optional
 * {@code "instruction_len": k} (the first k ids are attended to but left out of pooling) and
 * Causal2Vec's {@code "encoder_ids": [...]} (the encoder tokenizer's ids of the same text).
 */
record TokenLine(int[] ids, int instructionLen, int[] encoderIds) {

    /** Parses a line's JSON object; {@code bad} turns a problem description into the exception to throw. */
    static TokenLine parse(JsonNode node, Function<String, BadInputException> bad) {
        if (node == null || !node.isObject()) {
            throw bad.apply("expected an object with an \"ids\" array");
        }
        int[] ids = intArray(node.get("ids"), "ids", bad);
        int instructionLen = 0;
        JsonNode len = node.get("instruction_len");
        if (len != null && !len.isNull()) {
            if (!len.canConvertToInt() || !len.isIntegralNumber() || len.intValue() < 0 || len.intValue() >= ids.length) {
                throw bad.apply("\"instruction_len\" must be an integer in [0, " + ids.length
                        + ") (at least one id has to remain for pooling)");
            }
            instructionLen = len.intValue();
        }
        JsonNode enc = node.get("encoder_ids");
        int[] encoderIds = enc == null || enc.isNull() ? null : intArray(enc, "encoder_ids", bad);
        return new TokenLine(ids, instructionLen, encoderIds);
    }

    /**
     * Checks that either every line or none carries encoder ids; returns the 1-based index of the
     * first line that breaks the rule, or 0.
     */
    static int inconsistentEncoderLine(List<TokenLine> lines) {
        boolean first = !lines.isEmpty() && lines.get(0).encoderIds() != null;
        for (int i = 1; i < lines.size(); i++) {
            if ((lines.get(i).encoderIds() != null) != first) {
                return i + 1;
            }
        }
        return 0;
    }

    /** Embeds lines as one ragged batch with the embedder's normalisation. */
    static float[][] embed(Embedder embedder, List<TokenLine> lines) {
        int n = lines.size();
        int[][] ids = new int[n][];
        int[] starts = null;
        int[][] encoder = null;
        for (int i = 0; i < n; i++) {
            TokenLine line = lines.get(i);
            ids[i] = line.ids();
            if (line.instructionLen() > 0) {
                starts = starts == null ? new int[n] : starts;
                starts[i] = line.instructionLen();
            }
            if (line.encoderIds() != null) {
                encoder = encoder == null ? new int[n][] : encoder;
                encoder[i] = line.encoderIds();
            }
        }
        return embedder.embedTokens(ids, starts, encoder);
    }

    private static int[] intArray(JsonNode a, String key, Function<String, BadInputException> bad) {
        if (a == null || !a.isArray()) {
            throw bad.apply("expected an object with an \"" + key + "\" array");
        }
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode id = a.get(i);
            if (!id.canConvertToInt() || !id.isIntegralNumber()) {
                throw bad.apply(key + "[" + i + "] is not an integer");
            }
            out[i] = id.intValue();
        }
        return out;
    }
}
