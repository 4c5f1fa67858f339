package dev.ember.cli;

import dev.ember.Backend;
import dev.ember.Embedder;
import java.nio.file.Path;
import picocli.CommandLine.Option;

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

    Embedder.Builder builder() {
        return Embedder.builder().setModel(model).optBackend(backend).optThreads(threads);
    }

    static final class BackendConverter implements picocli.CommandLine.ITypeConverter<Backend> {
        @Override
        public Backend convert(String value) {
            return Backend.valueOf(value.toUpperCase(java.util.Locale.ROOT));
        }
    }
}
