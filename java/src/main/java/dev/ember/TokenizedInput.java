package dev.ember;

/**
 * One text as the model sees it.
 *
 * @param ids        token ids, prompt and special tokens included, after truncation
 * @param poolStart  leading tokens left out of mean / latent pooling (still attended to); 0 unless
 *                   the prompt is excluded from pooling
 * @param truncated  whether tokens were cut to fit the maximum length (or Causal2Vec's encoder limit)
 * @param encoderIds Causal2Vec: the encoder tokenizer's ids of the same text, with its special tokens
 *                   (required there); null for every other family
 */
public record TokenizedInput(int[] ids, int poolStart, boolean truncated, int[] encoderIds) {
    /** An input for a model without an encoder. */
    public TokenizedInput(int[] ids, int poolStart, boolean truncated) {
        this(ids, poolStart, truncated, null);
    }
}
