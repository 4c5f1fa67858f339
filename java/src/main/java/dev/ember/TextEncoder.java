package dev.ember;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Texts to the ids a model sees: prompt, tokenizer, the special tokens around the text, the
 * family's end token, truncation, and the pool start of an excluded prompt; for a model with an
 * encoder (Causal2Vec), also the encoder tokenizer's ids of the same text.
 *
 * <p>The tokenizer's post-processor adds the same special tokens around every single text (that is
 * what Template, Bert, Roberta and ByteLevel processing do), so they are found once, from a probe,
 * and each text is encoded without them: that lets truncation cut the text and keep the special
 * tokens, as {@code transformers} does when it truncates.
 *
 * <p>The encoder reads the same characters as the decoder: the prompted text, or, when the decoder
 * cut it, the text up to the end of the last token the decoder kept. It adds its own special
 * tokens and is cut again, under the same {@link Truncation}, at its own limit (its position
 * embeddings).
 */
final class TextEncoder implements AutoCloseable {
    private final Side decoder;
    /** Causal2Vec's encoder tokenizer; null for models without an encoder. */
    private final Side encoder;
    private final ModelPrompts prompts;
    private final Truncation truncation;
    private static final int MAX_CACHED_PROMPTS = 256;

    /** Tokens of each prompt prefix seen, without special tokens. */
    private final ConcurrentMap<String, Integer> promptLengths = new ConcurrentHashMap<>();

    TextEncoder(Tokenizer tokenizer, ModelPrompts prompts, int maxLength, Truncation truncation) {
        this(tokenizer, null, 0, prompts, maxLength, truncation);
    }

    /**
     * @param encoderTokenizer the encoder's tokenizer (Causal2Vec), or null
     * @param encoderMaxLength the encoder's longest input, special tokens included (ignored without one)
     */
    TextEncoder(Tokenizer tokenizer, Tokenizer encoderTokenizer, int encoderMaxLength, ModelPrompts prompts,
            int maxLength, Truncation truncation) {
        this.prompts = prompts;
        this.truncation = truncation;
        this.decoder = new Side(tokenizer, prompts, prompts.endToken(), maxLength, "max length");
        this.encoder = encoderTokenizer == null ? null
                : new Side(encoderTokenizer, prompts, null, encoderMaxLength, "the encoder's length");
    }

    /** The length limits, for messages: "512 tokens", or with an encoder "4096 tokens (encoder: 512)". */
    String limits() {
        return decoder.maxLength + " tokens" + (encoder == null ? "" : " (encoder: " + encoder.maxLength + ")");
    }

    /** Encodes every text with the options' prompt; throws {@link InputTooLongException} under {@link Truncation#ERROR}. */
    List<TokenizedInput> encode(List<String> texts, EmbedOptions options) {
        String prefix = prompts.resolve(options.prompt());
        boolean exclude = options.excludePromptFromPooling() != null ? options.excludePromptFromPooling()
                : prompts.excludePrompt();
        int poolStart = exclude ? promptPoolStart(prefix) : 0;
        List<String> full = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            String text = texts.get(i);
            if (text == null) {
                throw new InvalidInputException("text " + i + " is null");
            }
            full.add(prefix.isEmpty() ? text : prefix + text);
        }
        int[][] bodies = decoder.tokenizer.encode(full, false);
        int room = decoder.room();
        int[][] ids = new int[bodies.length][];
        boolean[] truncated = new boolean[bodies.length];
        List<String> encoderTexts = encoder == null ? null : new ArrayList<>(full);
        for (int i = 0; i < bodies.length; i++) {
            int[] body = bodies[i];
            if (body.length > room) {
                if (truncation == Truncation.ERROR) {
                    throw new InputTooLongException(i, decoder.length(body), decoder.maxLength);
                }
                truncated[i] = true;
                if (encoder != null) {
                    String text = full.get(i);
                    encoderTexts.set(i, text.substring(0, decoder.tokenizer.endOfTokens(text, room)));
                }
                body = Arrays.copyOf(body, room);
            }
            ids[i] = decoder.assemble(body, i, "this ");
        }
        int[][] encoderIds = encoder == null ? null : encodeForEncoder(encoderTexts, truncated);
        List<TokenizedInput> out = new ArrayList<>(ids.length);
        for (int i = 0; i < ids.length; i++) {
            // At least one token must stay in the pool, even for a text that is all prompt.
            out.add(new TokenizedInput(ids[i], Math.min(poolStart, ids[i].length - 1), truncated[i],
                    encoderIds == null ? null : encoderIds[i]));
        }
        return out;
    }

    /** The encoder's ids of each text, cut at its own limit; marks the inputs it cut in {@code truncated}. */
    private int[][] encodeForEncoder(List<String> texts, boolean[] truncated) {
        int[][] bodies = encoder.tokenizer.encode(texts, false);
        int room = encoder.room();
        int[][] out = new int[bodies.length][];
        for (int i = 0; i < bodies.length; i++) {
            int[] body = bodies[i];
            if (body.length > room) {
                if (truncation == Truncation.ERROR) {
                    throw new InputTooLongException(i, encoder.length(body), encoder.maxLength, true);
                }
                truncated[i] = true;
                body = Arrays.copyOf(body, room);
            }
            out[i] = encoder.assemble(body, i, "the encoder's ");
        }
        return out;
    }

    /**
     * Leading positions to leave out of pooling for a prompt: its tokens with the tokenizer's
     * special tokens, minus one. That is sentence-transformers' {@code prompt_length} for
     * {@code include_prompt: false}, and for NV-Embed's BOS-only tokenizer it equals what NV-Embed's
     * own code masks ({@code len(tokenizer.tokenize(instruction))}).
     */
    private int promptPoolStart(String prefix) {
        if (prefix.isEmpty()) {
            return 0;
        }
        Integer cached = promptLengths.get(prefix);
        int tokens = cached != null ? cached : decoder.tokenizer.encode(prefix, false).length;
        // A bounded cache: callers that vary the prefix per call (a task per request) would grow it forever.
        if (cached == null && promptLengths.size() < MAX_CACHED_PROMPTS) {
            promptLengths.put(prefix, tokens);
        }
        return Math.max(0, decoder.head.length + tokens + decoder.tail.length - 1);
    }

    @Override
    public void close() {
        decoder.tokenizer.close();
        if (encoder != null) {
            encoder.tokenizer.close();
        }
    }

    /** One tokenizer with the special tokens it puts around a text and the longest input it may give. */
    private static final class Side {
        final Tokenizer tokenizer;
        /** Special tokens the post-processor puts before / after the text. */
        final int[] head;
        final int[] tail;
        /** {@link #tail} plus the family's end token when the post-processor does not add it. */
        final int[] end;
        final int maxLength;

        Side(Tokenizer tokenizer, ModelPrompts prompts, String endToken, int maxLength, String limit) {
            this.tokenizer = tokenizer;
            int[][] layout = specialTokenLayout(tokenizer);
            this.head = layout[0];
            this.tail = layout[1];
            this.end = withEndToken(tokenizer, tail, endToken, prompts);
            if (maxLength <= head.length + end.length) {
                throw new InvalidInputException(limit + " " + maxLength + " leaves no room for text next to the "
                        + (head.length + end.length) + " special tokens of " + tokenizer);
            }
            this.maxLength = maxLength;
        }

        /** Tokens of text the limit leaves room for. */
        int room() {
            return maxLength - head.length - end.length;
        }

        /** Tokens a body has with the special tokens. */
        int length(int[] body) {
            return head.length + body.length + end.length;
        }

        int[] assemble(int[] body, int index, String whose) {
            int n = length(body);
            if (n == 0) {
                throw new InvalidInputException("text " + index + " is empty and " + whose + "tokenizer adds no special "
                        + "tokens to it");
            }
            int[] ids = new int[n];
            System.arraycopy(head, 0, ids, 0, head.length);
            System.arraycopy(body, 0, ids, head.length, body.length);
            System.arraycopy(end, 0, ids, head.length + body.length, end.length);
            return ids;
        }
    }

    /** [head, tail]: the ids the post-processor adds before and after a text. */
    private static int[][] specialTokenLayout(Tokenizer tokenizer) {
        int[][] first = layoutOf(tokenizer, "Hello");
        int[][] second = layoutOf(tokenizer, "a b, c");
        if (first == null || second == null || !Arrays.equals(first[0], second[0]) || !Arrays.equals(first[1], second[1])) {
            throw new UnsupportedModelException(tokenizer + ": its post-processor adds special tokens that depend on the "
                    + "text; Ember supports those that add the same tokens around every text");
        }
        return first;
    }

    private static int[][] layoutOf(Tokenizer tokenizer, String probe) {
        int[] plain = tokenizer.encode(probe, false);
        int[] full = tokenizer.encode(probe, true);
        for (int at = 0; at + plain.length <= full.length; at++) {
            if (Arrays.equals(full, at, at + plain.length, plain, 0, plain.length)) {
                return new int[][] {Arrays.copyOfRange(full, 0, at), Arrays.copyOfRange(full, at + plain.length, full.length)};
            }
        }
        return null;
    }

    private static int[] withEndToken(Tokenizer tokenizer, int[] tail, String endToken, ModelPrompts prompts) {
        if (endToken == null) {
            return tail;
        }
        int id = tokenizer.tokenId(endToken).orElseThrow(() -> new UnsupportedModelException(tokenizer
                + " has no token " + endToken + ", which " + prompts.family() + " models end every input with"));
        if (tail.length > 0 && tail[tail.length - 1] == id) {
            return tail;
        }
        int[] end = Arrays.copyOf(tail, tail.length + 1);
        end[tail.length] = id;
        return end;
    }
}
