package dev.ember;

/** Host or device memory ran out. The Embedder stays usable; retry with a smaller batch. */
public class EmberOutOfMemoryException extends EmberException {
    private static final long serialVersionUID = 1L;

    public EmberOutOfMemoryException(String message) {
        super(message);
    }
}
