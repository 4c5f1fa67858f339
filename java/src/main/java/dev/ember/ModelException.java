package dev.ember;

/** The model at the given path could not be used: missing, malformed or unsupported. */
public class ModelException extends EmberException {
    private static final long serialVersionUID = 1L;

    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
