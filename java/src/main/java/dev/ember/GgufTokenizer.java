package dev.ember;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ember.internal.NativeTools;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The tokenizer a GGUF file carries ({@code tokenizer.ggml.*}, read natively without the weights)
 * rebuilt as the Hugging Face {@code tokenizer.json} it was converted from, so that Hugging Face's
 * tokenizer runs it and ids match {@code transformers} on the original folder.
 *
 * <p>Only gpt2-style byte-level BPE ({@code tokenizer.ggml.model = "gpt2"}) is rebuilt, with the
 * pre-tokenizer that {@code tokenizer.ggml.pre} names. The split regexes are those of the original
 * tokenizer.json files (Qwen2/Qwen3 and Llama 3), which llama.cpp's {@code llama-vocab.cpp} keeps as
 * the reference for its own rewrites; other {@code pre} values fail with {@link
 * UnsupportedModelException} rather than tokenize differently. What differs from llama.cpp's own
 * tokenizer, on purpose: {@code qwen2} text is NFC-normalized first (as Qwen's tokenizer.json
 * says and {@code transformers} does; llama.cpp skips it), and added tokens are recognized in the
 * text whether or not they are control tokens (as {@code transformers} does).
 */
final class GgufTokenizer {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** llama.cpp's token types (llama_token_type / gguf.TokenType). */
    private static final int NORMAL = 1;
    private static final int CONTROL = 3;
    private static final int USER_DEFINED = 4;
    private static final int UNUSED = 5;

    /** Qwen2 / Qwen3 tokenizer.json: one digit per token, letters with an optional leading mark. */
    static final String QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** Llama 3 tokenizer.json: as Qwen2's but up to three digits per token. */
    static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /**
     * What a {@code pre} value means: the split regex, NFC or not, Llama 3's {@code ignore_merges}
     * (a word already in the vocabulary is one token), and whether BOS is added when the file
     * does not say ({@code tokenizer.ggml.add_bos_token} absent), as llama.cpp decides.
     */
    private record Pre(String regex, boolean nfc, boolean ignoreMerges, boolean addBosDefault) {}

    private static final Map<String, Pre> PRE = Map.of(
            "qwen2", new Pre(QWEN2_REGEX, true, false, false),
            "llama-bpe", new Pre(LLAMA3_REGEX, false, true, true),
            "llama3", new Pre(LLAMA3_REGEX, false, true, true),
            "llama-v3", new Pre(LLAMA3_REGEX, false, true, true));

    private GgufTokenizer() {}

    /** What ember_gguf_tokenizer_json returns, parsed; absent ids are -1, absent flags null. */
    record Metadata(String model, String pre, String[] tokens, int[] types, String[] merges, int bosId, int eosId,
            Boolean addBos, Boolean addEos) {}

    /**
     * The Hugging Face tokenizer.json for the GGUF file {@code file}.
     *
     * @throws ModelNotFoundException    when the file has no tokenizer
     * @throws UnsupportedModelException for a tokenizer model or pre-tokenizer other than the above
     * @throws MalformedModelException   for inconsistent tokenizer metadata
     */
    static String tokenizerJson(Path file) {
        return toHuggingFace(parse(NativeTools.ggufTokenizerJson(file.toString()), file), file);
    }

    /** Reads the native JSON with a streaming parser (a tree of 300,000 nodes is slow to build cold). */
    static Metadata parse(String json, Path file) {
        String model = "";
        String pre = "";
        String[] tokens = new String[0];
        int[] types = new int[0];
        String[] merges = new String[0];
        int bos = -1;
        int eos = -1;
        Boolean addBos = null;
        Boolean addEos = null;
        try (JsonParser p = JSON.getFactory().createParser(json)) {
            expect(p.nextToken() == JsonToken.START_OBJECT, file);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                JsonToken value = p.nextToken();
                switch (key) {
                    case "model" -> model = p.getText();
                    case "pre" -> pre = p.getText();
                    case "tokens" -> tokens = strings(p, file);
                    case "merges" -> merges = strings(p, file);
                    case "token_type" -> {
                        expect(value == JsonToken.START_ARRAY, file);
                        List<Integer> t = new ArrayList<>();
                        while (p.nextToken() == JsonToken.VALUE_NUMBER_INT) {
                            t.add(p.getIntValue());
                        }
                        types = t.stream().mapToInt(Integer::intValue).toArray();
                    }
                    case "bos_token_id" -> bos = p.getIntValue();
                    case "eos_token_id" -> eos = p.getIntValue();
                    case "add_bos_token" -> addBos = p.getBooleanValue();
                    case "add_eos_token" -> addEos = p.getBooleanValue();
                    default -> p.skipChildren();
                }
            }
        } catch (IOException e) {
            throw new MalformedModelException(file + ": unreadable tokenizer metadata: " + e.getMessage(), e);
        }
        return new Metadata(model, pre, tokens, types, merges, bos, eos, addBos, addEos);
    }

    private static String[] strings(JsonParser p, Path file) throws IOException {
        expect(p.currentToken() == JsonToken.START_ARRAY, file);
        List<String> out = new ArrayList<>();
        while (p.nextToken() == JsonToken.VALUE_STRING) {
            out.add(p.getText());
        }
        expect(p.currentToken() == JsonToken.END_ARRAY, file);
        return out.toArray(new String[0]);
    }

    private static void expect(boolean ok, Path file) {
        if (!ok) {
            throw new MalformedModelException(file + ": unreadable tokenizer metadata");
        }
    }

    static String toHuggingFace(Metadata gguf, Path file) {
        if (!gguf.model().equals("gpt2")) {
            throw new UnsupportedModelException(file + ": tokenizer.ggml.model \"" + gguf.model() + "\" is not supported "
                    + "for text (gpt2-style byte-level BPE is); embed token ids instead");
        }
        Pre pre = PRE.get(gguf.pre());
        if (pre == null) {
            throw new UnsupportedModelException(file + ": tokenizer.ggml.pre \"" + gguf.pre() + "\" is not supported for "
                    + "text (qwen2 and llama-bpe are); embed token ids instead");
        }
        String[] tokens = gguf.tokens();
        int n = tokens.length;
        boolean typed = gguf.types().length == n;

        StringWriter text = new StringWriter(1 << 22);
        try (JsonGenerator g = JSON.getFactory().createGenerator(text)) {
            g.writeStartObject();
            g.writeStringField("version", "1.0");
            g.writeNullField("truncation");
            g.writeNullField("padding");
            // Control and user-defined tokens are Hugging Face's added tokens (recognized in the
            // text before pre-tokenization), with the ids they have in the file.
            g.writeArrayFieldStart("added_tokens");
            for (int id = 0; id < n && typed; id++) {
                int type = gguf.types()[id];
                if (type == CONTROL || type == USER_DEFINED) {
                    g.writeStartObject();
                    g.writeNumberField("id", id);
                    g.writeStringField("content", tokens[id]);
                    g.writeBooleanField("single_word", false);
                    g.writeBooleanField("lstrip", false);
                    g.writeBooleanField("rstrip", false);
                    g.writeBooleanField("normalized", false);
                    g.writeBooleanField("special", type == CONTROL);
                    g.writeEndObject();
                }
            }
            g.writeEndArray();
            g.writeFieldName("normalizer");
            if (pre.nfc()) {
                g.writeTree(JSON.createObjectNode().put("type", "NFC"));
            } else {
                g.writeNull();
            }
            ObjectNode preTokenizer = JSON.createObjectNode();
            preTokenizer.put("type", "Sequence");
            ArrayNode steps = preTokenizer.putArray("pretokenizers");
            ObjectNode split = steps.addObject();
            split.put("type", "Split");
            split.putObject("pattern").put("Regex", pre.regex());
            split.put("behavior", "Isolated");
            split.put("invert", false);
            steps.add(byteLevel());
            g.writeFieldName("pre_tokenizer");
            g.writeTree(preTokenizer);
            g.writeFieldName("post_processor");
            g.writeTree(postProcessor(gguf, pre, file));
            g.writeFieldName("decoder");
            g.writeTree(byteLevel());
            g.writeObjectFieldStart("model");
            g.writeStringField("type", "BPE");
            g.writeNullField("dropout");
            g.writeNullField("unk_token");
            g.writeNullField("continuing_subword_prefix");
            g.writeNullField("end_of_word_suffix");
            g.writeBooleanField("fuse_unk", false);
            g.writeBooleanField("byte_fallback", false);
            g.writeBooleanField("ignore_merges", pre.ignoreMerges());
            // Every token but the unused fillers goes into the BPE vocabulary under its own id,
            // added tokens included: Hugging Face then gives each added token the id it has in the
            // vocabulary, whatever the order of the file's ids.
            g.writeObjectFieldStart("vocab");
            Set<String> seen = new HashSet<>(2 * n);
            for (int id = 0; id < n; id++) {
                if ((typed && gguf.types()[id] == UNUSED) || !seen.add(tokens[id])) {
                    continue;  // a duplicate keeps its first id, as in a tokenizer.json vocabulary
                }
                g.writeNumberField(tokens[id], id);
            }
            g.writeEndObject();
            g.writeArrayFieldStart("merges");
            for (String m : gguf.merges()) {
                // llama.cpp splits at the first space after the first character; so does this.
                int space = m.indexOf(' ', 1);
                if (space < 0) {
                    throw new MalformedModelException(file + ": tokenizer.ggml.merges entry \"" + m + "\" is not \"a b\"");
                }
                g.writeStartArray();
                g.writeString(m.substring(0, space));
                g.writeString(m.substring(space + 1));
                g.writeEndArray();
            }
            g.writeEndArray();
            g.writeEndObject();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);  // a StringWriter does not fail
        }
        return text.toString();
    }

    private static ObjectNode byteLevel() {
        ObjectNode b = JSON.createObjectNode();
        b.put("type", "ByteLevel");
        b.put("add_prefix_space", false);
        b.put("trim_offsets", false);
        b.put("use_regex", false);
        return b;
    }

    /**
     * BOS before and EOS after each sequence as {@code tokenizer.ggml.add_bos_token} /
     * {@code add_eos_token} say (llama.cpp's default per pre type when absent), or nothing.
     */
    private static JsonNode postProcessor(Metadata gguf, Pre pre, Path file) {
        boolean addBos = gguf.addBos() != null ? gguf.addBos() : pre.addBosDefault();
        boolean addEos = gguf.addEos() != null && gguf.addEos();
        String bos = addBos ? special(gguf, gguf.bosId(), "bos", file) : null;
        String eos = addEos ? special(gguf, gguf.eosId(), "eos", file) : null;
        if (bos == null && eos == null) {
            return JSON.nullNode();
        }
        ObjectNode p = JSON.createObjectNode();
        p.put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        ArrayNode pair = p.putArray("pair");
        for (int seq = 0; seq < 2; seq++) {
            ArrayNode[] targets = seq == 0 ? new ArrayNode[] {single, pair} : new ArrayNode[] {pair};
            for (ArrayNode t : targets) {
                if (bos != null) {
                    t.addObject().putObject("SpecialToken").put("id", bos).put("type_id", seq);
                }
                t.addObject().putObject("Sequence").put("id", seq == 0 ? "A" : "B").put("type_id", seq);
                if (eos != null) {
                    t.addObject().putObject("SpecialToken").put("id", eos).put("type_id", seq);
                }
            }
        }
        ObjectNode specials = p.putObject("special_tokens");
        if (bos != null) {
            specials.putObject(bos).put("id", bos).<ObjectNode>set("ids", JSON.createArrayNode().add(gguf.bosId()))
                    .set("tokens", JSON.createArrayNode().add(bos));
        }
        if (eos != null && !eos.equals(bos)) {
            specials.putObject(eos).put("id", eos).<ObjectNode>set("ids", JSON.createArrayNode().add(gguf.eosId()))
                    .set("tokens", JSON.createArrayNode().add(eos));
        }
        return p;
    }

    private static String special(Metadata gguf, int id, String which, Path file) {
        if (id < 0 || id >= gguf.tokens().length) {
            throw new MalformedModelException(file + ": tokenizer.ggml.add_" + which + "_token is set but tokenizer.ggml."
                    + which + "_token_id is missing");
        }
        return gguf.tokens()[id];
    }
}
