package dev.ember.cli;

import dev.ember.Backend;
import dev.ember.CudaPrecision;
import dev.ember.Embedder;
import dev.ember.InvalidInputException;
import dev.ember.RopeScaling;
import dev.ember.SelfExtend;
import java.nio.file.Path;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/** Options shared by every command that loads a model. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "Hugging Face model folder or GGUF file.")
    Path model;

    @Option(names = "--backend", paramLabel = "cpu|cuda|auto", defaultValue = "auto",
            converter = BackendConverter.class, description = "Where to run (default: ${DEFAULT-VALUE}).")
    Backend backend;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "CPU threads (default: all cores).")
    int threads;

    @Option(names = "--device", paramLabel = "N", defaultValue = "0", description = "CUDA device (default: 0).")
    int device;

    @Option(names = "--cuda-precision", paramLabel = "fast|fp32", converter = PrecisionConverter.class,
            description = "CUDA arithmetic: bf16 activations on tensor cores, or f32 throughout "
                    + "(default: EMBER_CUDA_PRECISION, else fast).")
    CudaPrecision cudaPrecision;

    @Option(names = "--cuda-graphs", paramLabel = "on|off", converter = SwitchConverter.class,
            description = "Replay CUDA graphs for short batches (default: EMBER_CUDA_GRAPHS, else on).")
    Switch cudaGraphs;

    @Option(names = "--cublaslt", paramLabel = "on|off", converter = SwitchConverter.class,
            description = "bf16 matmuls through the system's cuBLASLt where it loads (default: EMBER_CUBLASLT, else off).")
    Switch cublasLt;

    /** on / off (a Boolean option would be a flag to picocli). */
    enum Switch {
        ON,
        OFF
    }

    @Option(names = "--rope-scaling", paramLabel = "TYPE:F", converter = RopeScalingConverter.class,
            description = "Replace the model's RoPE scaling: none, linear:F, ntk:F, dynamic:F, yarn:F or llama3:F "
                    + "(F: factor over the trained context).")
    RopeScaling ropeScaling;

    @Option(names = "--rope-theta", paramLabel = "BASE", converter = ThetaConverter.class,
            description = "Replace the RoPE base (rope_theta), e.g. 1e5.")
    Double ropeTheta;

    @Option(names = "--self-extend", paramLabel = "G,W", converter = SelfExtendConverter.class,
            description = "SelfExtend grouped attention: group size G, neighbour window W (e.g. 9,512).")
    SelfExtend selfExtend;

    @Option(names = "--attention-scaling", paramLabel = "N", converter = AttentionScalingConverter.class,
            description = "LongEmbed attention scaling: logits x max(log_N(length), 1), N the trained length (e.g. 512).")
    Integer attentionScaling;

    Embedder.Builder builder() {
        Embedder.Builder b = Embedder.builder().setModel(model).optBackend(backend).optThreads(threads).optDevice(device);
        if (cudaPrecision != null) {
            b.optCudaPrecision(cudaPrecision);
        }
        if (cudaGraphs != null) {
            b.optCudaGraphs(cudaGraphs == Switch.ON);
        }
        if (cublasLt != null) {
            b.optCublasLt(cublasLt == Switch.ON);
        }
        if (ropeScaling != null) {
            b.optRopeScaling(ropeScaling);
        }
        if (ropeTheta != null) {
            b.optRopeTheta(ropeTheta);
        }
        if (selfExtend != null) {
            b.optSelfExtend(selfExtend);
        }
        if (attentionScaling != null) {
            b.optAttentionScaling(attentionScaling);
        }
        return b;
    }

    static final class BackendConverter implements ITypeConverter<Backend> {
        @Override
        public Backend convert(String value) {
            return Backend.valueOf(value.toUpperCase(java.util.Locale.ROOT));
        }
    }

    static final class PrecisionConverter implements ITypeConverter<CudaPrecision> {
        @Override
        public CudaPrecision convert(String value) {
            return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "fast" -> CudaPrecision.FAST;
                case "fp32" -> CudaPrecision.FP32;
                default -> throw new TypeConversionException("expected fast or fp32, got \"" + value + "\"");
            };
        }
    }

    static final class SwitchConverter implements ITypeConverter<Switch> {
        @Override
        public Switch convert(String value) {
            return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "on" -> Switch.ON;
                case "off" -> Switch.OFF;
                default -> throw new TypeConversionException("expected on or off, got \"" + value + "\"");
            };
        }
    }

    /** Bad values become usage errors (exit code 2) with the library's message. */
    private interface Checked<T> extends ITypeConverter<T> {
        T parse(String value);

        @Override
        default T convert(String value) {
            try {
                return parse(value);
            } catch (InvalidInputException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    static final class RopeScalingConverter implements Checked<RopeScaling> {
        @Override
        public RopeScaling parse(String value) {
            return RopeScaling.parse(value);
        }
    }

    static final class SelfExtendConverter implements Checked<SelfExtend> {
        @Override
        public SelfExtend parse(String value) {
            return SelfExtend.parse(value);
        }
    }

    static final class ThetaConverter implements Checked<Double> {
        @Override
        public Double parse(String value) {
            double theta;
            try {
                theta = Double.parseDouble(value.trim());
            } catch (NumberFormatException e) {
                throw new InvalidInputException("RoPE theta \"" + value + "\" is not a number");
            }
            Embedder.builder().optRopeTheta(theta);  // the builder's own check and message
            return theta;
        }
    }

    static final class AttentionScalingConverter implements Checked<Integer> {
        @Override
        public Integer parse(String value) {
            int n;
            try {
                n = Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new InvalidInputException("attention scaling \"" + value + "\" is not an integer");
            }
            Embedder.builder().optAttentionScaling(n);
            return n;
        }
    }
}
