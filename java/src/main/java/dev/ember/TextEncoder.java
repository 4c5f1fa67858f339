package dev.ember;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Texts to the ids a model sees: prompt, tokenizer, the special tokens around the text, the
 * family's end token, truncation, and the pool start of an excluded prompt.
 *
 * <p>The tokenizer's post-processor adds the same special tokens around every single text (that is
 * what Template, Bert, Roberta and ByteLevel processing do), so they are found once, from a probe,
 * and each text is encoded without them: that lets truncation cut the text and keep the special
 * tokens, as {@code transformers} does when it truncates.
 */
final class TextEncoder implements AutoCloseable {
    private final Tokenizer tokenizer;
    private final ModelPrompts prompts;
    private final int maxLength;
    private final Truncation truncation;
    /** Special tokens the post-processor puts before / after the text. */
    private final int[] head;
    private final int[] tail;
    /** {@link #tail} plus the family's end token when the post-processor does not add it. */
    private final int[] end;
    private static final int MAX_CACHED_PROMPTS = 256;

    /** Tokens of each prompt prefix seen, without special tokens. */
    private final ConcurrentMap<String, Integer> promptLengths = new ConcurrentHashMap<>();

    TextEncoder(Tokenizer tokenizer, ModelPrompts prompts, int maxLength, Truncation truncation) {
        this.tokenizer = tokenizer;
        this.prompts = prompts;
        this.truncation = truncation;
        int[][] layout = specialTokenLayout(tokenizer);
        this.head = layout[0];
        this.tail = layout[1];
        this.end = withEndToken(tokenizer, tail, prompts);
        if (maxLength <= head.length + end.length) {
            throw new InvalidInputException("max length " + maxLength + " leaves no room for text next to the "
                    + (head.length + end.length) + " special tokens");
        }
        this.maxLength = maxLength;
    }

    int maxLength() {
        return maxLength;
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
        int[][] bodies = tokenizer.encode(full, false);
        int room = maxLength - head.length - end.length;
        List<TokenizedInput> out = new ArrayList<>(bodies.length);
        for (int i = 0; i < bodies.length; i++) {
            int[] body = bodies[i];
            boolean truncated = body.length > room;
            if (truncated) {
                if (truncation == Truncation.ERROR) {
                    throw new InputTooLongException(i, head.length + body.length + end.length, maxLength);
                }
                body = Arrays.copyOf(body, room);
            }
            int n = head.length + body.length + end.length;
            if (n == 0) {
                throw new InvalidInputException("text " + i + " is empty and this tokenizer adds no special tokens to it");
            }
            int[] ids = new int[n];
            System.arraycopy(head, 0, ids, 0, head.length);
            System.arraycopy(body, 0, ids, head.length, body.length);
            System.arraycopy(end, 0, ids, head.length + body.length, end.length);
            // At least one token must stay in the pool, even for a text that is all prompt.
            out.add(new TokenizedInput(ids, Math.min(poolStart, n - 1), truncated));
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
        int tokens = cached != null ? cached : tokenizer.encode(prefix, false).length;
        // A bounded cache: callers that vary the prefix per call (a task per request) would grow it forever.
        if (cached == null && promptLengths.size() < MAX_CACHED_PROMPTS) {
            promptLengths.put(prefix, tokens);
        }
        return Math.max(0, head.length + tokens + tail.length - 1);
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

    private static int[] withEndToken(Tokenizer tokenizer, int[] tail, ModelPrompts prompts) {
        if (prompts.endToken() == null) {
            return tail;
        }
        int id = tokenizer.tokenId(prompts.endToken()).orElseThrow(() -> new UnsupportedModelException(tokenizer
                + " has no token " + prompts.endToken() + ", which " + prompts.family() + " models end every input with"));
        if (tail.length > 0 && tail[tail.length - 1] == id) {
            return tail;
        }
        int[] end = Arrays.copyOf(tail, tail.length + 1);
        end[tail.length] = id;
        return end;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
