package dev.ember;

/** The Embedder was closed before or while this call was made. */
public class EmberClosedException extends EmberException {
    private static final long serialVersionUID = 1L;

    public EmberClosedException(String message) {
        super(message);
    }
}
