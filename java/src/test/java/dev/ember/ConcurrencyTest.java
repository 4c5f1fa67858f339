package dev.ember;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Many threads on one Embedder give exactly what serial calls give. */
class ConcurrencyTest {
    @Test
    void thirtyTwoThreadsMatchSerial() throws Exception {
        Random rng = new Random();
        int[][][] batches = new int[64][][];
        for (int b = 0; b < batches.length; b++) {
            int n = 1 + rng.nextInt(5);
            batches[b] = new int[n][];
            for (int s = 0; s < n; s++) {
                batches[b][s] = rng.ints(1 + rng.nextInt(60), 0, 512).toArray();
            }
        }
        try (Embedder e = Embedder.builder().setModel(Goldens.dir("qwen3-tiny")).optBackend(Backend.CPU).optThreads(2).build()) {
            List<float[][]> serial = new ArrayList<>();
            for (int[][] batch : batches) {
                serial.add(e.embedTokens(batch));
            }
            ExecutorService pool = Executors.newFixedThreadPool(32);
            try {
                List<Future<float[][]>> futures = new ArrayList<>();
                for (int round = 0; round < 4; round++) {
                    for (int[][] batch : batches) {
                        futures.add(pool.submit(() -> e.embedTokens(batch)));
                    }
                }
                for (int i = 0; i < futures.size(); i++) {
                    float[][] got = futures.get(i).get();
                    float[][] want = serial.get(i % batches.length);
                    assertEquals(want.length, got.length);
                    for (int s = 0; s < want.length; s++) {
                        // Same kernels, same partitioning of work per op: bit-identical.
                        assertArrayEquals(want[s], got[s], "batch " + (i % batches.length) + " seq " + s);
                    }
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
