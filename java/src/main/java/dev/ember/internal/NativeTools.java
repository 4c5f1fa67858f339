package dev.ember.internal;

import java.nio.charset.StandardCharsets;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;

/** The tools of {@code ember/tools.h}: conversion, synthetic models, a GGUF file's tokenizer. */
public final class NativeTools {
    static {
        Loader.load(EmberLib.class);
    }

    private NativeTools() {}

    public static void convert(String hfDir, String out, int dtype) {
        NativeStatus.check(EmberLib.ember_convert(hfDir, out, dtype));
    }

    public static void synth(String like, String out, int dtype, long seed) {
        NativeStatus.check(EmberLib.ember_synth_model(like, out, dtype, seed));
    }

    /** The tokenizer metadata of a GGUF file, as the JSON object tools.h describes. */
    public static String ggufTokenizerJson(String path) {
        // One call when the first buffer is large enough (Qwen3's vocabulary is 3.3 MB of JSON),
        // a second one with the size the first reported otherwise.
        byte[] buf = new byte[8 << 20];
        try (PointerScope scope = new PointerScope()) {
            SizeTPointer needed = new SizeTPointer(1);
            for (int attempt = 0; ; attempt++) {
                NativeStatus.check(EmberLib.ember_gguf_tokenizer_json(path, buf, buf.length, needed));
                long n = needed.get();
                if (n <= buf.length) {
                    return new String(buf, 0, (int) n - 1, StandardCharsets.UTF_8);
                }
                if (n > Integer.MAX_VALUE - 8 || attempt > 0) {
                    throw new dev.ember.MalformedModelException(path + ": its tokenizer metadata is "
                            + (attempt > 0 ? "changing while it is read" : "larger than 2 GB"));
                }
                buf = new byte[(int) n];
            }
        }
    }
}
