package dev.ember.cli;

import dev.ember.internal.EmberLib;

/**
 * PLACEHOLDER written by the build branch so that ./ember and .ci/run have a command to run.
 * The real command line replaces this file; keep "--help" and "version" working (the CI smoke
 * test runs them from the packaged jars).
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        String command = args.length == 0 ? "--help" : args[0];
        switch (command) {
            case "--help":
            case "help":
                System.out.println("usage: ember <command> [args]");
                System.out.println("  version   library version, CPU kernels and CUDA devices");
                break;
            case "version":
                int[] count = {0};
                byte[] reason = new byte[512];
                EmberLib.ember_cuda_device_count(count, reason, reason.length);
                System.out.println("ember " + EmberLib.ember_version());
                System.out.println("cpu: " + EmberLib.ember_cpu_isa());
                System.out.println("cuda: built=" + (EmberLib.ember_cuda_built() != 0) + " devices=" + count[0]
                        + (count[0] == 0 ? " (" + new String(reason, java.nio.charset.StandardCharsets.UTF_8).trim() + ")" : ""));
                break;
            default:
                System.err.println("ember: unknown command '" + command + "' (try --help)");
                System.exit(2);
        }
    }
}
