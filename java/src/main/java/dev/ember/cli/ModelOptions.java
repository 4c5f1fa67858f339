package dev.ember.cli;

import dev.ember.Backend;
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
        Embedder.Builder b = Embedder.builder().setModel(model).optBackend(backend).optThreads(threads);
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
