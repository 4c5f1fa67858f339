package dev.ember;

/** An input is longer than the maximum length and {@link Truncation#ERROR} is in force. */
public class InputTooLongException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    private final int index;
    private final int tokens;
    private final int maxLength;

    public InputTooLongException(int index, int tokens, int maxLength) {
        super("input " + index + " has " + tokens + " tokens, more than the maximum length " + maxLength);
        this.index = index;
        this.tokens = tokens;
        this.maxLength = maxLength;
    }

    /** Position of the input in the list given. */
    public int index() {
        return index;
    }

    /** Tokens the input would have had, special tokens included. */
    public int tokens() {
        return tokens;
    }

    public int maxLength() {
        return maxLength;
    }
}
