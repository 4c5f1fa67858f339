package dev.ember;

import dev.ember.internal.NativeTools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Writing model files: a Hugging Face folder converted to GGUF, and random-weight models of real
 * shapes for benchmarks and tests. Both run natively on all cores.
 *
 * <pre>{@code
 * Models.convert(Path.of("Qwen3-Embedding-0.6B"), Path.of("qwen3-embedding-0.6b-q8_0.gguf"), WeightType.Q8_0);
 * try (Embedder e = Embedder.builder().setModel(Path.of("qwen3-embedding-0.6b-q8_0.gguf")).build()) { ... }
 * }</pre>
 */
public final class Models {
    private Models() {}

    /**
     * Converts a Hugging Face decoder folder (config.json + safetensors; Qwen3, Llama, Mistral,
     * bidirectional Llama / Mistral) to a GGUF v3 file that Ember and llama.cpp load (architecture
     * qwen3 or llama), with the folder's tokenizer.json written as the file's tokenizer. Matrices
     * are written in {@code type}; a matrix whose rows are not a whole number of the type's blocks
     * falls back to Q8_0 (K-quants) or F16, norms stay F32. The output is written to a temporary
     * file and renamed, so it never appears half-written.
     *
     * @throws ModelNotFoundException     when {@code hfDir} is not a folder with a config.json
     * @throws MalformedModelException    when the folder's files are inconsistent
     * @throws UnsupportedModelException  for an architecture, RoPE type or tokenizer GGUF cannot hold
     * @throws InvalidInputException      when {@code out} cannot be written
     */
    public static void convert(Path hfDir, Path out, WeightType type) {
        Objects.requireNonNull(hfDir, "hfDir");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(type, "type");
        if (!Files.isDirectory(hfDir)) {
            throw new ModelNotFoundException("model folder " + hfDir + " does not exist");
        }
        NativeTools.convert(hfDir.toString(), out.toString(), type.code());
    }

    /**
     * Writes a model of a real shape with random weights (normal, standard deviation 0.02; norms 1),
     * the same for the same seed. When {@code out} ends in {@code .gguf} it is a GGUF file of
     * {@code type} (converted from a BF16 folder written next to it, {@code out + ".hf"}, which is
     * kept for reuse); otherwise a Hugging Face folder of F32, F16 or BF16 weights. Existing
     * complete outputs are kept as they are (whatever their seed), so repeated benchmark runs
     * start quickly.
     *
     * @throws InvalidInputException for a folder with a quantized type, or an unwritable {@code out}
     */
    public static void synth(ModelShape like, Path out, WeightType type, long seed) {
        Objects.requireNonNull(like, "like");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(type, "type");
        boolean gguf = out.getFileName() != null && out.getFileName().toString().endsWith(".gguf");
        if (!gguf && type != WeightType.F32 && type != WeightType.F16 && type != WeightType.BF16) {
            throw new InvalidInputException("a Hugging Face folder holds f32, f16 or bf16 weights, not " + type.id()
                    + " (name the output *.gguf for a quantized file)");
        }
        NativeTools.synth(like.id(), out.toString(), type.code(), seed);
    }
}
