package dev.ember;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.internal.NativeModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * 10,000 load / embed / close cycles of the 2-layer tiny model: native model count, threads and
 * resident memory stay flat. (The C++ side runs the same loop under LeakSanitizer.)
 */
class LeakTest {
    private static final int CYCLES = Integer.getInteger("ember.leakCycles", 10_000);

    /** A field of /proc/self/status, its first number (VmRSS: kB). */
    private static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
            }
        }
        throw new IllegalStateException(field + " not in /proc/self/status");
    }

    /** Native worker threads of Ember's CPU thread pools (named ember-worker) alive now. */
    static long emberThreads() throws IOException {
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.filter(t -> {
                try {
                    return Files.readString(t.resolve("comm")).trim().equals("ember-worker");
                } catch (IOException gone) {
                    return false; // the thread exited while we listed
                }
            }).count();
        }
    }

    /**
     * The live native model count once Embedders dropped unclosed by earlier tests have been
     * collected and freed by the Cleaner: collects until the count holds still.
     */
    static long settledLiveModels() throws InterruptedException {
        long last = NativeModel.liveModels();
        int stable = 0;
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (stable < 5 && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(40);
            long now = NativeModel.liveModels();
            stable = now == last ? stable + 1 : 0;
            last = now;
        }
        return last;
    }

    /**
     * ember-worker threads once the count has held still for 100 ms (at most 2 s): an exited
     * worker stays listed in /proc/self/task a moment after its join returned, before the loop
     * as after it.
     */
    static long settledEmberThreads() throws IOException, InterruptedException {
        long last = emberThreads();
        for (int i = 0, still = 0; i < 100 && still < 5; i++) {
            Thread.sleep(20);
            long now = emberThreads();
            still = now == last ? still + 1 : 0;
            last = now;
        }
        return last;
    }

    private static void cycle(int i) {
        // Every other cycle with a native worker thread, so pool start and stop are in the loop.
        try (Embedder e = Embedder.builder().setModel(Goldens.dir("qwen3-tiny")).optBackend(Backend.CPU)
                .optThreads(1 + i % 2).build()) {
            float[][] v = e.embedTokens(new int[][] {{1, 2, 3}, {4, 5}});
            if (v.length != 2 || v[0].length != 64) {
                throw new AssertionError("bad result in cycle " + i);
            }
            if (e.lastHiddenState(new int[] {7, 8}).length != 2) {
                throw new AssertionError("bad hidden state in cycle " + i);
            }
        }
    }

    private static long settledRssKb() throws Exception {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return status("VmRSS");
    }

    @Test
    void tenThousandLoadEmbedCloseCyclesKeepNativeMemoryFlat() throws Exception {
        assertTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux /proc");
        long liveBefore = settledLiveModels();
        int warmup = Math.min(1000, CYCLES / 5);
        for (int i = 0; i < warmup; i++) {
            cycle(i);
        }
        long rssBefore = settledRssKb();
        long threadsBefore = settledEmberThreads();
        long t0 = System.nanoTime();
        for (int i = warmup; i < CYCLES; i++) {
            cycle(i);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        long rssAfter = settledRssKb();
        long threadsAfter = settledEmberThreads();
        System.out.printf("LeakTest: %d cycles in %.1f s after warm-up; RSS %d -> %d kB; ember threads %d -> %d%n",
                CYCLES - warmup, secs, rssBefore, rssAfter, threadsBefore, threadsAfter);
        assertEquals(liveBefore, NativeModel.liveModels(), "native models still loaded");
        // Not zero: the kernel C API keeps its pools for the life of the process (earlier tests
        // call it); the models' pools must all be gone.
        assertEquals(threadsBefore, threadsAfter, "ember-worker threads");
        // Each cycle maps 430 kB of weights and allocates activations: leaking either would add
        // gigabytes over the loop. The bound leaves room for heap and JIT noise.
        assertTrue(rssAfter - rssBefore < 48 * 1024,
                "RSS grew by " + (rssAfter - rssBefore) + " kB over " + (CYCLES - warmup) + " cycles");
    }
}
