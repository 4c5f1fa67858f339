package dev.ember;

import java.util.Objects;

/**
 * What goes in front of a text before it is tokenized. Immutable.
 *
 * <p>The model folder decides what most of these mean: {@link #query} uses the family's query
 * format, {@link #named} and {@link #document} read sentence-transformers'
 * {@code config_sentence_transformers.json}. Nothing is resolved until an {@link Embedder} uses
 * the prompt, so one Prompt works with any model.
 */
public final class Prompt {
    /** How the prefix is found. */
    public enum Kind {
        /** The model's {@code default_prompt_name}, or nothing when it has none (sentence-transformers' {@code encode}). */
        MODEL_DEFAULT,
        /** No prefix at all. */
        NONE,
        /** The model's "document" prompt (or "passage", "corpus"), else the model default (sentence-transformers' {@code encode_document}). */
        DOCUMENT,
        /** The family's query format around a task description. */
        QUERY,
        /** A prompt the model defines by name in {@code config_sentence_transformers.json}. */
        NAMED,
        /** A literal prefix. */
        PREFIX
    }

    private static final Prompt MODEL_DEFAULT = new Prompt(Kind.MODEL_DEFAULT, null);
    private static final Prompt NONE = new Prompt(Kind.NONE, null);
    private static final Prompt DOCUMENT = new Prompt(Kind.DOCUMENT, null);

    private final Kind kind;
    private final String value;

    private Prompt(Kind kind, String value) {
        this.kind = kind;
        this.value = value;
    }

    /** The model's default prompt; what {@link EmbedOptions} uses unless told otherwise. */
    public static Prompt modelDefault() {
        return MODEL_DEFAULT;
    }

    /** The text exactly as given. */
    public static Prompt none() {
        return NONE;
    }

    /** Documents (passages) to search in: for every supported family, no prefix unless the model's files define one. */
    public static Prompt document() {
        return DOCUMENT;
    }

    /**
     * A search query with a one-sentence task description, in the family's format: Qwen3-Embedding
     * {@code "Instruct: {task}\nQuery:{text}"}, llama-embed-nemotron and NV-Embed
     * {@code "Instruct: {task}\nQuery: {text}"}. Families without a known format reject it.
     */
    public static Prompt query(String task) {
        Objects.requireNonNull(task, "task");
        return new Prompt(Kind.QUERY, task);
    }

    /** A prompt from the model's {@code config_sentence_transformers.json} ({@code "query"}, ...). */
    public static Prompt named(String name) {
        Objects.requireNonNull(name, "name");
        return new Prompt(Kind.NAMED, name);
    }

    /** A literal prefix, for formats Ember does not know. */
    public static Prompt prefix(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        return new Prompt(Kind.PREFIX, prefix);
    }

    public Kind kind() {
        return kind;
    }

    /** The task, name or prefix; null for the kinds without one. */
    public String value() {
        return value;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Prompt p && p.kind == kind && Objects.equals(p.value, value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, value);
    }

    @Override
    public String toString() {
        return value == null ? "Prompt[" + kind + "]" : "Prompt[" + kind + ": " + value + "]";
    }
}
