package dev.ember;

/**
 * One text as the model sees it.
 *
 * @param ids       token ids, prompt and special tokens included, after truncation
 * @param poolStart leading tokens left out of mean / latent pooling (still attended to); 0 unless
 *                  the prompt is excluded from pooling
 * @param truncated whether tokens were cut to fit the maximum length
 */
public record TokenizedInput(int[] ids, int poolStart, boolean truncated) {}
