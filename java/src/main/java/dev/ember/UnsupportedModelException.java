package dev.ember;

/** A well-formed model that Ember does not run: unknown architecture, dtype or option. */
public class UnsupportedModelException extends ModelException {
    private static final long serialVersionUID = 1L;

    public UnsupportedModelException(String message) {
        super(message);
    }
}
