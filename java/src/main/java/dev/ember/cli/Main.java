package dev.ember.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ember} command line. Subcommands print data to stdout and diagnostics to stderr. */
@Command(
        name = "ember",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Text embeddings with decoder-LLM embedding models.",
        subcommands = {EmbedCommand.class, TokenizeCommand.class, InfoCommand.class, ConvertCommand.class,
            SynthCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (try: ember embed --help)");
    }

    public static void main(String[] args) {
        // The command line reports through stdout/stderr itself; library logging only for warnings
        // unless asked (-Dorg.slf4j.simpleLogger.defaultLogLevel=info).
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        // JavaCPP refuses allocations once the process's resident memory passes 4x the Java heap,
        // and the native model's weights count there: a large model would fail with a small heap.
        if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null) {
            System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
        }
        // The tokenizer library warns about CUDA it looked for and does not need.
        if (System.getProperty("org.slf4j.simpleLogger.log.ai.djl") == null) {
            System.setProperty("org.slf4j.simpleLogger.log.ai.djl", "error");
        }
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code: 0 ok, 1 failure, 2 usage error. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof BadInputException) {
                commandLine.getErr().println("ember: " + ex.getMessage());
                return 2;
            }
            commandLine.getErr().println("ember: " + describe(ex));
            return 1;
        });
        return cli.execute(args);
    }

    private static String describe(Throwable ex) {
        String name = ex.getClass().getSimpleName();
        String message = ex.getMessage();
        return message == null ? name : name + ": " + message;
    }
}
