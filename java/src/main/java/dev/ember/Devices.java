package dev.ember;

import dev.ember.internal.NativeModel;
import java.util.List;

/** What this machine and this build of the native library offer. */
public final class Devices {
    private Devices() {}

    /** Whether the loaded native library contains the CUDA backend (the linux-x86_64-gpu jar). */
    public static boolean cudaBuilt() {
        return NativeModel.cudaBuilt();
    }

    /** Usable CUDA devices: 0 without the GPU library, a driver or a device. */
    public static int cudaDeviceCount() {
        return NativeModel.cudaDeviceCount();
    }

    /**
     * The usable CUDA devices (name, memory, compute capability), from the driver through Ember's own
     * native library: no other CUDA library is loaded. Empty without the GPU library, a driver or a
     * device; {@link #cudaUnavailableReason()} says which.
     */
    public static List<CudaDevice> cudaDevices() {
        return NativeModel.cudaDevices();
    }

    /** Why there are no CUDA devices, or "" when there are. */
    public static String cudaUnavailableReason() {
        return NativeModel.cudaUnavailableReason();
    }

    /** The SIMD level the CPU kernels use here: "avx512", "avx2" or "scalar". */
    public static String cpuIsa() {
        return NativeModel.cpuIsa();
    }
}
