package dev.ember;

/** The input to embed is invalid: empty sequence, token id outside the vocabulary, bad option. */
public class InvalidInputException extends EmberException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }
}
