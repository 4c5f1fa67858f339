package dev.ember;

/** The model path, or a file the model needs (config.json, weights), does not exist. */
public class ModelNotFoundException extends ModelException {
    private static final long serialVersionUID = 1L;

    public ModelNotFoundException(String message) {
        super(message);
    }
}
