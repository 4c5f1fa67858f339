package dev.ember.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;

/** The JavaCPP glue: the libraries load, the -gpu build wins when present, calls round-trip. */
class BindingSmokeTest {

    /** Whether the class path holds the CUDA build (target/classes has it when nvcc was found). */
    private static boolean gpuLibraryOnClassPath() {
        return EmberLib.class.getResource("linux-x86_64-gpu/libember.so") != null;
    }

    @Test
    void versionMatchesTheMavenProject() {
        String version = EmberLib.ember_version();
        String projectVersion = System.getProperty("ember.projectVersion", "");
        assertTrue(version.matches("\\d+\\.\\d+\\.\\d+"), version);
        assertTrue(projectVersion.startsWith(version),
                "CMake project version " + version + " vs Maven version " + projectVersion);
    }

    @Test
    void cpuIsaIsReported() {
        assertTrue(Set.of("avx512", "avx2", "scalar").contains(EmberLib.ember_cpu_isa()));
    }

    @Test
    void theGpuBuildIsPreferredWhenPresent() {
        String loaded = Loader.load(EmberLib.class);
        boolean gpu = gpuLibraryOnClassPath();
        assertEquals(gpu ? 1 : 0, EmberLib.ember_cuda_built(), "loaded " + loaded);
        assertEquals(gpu, loaded.contains("/linux-x86_64-gpu/"), "loaded " + loaded);
    }

    @Test
    void cudaDeviceCountAlwaysAnswers() {
        int[] count = {-1};
        byte[] reason = new byte[512];
        assertEquals(EmberLib.EMBER_OK, EmberLib.ember_cuda_device_count(count, reason, reason.length));
        assertTrue(count[0] >= 0);
        String why = cString(reason);
        if (count[0] == 0) {
            // No device here (no GPU, or no driver: CUDA error 35), or a CPU-only build.
            assertFalse(why.isEmpty(), "0 devices and no reason");
            if (EmberLib.ember_cuda_built() == 0) {
                assertTrue(why.contains("no CUDA backend"), why);
            }
        }
        // The pointer overload, with a reason buffer too small for the message: truncated, NUL-ended.
        try (IntPointer n = new IntPointer(1L)) {
            byte[] tiny = new byte[8];
            assertEquals(EmberLib.EMBER_OK, EmberLib.ember_cuda_device_count(count, tiny, tiny.length));
            assertEquals(count[0], countViaPointer(n));
            assertEquals(0, tiny[7]);
        }
    }

    @Test
    void cudaDevicesAreListedOrExplained() {
        var devices = dev.ember.Devices.cudaDevices();
        assertEquals(dev.ember.Devices.cudaDeviceCount(), devices.size());
        for (var d : devices) {
            assertFalse(d.name().isEmpty(), d.toString());
            assertTrue(d.totalMemory() > 0 && d.major() > 0 && d.multiprocessors() > 0, d.toString());
        }
        if (devices.isEmpty()) {
            assertFalse(dev.ember.Devices.cudaUnavailableReason().isEmpty());
            // Asking for a device anyway is a typed failure with the reason, never a crash.
            byte[] name = new byte[64];
            int status = EmberLib.ember_cuda_device_info(0, name, name.length, null, null, null, null);
            assertEquals(EmberLib.EMBER_ERR_BACKEND_UNAVAILABLE, status, EmberLib.ember_last_error());
        }
        int[] major = new int[1];
        int status = EmberLib.ember_cuda_device_info(-1, null, 0, null, major, null, null);
        assertTrue(status == EmberLib.EMBER_ERR_INVALID_ARGUMENT || status == EmberLib.EMBER_ERR_BACKEND_UNAVAILABLE);
    }

    private static int countViaPointer(IntPointer n) {
        assertEquals(EmberLib.EMBER_OK, EmberLib.ember_cuda_device_count(n, null, 0));
        return n.get();
    }

    @Test
    void lastErrorCarriesTheMessageOfTheFailedCall() {
        assertEquals(EmberLib.EMBER_ERR_INVALID_ARGUMENT,
                EmberLib.ember_cuda_device_count((IntPointer) null, null, 0));
        assertTrue(EmberLib.ember_last_error().contains("null"), EmberLib.ember_last_error());
        assertEquals(EmberLib.EMBER_OK, EmberLib.ember_cuda_device_count(new int[1], null, 0));
        assertEquals("", EmberLib.ember_last_error());
    }

    @Test
    void structFieldsRoundTrip() {
        try (EmberLib.ember_load_options opts = new EmberLib.ember_load_options()) {
            opts.threads(99).device(3);
            EmberLib.ember_load_options_init(opts);
            assertEquals(EmberLib.EMBER_BACKEND_AUTO, opts.backend());
            opts.threads(3).reserved(1, 7);
            assertEquals(3, opts.threads());
            assertEquals(7, opts.reserved(1));
            assertEquals(EmberLib.EMBER_CUDA_PRECISION_DEFAULT, opts.cuda_precision());
            assertEquals(EmberLib.EMBER_SWITCH_DEFAULT, opts.cuda_graphs());
            assertEquals(EmberLib.EMBER_SWITCH_DEFAULT, opts.cuda_cublaslt());
            assertEquals(EmberLib.EMBER_ROPE_SCALING_MODEL, opts.rope_scaling());
            assertEquals(0.0, opts.rope_theta());
            assertEquals(0, opts.self_extend_window());
            opts.rope_scaling(EmberLib.EMBER_ROPE_SCALING_YARN).rope_factor(4.0).rope_theta(1e5)
                    .self_extend_group(9).self_extend_window(512).attention_scaling(512);
            assertEquals(EmberLib.EMBER_ROPE_SCALING_YARN, opts.rope_scaling());
            assertEquals(4.0, opts.rope_factor());
            assertEquals(1e5, opts.rope_theta());
            assertEquals(9, opts.self_extend_group());
            assertEquals(512, opts.self_extend_window());
            assertEquals(512, opts.attention_scaling());
            assertEquals(3, opts.threads());
        }
        try (EmberLib.ember_swiglu_params p = new EmberLib.ember_swiglu_params()) {
            p.rows(1L << 40).cols(3072).out_stride(4096);
            assertEquals(1L << 40, p.rows());
            assertEquals(3072, p.cols());
            assertEquals(4096, p.out_stride());
        }
        try (EmberLib.ember_model_info info = new EmberLib.ember_model_info()) {
            info.architecture().putString("qwen3");
            assertEquals("qwen3", info.architecture().getString());
        }
    }

    /**
     * Each CUDA field reaches the native field of its name: set alone to a value out of range, it
     * fails the load (on any backend) with a message naming that field.
     */
    @Test
    void cudaLoadOptionsReachTheirNativeFields() {
        String model = dev.ember.Goldens.dir("qwen3-tiny").toString();
        String[] fields = {"cuda_precision", "cuda_graphs", "cuda_cublaslt"};
        for (String field : fields) {
            try (EmberLib.ember_load_options opts = new EmberLib.ember_load_options();
                    EmberLib.ember_model out = new EmberLib.ember_model()) {
                EmberLib.ember_load_options_init(opts);
                opts.backend(EmberLib.EMBER_BACKEND_CPU).threads(1);
                switch (field) {
                    case "cuda_precision" -> opts.cuda_precision(3);
                    case "cuda_graphs" -> opts.cuda_graphs(3);
                    default -> opts.cuda_cublaslt(3);
                }
                assertEquals(EmberLib.EMBER_ERR_INVALID_ARGUMENT, EmberLib.ember_model_load(model, opts, out), field);
                String error = EmberLib.ember_last_error();
                for (String f : fields) {
                    assertEquals(f.equals(field), error.contains(f + " "), field + ": " + error);
                }
            }
        }
    }

    @Test
    void kernelHelpersAreCallable() {
        assertEquals(40, EmberLib.ember_dtype_row_bytes(EmberLib.EMBER_DTYPE_F32, 10));
        assertEquals(34, EmberLib.ember_dtype_row_bytes(EmberLib.EMBER_DTYPE_Q8_0, 32));
        assertEquals(-1, EmberLib.ember_dtype_row_bytes(12345, 32));
    }

    private static String cString(byte[] bytes) {
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) n++;
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
    }
}
