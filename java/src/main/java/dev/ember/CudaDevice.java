package dev.ember;

import java.util.Locale;

/**
 * One CUDA device as the driver reports it ({@link Devices#cudaDevices()}).
 *
 * @param index the device ordinal, as {@code Embedder.Builder} takes it
 * @param name the device name, e.g. "NVIDIA H100 80GB HBM3"
 * @param totalMemory device memory in bytes
 * @param major compute capability, major (Ember's kernels need 8 or more)
 * @param minor compute capability, minor
 * @param multiprocessors streaming multiprocessors
 */
public record CudaDevice(int index, String name, long totalMemory, int major, int minor, int multiprocessors) {
    /** The compute capability as "major.minor", e.g. "9.0". */
    public String computeCapability() {
        return major + "." + minor;
    }

    /** Whether Ember's CUDA kernels run on it (sm_80 or newer). */
    public boolean supported() {
        return major >= 8;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "cuda:%d %s (sm_%d%d, %d SMs, %.1f GiB)", index, name, major, minor,
                multiprocessors, totalMemory / (1024.0 * 1024 * 1024));
    }
}
