package dev.ember.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ember.Embedder;
import dev.ember.ModelInfo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Print what Ember recognized in a model, as JSON.")
final class InfoCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Override
    public Integer call() throws Exception {
        try (Embedder embedder = model.builder().build()) {
            ModelInfo info = embedder.info();
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode out = json.valueToTree(info);
            // Family, backbone, attention, pooling, RoPE, dtype, prompts, memory: the native reading.
            out.set("recognized", json.readTree(embedder.describe()));
            System.out.println(json.writeValueAsString(out));
        }
        return 0;
    }
}
