package dev.ember;

/**
 * Text was given to an Embedder without a tokenizer: the model folder has no
 * {@code tokenizer.json} and none was set with {@link Embedder.Builder#optTokenizer}. Token ids
 * ({@link Embedder#embedTokens}) still work.
 */
public class NoTokenizerException extends ModelNotFoundException {
    private static final long serialVersionUID = 1L;

    public NoTokenizerException(String message) {
        super(message);
    }
}
