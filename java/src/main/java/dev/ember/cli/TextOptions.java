package dev.ember.cli;

import dev.ember.EmbedOptions;
import dev.ember.Embedder;
import dev.ember.Prompt;
import dev.ember.Truncation;
import java.nio.file.Path;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** How commands that take text turn it into tokens: prompt, pooling of the prompt, length. */
final class TextOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--prompt-name", paramLabel = "NAME",
            description = "A prompt the model defines in config_sentence_transformers.json (e.g. query).")
    String promptName;

    @Option(names = "--instruction", paramLabel = "TASK",
            description = "Embed queries for this task in the model family's query format "
                    + "(Qwen3: \"Instruct: TASK\\nQuery:TEXT\").")
    String instruction;

    @Option(names = "--prefix", paramLabel = "TEXT", description = "A literal prefix for every text.")
    String prefix;

    @Option(names = "--exclude-prompt-from-pooling", negatable = true,
            description = "Leave the prompt's tokens out of mean pooling (they are still attended to). "
                    + "Default: the model's (on for NV-Embed).")
    Boolean excludePrompt;

    @Option(names = "--max-length", paramLabel = "N",
            description = "Longest input in tokens, prompt and special tokens included (default: the model's context).")
    Integer maxLength;

    @Option(names = "--no-truncate", description = "Fail on a longer input instead of truncating it.")
    boolean noTruncate;

    @Option(names = "--encoder-tokenizer", paramLabel = "PATH",
            description = "Causal2Vec: the encoder's tokenizer.json (default: the model folder's "
                    + "encoder/tokenizer.json or encoder_tokenizer.json).")
    Path encoderTokenizer;

    Prompt prompt() {
        int given = (promptName != null ? 1 : 0) + (instruction != null ? 1 : 0) + (prefix != null ? 1 : 0);
        if (given > 1) {
            throw new ParameterException(spec.commandLine(), "give at most one of --prompt-name, --instruction, --prefix");
        }
        if (promptName != null) {
            return Prompt.named(promptName);
        }
        if (instruction != null) {
            return Prompt.query(instruction);
        }
        return prefix != null ? Prompt.prefix(prefix) : Prompt.modelDefault();
    }

    EmbedOptions.Builder options() {
        EmbedOptions.Builder b = EmbedOptions.builder().optPrompt(prompt());
        if (excludePrompt != null) {
            b.optExcludePromptFromPooling(excludePrompt);
        }
        return b;
    }

    Embedder.Builder configure(Embedder.Builder b) {
        if (maxLength != null) {
            if (maxLength < 1) {
                throw new ParameterException(spec.commandLine(), "--max-length must be at least 1");
            }
            b.optMaxLength(maxLength);
        }
        if (encoderTokenizer != null) {
            b.optEncoderTokenizer(encoderTokenizer);
        }
        return b.optTruncation(noTruncate ? Truncation.ERROR : Truncation.TRUNCATE);
    }
}
