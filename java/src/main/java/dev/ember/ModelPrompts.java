package dev.ember;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a model folder and its family say about prompts and output: the sentence-transformers files
 * ({@code config_sentence_transformers.json}, {@code modules.json}, {@code 1_Pooling/config.json})
 * and the per-family facts of {@code shared/specs/models.md}. Immutable.
 *
 * @param family             the native side's family name
 * @param prompts            named prompts from config_sentence_transformers.json
 * @param defaultPromptName  its default_prompt_name, or null
 * @param normalize          whether the model's modules end in Normalize (true when there is no modules.json)
 * @param excludePrompt      whether the prompt is left out of pooling by default
 * @param queryPrefix        the query format before the task, or null when the family has none
 * @param querySuffix        the query format after the task
 * @param endToken           a token the family's inputs must end with (added when the tokenizer does not), or null
 */
record ModelPrompts(
        String family,
        Map<String, String> prompts,
        String defaultPromptName,
        boolean normalize,
        boolean excludePrompt,
        String queryPrefix,
        String querySuffix,
        String endToken) {

    /** The prompt names sentence-transformers' {@code encode_document} tries, in order. */
    private static final String[] DOCUMENT_PROMPTS = {"document", "passage", "corpus"};

    /** Reads the files of {@code model} (a folder; a single file has none) for {@code family}. */
    static ModelPrompts read(Path model, String family) {
        Map<String, String> prompts = Map.of();
        String defaultName = null;
        boolean normalize = true;
        boolean includePrompt = true;
        if (Files.isDirectory(model)) {
            JsonNode st = readJson(model.resolve("config_sentence_transformers.json"));
            if (st != null) {
                prompts = stringMap(st.get("prompts"), "config_sentence_transformers.json prompts");
                JsonNode name = st.get("default_prompt_name");
                if (name != null && name.isTextual()) {
                    defaultName = name.asText();
                    if (!prompts.containsKey(defaultName)) {
                        throw new MalformedModelException("config_sentence_transformers.json: default_prompt_name \""
                                + defaultName + "\" is not among its prompts " + prompts.keySet());
                    }
                }
            }
            JsonNode modules = readJson(model.resolve("modules.json"));
            if (modules != null) {
                // sentence-transformers normalises only when a Normalize module is listed.
                normalize = false;
                for (JsonNode m : modules) {
                    JsonNode type = m.get("type");
                    normalize |= type != null && type.asText().endsWith("Normalize");
                }
            }
            JsonNode pooling = readJson(model.resolve("1_Pooling").resolve("config.json"));
            if (pooling != null && pooling.has("include_prompt")) {
                includePrompt = pooling.get("include_prompt").asBoolean(true);
            }
        }
        return switch (family) {
            // Qwen3-Embedding: no space after "Query:"; pooling takes the <|endoftext|> its
            // tokenizer's post-processor appends (older tokenizer.json files lack that step).
            case "qwen3-embedding" -> new ModelPrompts(family, prompts, defaultName, normalize, !includePrompt,
                    "Instruct: ", "\nQuery:", "<|endoftext|>");
            case "llama-embed-nemotron" -> new ModelPrompts(family, prompts, defaultName, normalize, !includePrompt,
                    "Instruct: ", "\nQuery: ", null);
            // NV-Embed appends the EOS text to every input and masks the instruction out of pooling.
            case "nv-embed" -> new ModelPrompts(family, prompts, defaultName, normalize, true,
                    "Instruct: ", "\nQuery: ", "</s>");
            default -> new ModelPrompts(family, prompts, defaultName, normalize, !includePrompt, null, null, null);
        };
    }

    /** The literal prefix a prompt stands for with this model. */
    String resolve(Prompt prompt) {
        return switch (prompt.kind()) {
            case NONE -> "";
            case PREFIX -> prompt.value();
            case MODEL_DEFAULT -> defaultPromptName == null ? "" : prompts.get(defaultPromptName);
            case DOCUMENT -> {
                for (String name : DOCUMENT_PROMPTS) {
                    if (prompts.containsKey(name)) {
                        yield prompts.get(name);
                    }
                }
                yield resolve(Prompt.modelDefault());
            }
            case NAMED -> {
                String p = prompts.get(prompt.value());
                if (p == null) {
                    throw new InvalidInputException("the model defines no prompt named \"" + prompt.value() + "\""
                            + (prompts.isEmpty() ? " (it has no config_sentence_transformers.json prompts)"
                                    : " (it defines " + prompts.keySet() + ")"));
                }
                yield p;
            }
            case QUERY -> {
                if (queryPrefix == null) {
                    throw new InvalidInputException("no query format is known for the model family \"" + family
                            + "\"; use Prompt.named(...) or Prompt.prefix(...)");
                }
                yield queryPrefix + prompt.value() + querySuffix;
            }
        };
    }

    private static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new MalformedModelException(file.getFileName() + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    private static Map<String, String> stringMap(JsonNode node, String what) {
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw new MalformedModelException(what + " must be a JSON object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (var it = node.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().isTextual()) {
                throw new MalformedModelException(what + ": \"" + e.getKey() + "\" is not a string");
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return Collections.unmodifiableMap(out);
    }
}
