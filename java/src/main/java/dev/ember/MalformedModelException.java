package dev.ember;

/**
 * A model file is present but inconsistent: truncated, offsets outside the file, shapes that
 * disagree with config.json, invalid JSON, a missing tensor.
 */
public class MalformedModelException extends ModelException {
    private static final long serialVersionUID = 1L;

    public MalformedModelException(String message) {
        super(message);
    }

    public MalformedModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
