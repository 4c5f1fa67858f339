package dev.ember;

/** What happens to a text that tokenizes to more tokens than the Embedder's maximum length. */
public enum Truncation {
    /**
     * Keep the prompt and the first tokens of the text, then the special tokens the model needs at
     * the end (as {@code transformers} does with {@code truncation=True}); the result reports how
     * many inputs were cut.
     */
    TRUNCATE,
    /** Throw {@link InputTooLongException}. */
    ERROR
}
