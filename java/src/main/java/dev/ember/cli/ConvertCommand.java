package dev.ember.cli;

import dev.ember.Models;
import dev.ember.WeightType;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ember convert}: a Hugging Face folder to a GGUF file (see {@link Models#convert}). */
@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Convert a Hugging Face model folder to a GGUF file that Ember and llama.cpp load.")
final class ConvertCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "HF_DIR",
            description = "Hugging Face folder (config.json, safetensors, tokenizer.json).")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "FILE.gguf", description = "GGUF file to write.")
    Path out;

    @Option(names = "--type", paramLabel = "TYPE", defaultValue = "f16", converter = WeightTypes.class,
            description = "Matrix type: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k (default: ${DEFAULT-VALUE}); norms stay f32.")
    WeightType type;

    @Override
    public Integer call() {
        long start = System.nanoTime();
        Models.convert(model, out, type);
        System.err.printf("ember: wrote %s (%s) in %.1f s%n", out, type.id(), (System.nanoTime() - start) / 1e9);
        return 0;
    }

    /** Parses {@code --type} / {@code --dtype} values. */
    static final class WeightTypes implements picocli.CommandLine.ITypeConverter<WeightType> {
        @Override
        public WeightType convert(String value) {
            try {
                return WeightType.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
