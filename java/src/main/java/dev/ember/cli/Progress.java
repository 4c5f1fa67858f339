package dev.ember.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A one-line progress bar on stderr: texts done, texts/s, tokens/s and the time left, estimated
 * from tokens (the work) rather than texts. Redrawn at most every 200 ms.
 */
final class Progress {
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final int BAR = 24;

    private final PrintStream err;
    private final boolean enabled;
    private final long totalTexts;
    private final long totalTokens;
    private final long start = System.nanoTime();
    private long texts;
    private long tokens;
    private long lastDraw;

    Progress(PrintStream err, boolean enabled, long totalTexts, long totalTokens) {
        this.err = err;
        this.enabled = enabled;
        this.totalTexts = totalTexts;
        this.totalTokens = totalTokens;
    }

    /** Whether stderr is a terminal. System.console() answers for stdin and stdout, not stderr. */
    static boolean stderrIsTerminal() {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    void advance(long doneTexts, long doneTokens) {
        texts += doneTexts;
        tokens += doneTokens;
        long now = System.nanoTime();
        if (enabled && now - lastDraw >= REDRAW_NANOS) {
            lastDraw = now;
            draw(now, false);
        }
    }

    void finish() {
        if (enabled) {
            draw(System.nanoTime(), true);
        }
    }

    private void draw(long now, boolean last) {
        double seconds = Math.max(1e-9, (now - start) / 1e9);
        double fraction = totalTokens > 0 ? (double) tokens / totalTokens : totalTexts > 0 ? (double) texts / totalTexts : 1;
        int filled = (int) Math.round(Math.min(1, fraction) * BAR);
        String eta = last ? "done in " + duration(seconds)
                : fraction > 0 ? "ETA " + duration(seconds * (1 - fraction) / fraction) : "ETA ?";
        err.print(String.format(Locale.ROOT, "\r[%s%s] %3d%% %d/%d texts  %.0f texts/s  %.0f tokens/s  %s\u001b[K",
                "#".repeat(filled), ".".repeat(BAR - filled), (int) Math.floor(fraction * 100), texts, totalTexts,
                texts / seconds, tokens / seconds, eta));
        if (last) {
            err.println();
        }
        err.flush();
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
