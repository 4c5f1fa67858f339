package dev.ember;

/** The requested backend cannot run here: CUDA not built into the native library, no driver, no device. */
public class BackendUnavailableException extends EmberException {
    private static final long serialVersionUID = 1L;

    public BackendUnavailableException(String message) {
        super(message);
    }
}
