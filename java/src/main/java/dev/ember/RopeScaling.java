package dev.ember;

import java.util.Locale;
import java.util.Objects;

/**
 * A RoPE scaling chosen when a model is loaded, replacing what its {@code config.json} (or GGUF
 * metadata) says; see {@link Embedder.Builder#optRopeScaling(RopeScaling)}. The factor extends the
 * context the model was trained for ({@code original_max_position_embeddings} when the config
 * has one, else {@code max_position_embeddings}); the inverse frequencies are the ones Hugging
 * Face {@code transformers} computes for the same settings.
 *
 * <p>Text form ({@link #parse}, the command line's {@code --rope-scaling}): {@code none},
 * {@code linear:F}, {@code ntk:F}, {@code dynamic:F}, {@code yarn:F}, {@code llama3:F}.
 *
 * @param type   the variant
 * @param factor the extension factor, at least 1 (1 for {@link Type#NONE})
 */
public record RopeScaling(Type type, double factor) {

    /** The scaling variants. */
    public enum Type {
        /** Plain RoPE with the model's (or {@link Embedder.Builder#optRopeTheta}'s) base. */
        NONE,
        /** Position interpolation: every frequency divided by the factor. */
        LINEAR,
        /** Static NTK-aware scaling: the base becomes {@code base * factor^(d / (d - 2))}. */
        NTK,
        /**
         * Dynamic NTK: a sequence longer than the trained context L gets the NTK base for its own
         * length n, {@code base * (factor * n / L - (factor - 1))^(d / (d - 2))}; shorter ones plain
         * RoPE. Each sequence of a batch uses its own length (transformers' padded batches use the
         * longest).
         */
        DYNAMIC,
        /** YaRN (beta_fast 32, beta_slow 1), cos / sin multiplied by {@code 0.1 ln(factor) + 1}. */
        YARN,
        /** Llama 3.1's scaling (low_freq_factor 1, high_freq_factor 4). */
        LLAMA3
    }

    /** Validates: a type, and a finite factor in [1, 1e6] (exactly 1 for {@link Type#NONE}). */
    public RopeScaling {
        if (type == null) {
            throw new InvalidInputException("RoPE scaling type must not be null");
        }
        if (type == Type.NONE) {
            if (factor != 1.0) {
                throw new InvalidInputException("RoPE scaling \"none\" takes no factor, got " + factor);
            }
        } else if (!(factor >= 1.0 && factor <= 1e6)) {
            throw new InvalidInputException("RoPE scaling factor must be a number in [1, 1e6], got " + factor);
        }
    }

    /** Plain RoPE, without the model's own scaling. */
    public static RopeScaling none() {
        return new RopeScaling(Type.NONE, 1.0);
    }

    public static RopeScaling of(Type type, double factor) {
        return new RopeScaling(type, factor);
    }

    /**
     * Reads {@code none} or {@code TYPE:FACTOR} with TYPE one of linear, ntk, dynamic, yarn,
     * llama3 (case-insensitive), e.g. {@code ntk:4}.
     *
     * @throws InvalidInputException naming what is wrong
     */
    public static RopeScaling parse(String spec) {
        Objects.requireNonNull(spec, "spec");
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("none")) {
            return none();
        }
        int colon = s.indexOf(':');
        String name = colon < 0 ? s : s.substring(0, colon);
        Type type;
        try {
            type = Type.valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            type = null;
        }
        if (type == null || type == Type.NONE) {
            throw new InvalidInputException("unknown RoPE scaling \"" + spec
                    + "\": expected none, linear:F, ntk:F, dynamic:F, yarn:F or llama3:F");
        }
        if (colon < 0) {
            throw new InvalidInputException("RoPE scaling \"" + spec + "\" needs a factor, e.g. " + name + ":4");
        }
        double factor;
        try {
            factor = Double.parseDouble(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new InvalidInputException("RoPE scaling \"" + spec + "\": \"" + s.substring(colon + 1)
                    + "\" is not a number");
        }
        return new RopeScaling(type, factor);
    }

    /** The text form {@link #parse} reads. */
    @Override
    public String toString() {
        if (type == Type.NONE) {
            return "none";
        }
        String f = factor == Math.rint(factor) ? String.valueOf((long) factor) : String.valueOf(factor);
        return type.name().toLowerCase(Locale.ROOT) + ":" + f;
    }
}
