import ArgumentParser
import ClusterProc
import Logging

/// `cluster-launch`: start a job on many nodes over SSH, and enter its private namespace.
@main
struct ClusterLaunch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster-launch",
        abstract: "Run a job on cluster nodes over SSH and see their /proc as /proc/<host>.",
        discussion: """
            Examples:
              cluster-launch -w 'node[01-04]' -- ./simulate --steps 1000
              cluster-launch -w 'node[01-04]' 'cd /scratch && ./simulate > out.$(hostname)'
              cluster-launch list
              cluster-launch exec -- cat /proc/node02/4242/status
              cluster-launch shell
            """,
        subcommands: [RunCommand.self, ExecCommand.self, ShellCommand.self, ListCommand.self, CatCommand.self, LsCommand.self],
        defaultSubcommand: RunCommand.self
    )
}

/// Logging for the tools: warnings by default, debug with `-v`.
func bootstrapLogging(verbose: Bool) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = verbose ? .debug : .warning
        return handler
    }
    return Logger(label: "cluster-launch")
}

/// The process environment as a dictionary.
func processEnvironment() -> [String: String] {
    var environment: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let text = String(cString: entry)
        if let eq = text.firstIndex(of: "=") {
            environment[String(text[..<eq])] = String(text[text.index(after: eq)...])
        }
        pointer += 1
    }
    return environment
}

#if canImport(Glibc)
import Glibc
#endif
