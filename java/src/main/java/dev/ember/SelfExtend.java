package dev.ember;

import java.util.Objects;

/**
 * SelfExtend (Jin et al. 2024, "LLM Maybe LongLM"; used for embedding models by LongEmbed):
 * training-free context extension by grouped attention. Keys closer to the query than the
 * neighbour window keep their ordinary positions; farther keys are scored with positions divided
 * by the group size (shifted so the two ranges meet), so the model never sees a relative distance
 * much beyond what it was trained on. For causal and bidirectional models; fused into the
 * attention kernels. See {@link Embedder.Builder#optSelfExtend(int, int)}.
 *
 * <p>LongEmbed's settings for E5-Mistral (4k to 32k tokens): group 9, window 512. A window of at
 * least the input's length is exactly ordinary attention.
 *
 * @param group  group size G, at least 1
 * @param window neighbour window W, at least 1
 */
public record SelfExtend(int group, int window) {
    static final int MAX = 1 << 20;

    public SelfExtend {
        if (group < 1 || group > MAX || window < 1 || window > MAX) {
            throw new InvalidInputException("SelfExtend group size and window must be in [1, " + MAX + "], got group "
                    + group + ", window " + window);
        }
    }

    /**
     * Reads {@code G,W}, e.g. {@code 9,512}.
     *
     * @throws InvalidInputException naming what is wrong
     */
    public static SelfExtend parse(String spec) {
        Objects.requireNonNull(spec, "spec");
        String[] parts = spec.split(",", -1);
        if (parts.length != 2) {
            throw new InvalidInputException("SelfExtend \"" + spec + "\" must be GROUP,WINDOW, e.g. 9,512");
        }
        try {
            return new SelfExtend(Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[1].trim()));
        } catch (NumberFormatException e) {
            throw new InvalidInputException("SelfExtend \"" + spec + "\" must be two integers GROUP,WINDOW, e.g. 9,512");
        }
    }

    /** The text form {@link #parse} reads. */
    @Override
    public String toString() {
        return group + "," + window;
    }
}
