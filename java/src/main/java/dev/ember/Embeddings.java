package dev.ember;

/**
 * The result of {@link Embedder#embed(java.util.List, EmbedOptions)}.
 *
 * @param vectors   one vector per input, in input order
 * @param truncated how many inputs were longer than the maximum length (or Causal2Vec's encoder
 *                  limit) and were truncated
 * @param tokens    tokens embedded, prompts and special tokens included (the decoder's: Causal2Vec's
 *                  encoder tokens are not counted)
 */
public record Embeddings(float[][] vectors, int truncated, long tokens) {}
