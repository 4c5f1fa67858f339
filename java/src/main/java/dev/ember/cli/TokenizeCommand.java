package dev.ember.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ember.Embedder;
import dev.ember.TokenizedInput;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code ember tokenize}: one JSON line per text with the ids the model sees (prompt and special
 * tokens included, truncated as embed would), in the form {@code ember embed} reads back:
 * {@code {"ids": [...]}}, plus {@code "instruction_len"} when the prompt is left out of pooling,
 * {@code "encoder_ids"} for Causal2Vec (the encoder tokenizer's ids of the same text) and
 * {@code "truncated": true} when the text was cut.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids the model sees for each text, as JSON lines.")
final class TokenizeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    TextOptions text;

    @Parameters(paramLabel = "TEXT", arity = "1..*", description = "Texts to tokenize.")
    List<String> texts;

    @Override
    public Integer call() throws Exception {
        try (Embedder embedder = text.configure(model.builder()).build()) {
            List<TokenizedInput> inputs = embedder.tokenize(texts, text.options().build());
            ObjectMapper json = new ObjectMapper();
            PrintStream out = System.out;
            for (TokenizedInput in : inputs) {
                ObjectNode line = json.createObjectNode();
                line.putPOJO("ids", in.ids());
                if (in.poolStart() > 0) {
                    line.put("instruction_len", in.poolStart());
                }
                if (in.encoderIds() != null) {
                    line.putPOJO("encoder_ids", in.encoderIds());
                }
                if (in.truncated()) {
                    line.put("truncated", true);
                }
                out.println(json.writeValueAsString(line));
            }
            out.flush();
        }
        return 0;
    }
}
