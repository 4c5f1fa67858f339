package dev.ember.internal;

import dev.ember.BackendUnavailableException;
import dev.ember.EmberException;
import dev.ember.EmberOutOfMemoryException;
import dev.ember.InvalidInputException;
import dev.ember.MalformedModelException;
import dev.ember.ModelNotFoundException;
import dev.ember.UnsupportedModelException;

/** Turns native status codes into the typed exceptions of the public API. */
public final class NativeStatus {
    private NativeStatus() {}

    /** Throws the exception for {@code status} with the calling thread's last native error message. */
    public static void check(int status) {
        if (status == EmberLib.EMBER_OK) {
            return;
        }
        throw toException(status, EmberLib.ember_last_error());
    }

    static EmberException toException(int status, String message) {
        return switch (status) {
            case EmberLib.EMBER_ERR_INVALID_ARGUMENT -> new InvalidInputException(message);
            case EmberLib.EMBER_ERR_MODEL_NOT_FOUND -> new ModelNotFoundException(message);
            case EmberLib.EMBER_ERR_MODEL_MALFORMED -> new MalformedModelException(message);
            case EmberLib.EMBER_ERR_MODEL_UNSUPPORTED -> new UnsupportedModelException(message);
            case EmberLib.EMBER_ERR_BACKEND_UNAVAILABLE -> new BackendUnavailableException(message);
            case EmberLib.EMBER_ERR_OUT_OF_MEMORY -> new EmberOutOfMemoryException(message);
            default -> new EmberException("internal error (status " + status + "): " + message);
        };
    }
}
