package dev.ember;

import java.util.Locale;

/**
 * Storage type of a model's projection and embedding matrices in a written GGUF file (norms stay
 * F32). The codes are ggml's type ids, which the native side uses as {@code ember_dtype}.
 */
public enum WeightType {
    F32(0),
    F16(1),
    BF16(30),
    /** 32 weights per block, one f16 scale and 32 int8: 8.5 bits per weight. */
    Q8_0(8),
    /** 32 weights per block, one f16 scale and 32 4-bit values: 4.5 bits per weight. */
    Q4_0(2),
    /** llama.cpp's K-quant, 256 weights per block in 8 sub-blocks with 6-bit scales and mins: 4.5 bits. */
    Q4_K(12),
    /** llama.cpp's K-quant, 256 weights per block in 16 sub-blocks with 8-bit scales: 6.56 bits. */
    Q6_K(14);

    private final int code;

    WeightType(int code) {
        this.code = code;
    }

    /** The ggml type id. */
    public int code() {
        return code;
    }

    /** The lower-case name the command line and llama.cpp use ({@code "q8_0"}). */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The type named {@code name}, case-insensitive ({@code "q8_0"}, {@code "F16"}).
     *
     * @throws IllegalArgumentException for any other name; the message lists the valid ones
     */
    public static WeightType parse(String name) {
        for (WeightType t : values()) {
            if (t.id().equalsIgnoreCase(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown weight type \"" + name + "\" (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)");
    }
}
