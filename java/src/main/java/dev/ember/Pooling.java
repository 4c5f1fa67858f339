package dev.ember;

/** How token states become one vector. Values match the native ember_pooling codes. */
public enum Pooling {
    /** The state of each sequence's last token (Qwen3-Embedding). */
    LAST,
    /** The mean over each sequence's tokens, optionally skipping leading instruction tokens. */
    MEAN,
    /** The first token's state. */
    CLS,
    /** NV-Embed latent-attention pooling, then the mean. */
    LATENT,
    /** Causal2Vec: the contextual token's state concatenated with the last token's. */
    CONCAT_CONTEXTUAL_LAST;

    public static Pooling fromCode(int code) {
        Pooling[] all = values();
        if (code < 0 || code >= all.length) {
            throw new EmberException("unknown pooling code " + code);
        }
        return all[code];
    }
}
