package dev.ember;

/** Where the forward pass runs. */
public enum Backend {
    /** CUDA when the GPU native library is present and a device is usable, otherwise CPU. */
    AUTO,
    CPU,
    CUDA
}
