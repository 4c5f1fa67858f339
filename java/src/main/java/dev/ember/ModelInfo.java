package dev.ember;

/**
 * What Ember recognized in a model and how it runs it.
 *
 * @param architecture   the decoder's model_type ("qwen3", "llama_bidirec", ...)
 * @param family         the embedding family ("qwen3-embedding", "llama-embed-nemotron", ...)
 * @param hiddenSize     width of the decoder's hidden states
 * @param embeddingSize  width of the pooled embedding before any Matryoshka truncation
 * @param maxPositions   the context length the model was trained for
 * @param causal         true for causal attention, false for bidirectional
 * @param backend        the backend actually running the model (CPU or CUDA, never AUTO)
 * @param weightDtype    storage type of the projection weights ("f32", "bf16", "q8_0", ...)
 * @param weightBytes    bytes of weights held by the backend
 */
public record ModelInfo(
        String architecture,
        String family,
        int hiddenSize,
        int embeddingSize,
        int vocabSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int intermediateSize,
        int maxPositions,
        boolean causal,
        Pooling pooling,
        Backend backend,
        String weightDtype,
        int threads,
        long weightBytes) {}
