package dev.ember;

/** How the CUDA backend computes (no effect on the CPU backend). */
public enum CudaPrecision {
    /** bf16 activations between ops, f32 accumulation, tensor cores: the default. */
    FAST,
    /** f32 throughout on CUDA cores: within about 1e-6 of float64, several times slower. */
    FP32
}
