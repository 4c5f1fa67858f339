package dev.ember;

import java.util.Objects;

/**
 * How to embed a list of texts: the prompt, Matryoshka dimensions, normalisation and whether the
 * prompt counts in pooling. Immutable; unset options take the model's defaults.
 *
 * <pre>{@code
 * EmbedOptions q = EmbedOptions.builder()
 *         .optPrompt(Prompt.query("Given a web search query, retrieve relevant passages"))
 *         .optDimensions(256)
 *         .build();
 * }</pre>
 */
public final class EmbedOptions {
    private static final EmbedOptions DEFAULTS = builder().build();
    private static final EmbedOptions DOCUMENTS = builder().optPrompt(Prompt.document()).build();

    private final Prompt prompt;
    private final int dimensions;
    private final Boolean normalize;
    private final Boolean excludePromptFromPooling;

    private EmbedOptions(Builder b) {
        this.prompt = b.prompt;
        this.dimensions = b.dimensions;
        this.normalize = b.normalize;
        this.excludePromptFromPooling = b.excludePromptFromPooling;
    }

    /** The model's default prompt, all dimensions, the model's normalisation. */
    public static EmbedOptions defaults() {
        return DEFAULTS;
    }

    /** Documents: {@link Prompt#document()}, otherwise defaults. */
    public static EmbedOptions documents() {
        return DOCUMENTS;
    }

    /** Queries for a task: {@link Prompt#query(String)}, otherwise defaults. */
    public static EmbedOptions query(String task) {
        return builder().optPrompt(Prompt.query(task)).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these options, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.prompt = prompt;
        b.dimensions = dimensions;
        b.normalize = normalize;
        b.excludePromptFromPooling = excludePromptFromPooling;
        return b;
    }

    public Prompt prompt() {
        return prompt;
    }

    /** Matryoshka dimensions; 0 keeps the model's full width. */
    public int dimensions() {
        return dimensions;
    }

    /** Null: the Embedder's setting. */
    Boolean normalize() {
        return normalize;
    }

    /** Null: the model's default (see {@link Builder#optExcludePromptFromPooling}). */
    Boolean excludePromptFromPooling() {
        return excludePromptFromPooling;
    }

    @Override
    public String toString() {
        return "EmbedOptions[prompt=" + prompt + ", dimensions=" + dimensions + ", normalize=" + normalize
                + ", excludePromptFromPooling=" + excludePromptFromPooling + "]";
    }

    /** Builds {@link EmbedOptions}; every option is optional. */
    public static final class Builder {
        private Prompt prompt = Prompt.modelDefault();
        private int dimensions;
        private Boolean normalize;
        private Boolean excludePromptFromPooling;

        private Builder() {}

        /** What goes in front of each text (default {@link Prompt#modelDefault()}). */
        public Builder optPrompt(Prompt prompt) {
            this.prompt = Objects.requireNonNull(prompt, "prompt");
            return this;
        }

        /**
         * Matryoshka: keep the first {@code dimensions} components, then L2-normalise again (when
         * normalising). Must be in [1, the model's embedding size]; the upper bound is checked when
         * embedding.
         *
         * @throws InvalidInputException when {@code dimensions < 1}
         */
        public Builder optDimensions(int dimensions) {
            if (dimensions < 1) {
                throw new InvalidInputException("dimensions must be at least 1 (and at most the model's embedding size), got "
                        + dimensions);
            }
            this.dimensions = dimensions;
            return this;
        }

        /** L2-normalise (default: the Embedder's setting, which follows the model's {@code modules.json}). */
        public Builder optNormalize(boolean normalize) {
            this.normalize = normalize;
            return this;
        }

        /**
         * Leave the prompt's tokens out of mean / latent pooling; they are still attended to
         * (NV-Embed's instruction masking, sentence-transformers' {@code include_prompt: false}).
         * Default: on for NV-Embed and for models whose {@code 1_Pooling/config.json} says
         * {@code "include_prompt": false}, off otherwise. No effect on last-token pooling.
         */
        public Builder optExcludePromptFromPooling(boolean exclude) {
            this.excludePromptFromPooling = exclude;
            return this;
        }

        public EmbedOptions build() {
            return new EmbedOptions(this);
        }
    }
}
