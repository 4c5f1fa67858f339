package dev.ember.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** Where embed writes its vectors, one row per input, in input order. */
interface VectorSink {
    void write(float[] vector) throws IOException;

    void flush() throws IOException;

    /** {"embedding": [...]} per line. */
    static VectorSink jsonl(Writer out) {
        return new VectorSink() {
            @Override
            public void write(float[] vector) throws IOException {
                out.write("{\"embedding\":[");
                for (int i = 0; i < vector.length; i++) {
                    if (i > 0) {
                        out.write(',');
                    }
                    // Float.toString is the shortest text that reads back as the same float.
                    out.write(Float.toString(vector[i]));
                }
                out.write("]}\n");
            }

            @Override
            public void flush() throws IOException {
                out.flush();
            }
        };
    }

    /**
     * A NumPy {@code .npy} file (format 1.0) of {@code rows x cols} little-endian float32: the
     * header needs the row count up front, which the first pass over the input gives.
     */
    static VectorSink npy(OutputStream out, long rows, int cols) throws IOException {
        String dict = String.format(Locale.ROOT, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
        // Magic (6) + version (2) + header length (2) + dict + padding + '\n', a multiple of 64.
        int unpadded = 10 + dict.length() + 1;
        int padded = (unpadded + 63) / 64 * 64;
        String header = dict + " ".repeat(padded - unpadded) + "\n";
        ByteBuffer start = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
        start.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        start.putShort((short) header.length());
        out.write(start.array());
        out.write(header.getBytes(StandardCharsets.US_ASCII));
        return new VectorSink() {
            private final ByteBuffer row = ByteBuffer.allocate(cols * 4).order(ByteOrder.LITTLE_ENDIAN);

            @Override
            public void write(float[] vector) throws IOException {
                if (vector.length != cols) {
                    throw new IllegalStateException("row of " + vector.length + " floats in a .npy of " + cols + " columns");
                }
                row.clear();
                row.asFloatBuffer().put(vector);
                out.write(row.array());
            }

            @Override
            public void flush() throws IOException {
                out.flush();
            }
        };
    }
}
