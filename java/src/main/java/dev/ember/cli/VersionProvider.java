package dev.ember.cli;

import dev.ember.internal.NativeModel;
import picocli.CommandLine;

final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        return new String[] {"ember " + NativeModel.version() + " (cpu: " + NativeModel.cpuIsa() + ")"};
    }
}
