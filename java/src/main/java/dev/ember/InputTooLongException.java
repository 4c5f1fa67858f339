package dev.ember;

/**
 * An input is longer than the maximum length and {@link Truncation#ERROR} is in force: the
 * decoder's maximum length, or, for a model with an encoder (Causal2Vec), the encoder's.
 */
public class InputTooLongException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    private final int index;
    private final int tokens;
    private final int maxLength;
    private final boolean encoder;

    public InputTooLongException(int index, int tokens, int maxLength) {
        this(index, tokens, maxLength, false);
    }

    /** @param encoder whether the limit exceeded is the encoder's (Causal2Vec) rather than the decoder's */
    public InputTooLongException(int index, int tokens, int maxLength, boolean encoder) {
        super("input " + index + " has " + tokens + (encoder ? " encoder tokens, more than the encoder's "
                + maxLength + " positions" : " tokens, more than the maximum length " + maxLength));
        this.index = index;
        this.tokens = tokens;
        this.maxLength = maxLength;
        this.encoder = encoder;
    }

    /** Position of the input in the list given. */
    public int index() {
        return index;
    }

    /** Tokens the input would have had, special tokens included (the encoder's when {@link #encoder()}). */
    public int tokens() {
        return tokens;
    }

    public int maxLength() {
        return maxLength;
    }

    /** Whether the encoder's limit (Causal2Vec) was exceeded rather than the decoder's. */
    public boolean encoder() {
        return encoder;
    }
}
