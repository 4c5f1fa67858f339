package dev.ember.cli;

import dev.ember.ModelShape;
import dev.ember.Models;
import dev.ember.WeightType;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ember synth}: a random-weight model of a real shape (see {@link Models#synth}). */
@Command(name = "synth", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Write a random-weight model of a real model's shape (for benchmarks and tests).")
final class SynthCommand implements Callable<Integer> {
    @Option(names = "--like", required = true, paramLabel = "SHAPE", converter = Shapes.class,
            description = "qwen3-0.6b, qwen3-4b, qwen3-8b, llama-embed-nemotron-8b, tiny or small.")
    ModelShape like;

    @Option(names = "--out", required = true, paramLabel = "DIR|FILE.gguf",
            description = "A Hugging Face folder, or a GGUF file when the name ends in .gguf. An existing complete "
                    + "output is kept.")
    Path out;

    @Option(names = "--dtype", paramLabel = "TYPE", converter = ConvertCommand.WeightTypes.class,
            description = "Weight type: f32, f16 or bf16 for a folder (default bf16); also q8_0, q4_0, q4_k, q6_k "
                    + "for a GGUF file (default q8_0).")
    WeightType dtype;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        boolean gguf = out.getFileName() != null && out.getFileName().toString().endsWith(".gguf");
        WeightType type = dtype != null ? dtype : gguf ? WeightType.Q8_0 : WeightType.BF16;
        if (!gguf && type != WeightType.F32 && type != WeightType.F16 && type != WeightType.BF16) {
            throw new BadInputException("a Hugging Face folder holds f32, f16 or bf16 weights, not " + type.id()
                    + " (name the output *.gguf for a quantized file)");
        }
        long start = System.nanoTime();
        Models.synth(like, out, type, seed);
        System.err.printf("ember: %s (%s, %s) ready in %.1f s%n", out, like.id(), type.id(), (System.nanoTime() - start) / 1e9);
        return 0;
    }

    static final class Shapes implements picocli.CommandLine.ITypeConverter<ModelShape> {
        @Override
        public ModelShape convert(String value) {
            try {
                return ModelShape.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
