import ArgumentParser
import ClusterProc

/// A helper executable for the project's own tests: small, deterministic processes and
/// probes that tests start as real subprocesses. It is not installed or documented for users.
@main
struct TestTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster-proc-testtool",
        abstract: "Helper processes for cluster-proc's tests.",
        subcommands: [IgnoreTermCommand.self, OrphanCommand.self, PrintBytesCommand.self, NsExec.self, LyingFamilyCommand.self, Read9PCommand.self, ServeDirectoryCommand.self]
    )
}
