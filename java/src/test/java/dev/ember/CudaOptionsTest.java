package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ember.internal.EmberLib;
import dev.ember.internal.NativeModel;
import org.junit.jupiter.api.Test;

/** The CUDA builder options: their codes for ember_load_options, and that the CPU backend ignores them. */
class CudaOptionsTest {

    @Test
    void unsetOptionsDeferToTheEnvironment() {
        NativeModel.CudaOptions d = NativeModel.CudaOptions.DEFAULT;
        assertEquals(EmberLib.EMBER_CUDA_PRECISION_DEFAULT, d.precisionCode());
        assertEquals(EmberLib.EMBER_SWITCH_DEFAULT, d.graphsCode());
        assertEquals(EmberLib.EMBER_SWITCH_DEFAULT, d.cublasLtCode());
    }

    @Test
    void setOptionsMapToTheirCodes() {
        NativeModel.CudaOptions a = new NativeModel.CudaOptions(CudaPrecision.FP32, false, true);
        assertEquals(EmberLib.EMBER_CUDA_PRECISION_FP32, a.precisionCode());
        assertEquals(EmberLib.EMBER_SWITCH_OFF, a.graphsCode());
        assertEquals(EmberLib.EMBER_SWITCH_ON, a.cublasLtCode());
        NativeModel.CudaOptions b = new NativeModel.CudaOptions(CudaPrecision.FAST, true, false);
        assertEquals(EmberLib.EMBER_CUDA_PRECISION_FAST, b.precisionCode());
        assertEquals(EmberLib.EMBER_SWITCH_ON, b.graphsCode());
        assertEquals(EmberLib.EMBER_SWITCH_OFF, b.cublasLtCode());
    }

    @Test
    void theCpuBackendLoadsWithThemAndIgnoresThem() {
        int[][] ids = {{1, 5, 9, 13, 2}, {7, 3}};
        float[][] plain;
        try (Embedder e = Embedder.builder().setModel(Goldens.dir("qwen3-tiny")).optBackend(Backend.CPU).optThreads(1).build()) {
            plain = e.embedTokens(ids);
        }
        try (Embedder e = Embedder.builder().setModel(Goldens.dir("qwen3-tiny")).optBackend(Backend.CPU).optThreads(1)
                .optCudaPrecision(CudaPrecision.FP32).optCudaGraphs(false).optCublasLt(true).build()) {
            float[][] withOptions = e.embedTokens(ids);
            for (int i = 0; i < ids.length; i++) {
                assertArrayEquals(plain[i], withOptions[i]);
            }
        }
    }

    @Test
    void aNullPrecisionIsRefused() {
        assertThrows(NullPointerException.class, () -> Embedder.builder().optCudaPrecision(null));
    }
}
