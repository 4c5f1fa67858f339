package dev.ember;

/**
 * Shapes of real models that {@link Models#synth} can fill with random weights: the same
 * dimensions, layer count and vocabulary size, so speed and memory measured on them carry over.
 */
public enum ModelShape {
    /** Qwen3-Embedding-0.6B: hidden 1024, 28 layers, 16 heads (8 KV), FFN 3072. */
    QWEN3_0_6B("qwen3-0.6b"),
    /** Qwen3-Embedding-4B: hidden 2560, 36 layers, 32 heads (8 KV), FFN 9728. */
    QWEN3_4B("qwen3-4b"),
    /** Qwen3-Embedding-8B: hidden 4096, 36 layers, 32 heads (8 KV), FFN 12288. */
    QWEN3_8B("qwen3-8b"),
    /** llama-embed-nemotron-8b: bidirectional Llama, hidden 4096, 32 layers, FFN 14336. */
    LLAMA_EMBED_NEMOTRON_8B("llama-embed-nemotron-8b"),
    /** A two-layer, 64-wide Qwen3 with a 512-token vocabulary, for tests. */
    TINY("tiny"),
    /**
     * A four-layer, 256-wide Qwen3 (FFN 768, 2048-token vocabulary): every matrix row is a whole
     * number of 256-weight K-quant blocks, so Q4_K / Q6_K files hold real K-quant tensors.
     */
    SMALL("small");

    private final String id;

    ModelShape(String id) {
        this.id = id;
    }

    /** The name the command line uses ({@code "qwen3-0.6b"}). */
    public String id() {
        return id;
    }

    /**
     * The shape named {@code name} ({@code "qwen3-0.6b"}), case-insensitive.
     *
     * @throws IllegalArgumentException for any other name; the message lists the valid ones
     */
    public static ModelShape parse(String name) {
        StringBuilder known = new StringBuilder();
        for (ModelShape s : values()) {
            if (s.id.equalsIgnoreCase(name)) {
                return s;
            }
            known.append(known.length() == 0 ? "" : ", ").append(s.id);
        }
        throw new IllegalArgumentException("unknown model shape \"" + name + "\" (" + known + ")");
    }
}
