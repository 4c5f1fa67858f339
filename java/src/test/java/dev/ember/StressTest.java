package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ember.internal.NativeModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * One Embedder under 32 threads: mixed call kinds and batch sizes give what serial calls give;
 * close() in the middle of it gives EmberClosedException in the other threads, never a crash;
 * unclosed Embedders are freed by the Cleaner with a warning, and never while a call is running.
 * ConcurrencyTest covers the plain 32-thread embedTokens case.
 */
class StressTest {
    private static final int THREADS = 32;

    private static Embedder open() {
        return Embedder.builder().setModel(Goldens.dir("qwen3-tiny")).optBackend(Backend.CPU).optThreads(2).build();
    }

    /** Batch sizes from 1 to 100 sequences, lengths 1 to 120 tokens. */
    private static int[][] batch(Random rng, int sequences) {
        int[][] b = new int[sequences][];
        for (int s = 0; s < sequences; s++) {
            b[s] = rng.ints(1 + rng.nextInt(rng.nextInt(8) == 0 ? 120 : 20), 0, 512).toArray();
        }
        return b;
    }

    /** One call of one of four kinds; its result flattened so results compare with equals. */
    private record Call(int kind, int[][] batch, int[] poolStart) {
        float[][] run(Embedder e) {
            return switch (kind) {
                case 0 -> e.embedTokens(batch);
                case 1 -> e.embedTokens(batch, poolStart, false, 16);
                case 2 -> e.embedTokens(batch, null, true, 0);
                default -> e.lastHiddenState(batch[0]);
            };
        }
    }

    private static List<Call> calls(long seed, int n) {
        Random rng = new Random(seed);
        int[] sizes = {1, 2, 7, 33, 100};
        List<Call> calls = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[][] b = batch(rng, sizes[rng.nextInt(sizes.length)]);
            int[] poolStart = new int[b.length];
            for (int s = 0; s < b.length; s++) {
                poolStart[s] = rng.nextInt(b[s].length);
            }
            calls.add(new Call(rng.nextInt(4), b, poolStart));
        }
        return calls;
    }

    private static void assertSame(float[][] want, float[][] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int r = 0; r < want.length; r++) {
            // Same kernels and the same split of work per op whatever the other threads do.
            assertArrayEquals(want[r], got[r], what + " row " + r);
        }
    }

    @Test
    void thirtyTwoThreadsMixedCallsAndBatchSizesMatchSerial() throws Exception {
        long seed = new Random().nextLong();
        List<Call> calls = calls(seed, 96);
        try (Embedder e = open()) {
            List<float[][]> serial = new ArrayList<>();
            for (Call c : calls) {
                serial.add(c.run(e));
            }
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<float[][]>> futures = new ArrayList<>();
                List<Integer> which = new ArrayList<>();
                Random order = new Random(seed + 1);
                for (int i = 0; i < calls.size() * 4; i++) {
                    int k = order.nextInt(calls.size());
                    which.add(k);
                    futures.add(pool.submit(() -> calls.get(k).run(e)));
                }
                for (int i = 0; i < futures.size(); i++) {
                    int k = which.get(i);
                    assertSame(serial.get(k), futures.get(i).get(60, TimeUnit.SECONDS),
                            "seed " + seed + " call " + k + " (kind " + calls.get(k).kind + ")");
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void closeWhileThirtyTwoThreadsEmbedGivesEmberClosedException() throws Exception {
        long seed = new Random().nextLong();
        List<Call> calls = calls(seed, 24);
        List<float[][]> serial = new ArrayList<>();
        try (Embedder e = open()) {
            for (Call c : calls) {
                serial.add(c.run(e));
            }
        }
        long liveBefore = LeakTest.settledLiveModels();
        Random rng = new Random(seed);
        for (int round = 0; round < 12; round++) {
            Embedder e = open();
            CountDownLatch started = new CountDownLatch(THREADS);
            AtomicInteger closedSeen = new AtomicInteger();
            AtomicLong completed = new AtomicLong();
            List<Throwable> unexpected = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int first = t;
                Thread th = new Thread(() -> {
                    started.countDown();
                    for (int i = first; ; i++) {
                        int k = i % calls.size();
                        float[][] got;
                        try {
                            got = calls.get(k).run(e);
                        } catch (EmberClosedException closed) {
                            closedSeen.incrementAndGet();
                            return;
                        } catch (Throwable other) {
                            unexpected.add(other);
                            return;
                        }
                        try {
                            assertSame(serial.get(k), got, "call " + k);
                            completed.incrementAndGet();
                        } catch (Throwable wrong) {
                            unexpected.add(wrong);
                            return;
                        }
                    }
                }, "stress-" + t);
                th.start();
                threads.add(th);
            }
            started.await();
            Thread.sleep(rng.nextInt(round < 4 ? 3 : 60));
            e.close();
            for (Thread th : threads) {
                th.join(60_000);
                assertTrue(!th.isAlive(), th.getName() + " still running after close()");
            }
            if (!unexpected.isEmpty()) {
                fail("seed " + seed + " round " + round + ": " + unexpected.size() + " unexpected: " + unexpected.get(0),
                        unexpected.get(0));
            }
            assertEquals(THREADS, closedSeen.get(), "every thread ends with EmberClosedException");
            assertThrows(EmberClosedException.class, () -> e.embedTokens(new int[][] {{1}}));
            assertThrows(EmberClosedException.class, () -> e.lastHiddenState(new int[] {1}));
        }
        assertEquals(liveBefore, NativeModel.liveModels(), "every closed model is freed");
    }

    /** Uses an Embedder and drops it without close(): it is unreachable once this returns. */
    private static void useAndForget() {
        Embedder e = open();
        assertEquals(64, e.embedTokens(new int[][] {{1, 2, 3}})[0].length);
    }

    @Test
    void unclosedEmbedderIsFreedByTheCleanerWithAWarning() throws Exception {
        long liveBefore = LeakTest.settledLiveModels();
        long freedBefore = Embedder.UNCLOSED_FREED.get();
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            useAndForget();
            assertEquals(liveBefore + 1, NativeModel.liveModels());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while ((Embedder.UNCLOSED_FREED.get() == freedBefore || NativeModel.liveModels() != liveBefore)
                    && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(20);
            }
        } finally {
            System.setErr(err);
        }
        assertEquals(freedBefore + 1, Embedder.UNCLOSED_FREED.get(), "the Cleaner ran");
        assertEquals(liveBefore, NativeModel.liveModels(), "its native model was freed");
        String log = captured.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("garbage collected without close()") && log.contains("qwen3-tiny"), log);
    }

    /**
     * Unclosed Embedders used once and dropped ({@code builder().build().embedTokens(...)}) while
     * other threads force collections: the Cleaner must never free a model under a running call.
     */
    @Test
    void theCleanerNeverFreesAModelUnderARunningCall() throws Exception {
        int[][] big = batch(new Random(7), 64);
        float[][] want;
        try (Embedder e = open()) {
            want = e.embedTokens(big);
        }
        AtomicBoolean stop = new AtomicBoolean();
        Thread gc = new Thread(() -> {
            while (!stop.get()) {
                System.gc();
                Thread.onSpinWait();
            }
        }, "stress-gc");
        gc.start();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        long freedBefore = Embedder.UNCLOSED_FREED.get();
        // Hundreds of (expected) Cleaner warnings: keep them out of the build log.
        PrintStream err = System.err;
        System.setErr(new PrintStream(java.io.OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8));
        try {
            List<Future<?>> futures = new ArrayList<>();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
            for (int t = 0; t < 4; t++) {
                futures.add(pool.submit(() -> {
                    int n = 0;
                    while (System.nanoTime() < until || n < 20) {
                        assertSame(want, open().embedTokens(big), "unclosed use " + n++);
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            stop.set(true);
            gc.join();
            pool.shutdownNow();
            LeakTest.settledLiveModels(); // let the Cleaner finish while its warnings are muted
            System.setErr(err);
        }
        assertTrue(Embedder.UNCLOSED_FREED.get() > freedBefore, "the Cleaner ran during the test");
    }
}
