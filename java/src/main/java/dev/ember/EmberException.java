package dev.ember;

/**
 * Base of every failure Ember reports. Unchecked: callers catch the subclass they can act on.
 */
public class EmberException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public EmberException(String message) {
        super(message);
    }

    public EmberException(String message, Throwable cause) {
        super(message, cause);
    }
}
