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
        version: ClusterProcVersion.current,
        subcommands: [RunCommand.self, ExecCommand.self, ShellCommand.self, ListCommand.self, KillCommand.self, CatCommand.self, LsCommand.self],
        defaultSubcommand: RunCommand.self
    )

    /// The top-level help shows the run options too, since running is what the tool does
    /// without a subcommand; and a subcommand may come after options.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if ["-h", "--help", "help"].contains(arguments.first ?? "") && arguments.count == 1 {
            print(helpMessage() + "\n\nRUN (the default subcommand):\n" + RunCommand.helpMessage(columns: nil))
            return
        }
        main(subcommandFirst(arguments))
    }

    /// `-v list` or `-j ID cat node01/loadavg` as `list -v`, `cat -j ID node01/loadavg`: the
    /// first subcommand name before any `--` moves to the front when the options around it are
    /// the subcommand's own. When they are not (`-w node01 ls /tmp`), the words are a command
    /// for the nodes, as pdsh takes them; but `exec` and `shell` where the command would begin
    /// are no command for nodes, so their parser reports what is wrong.
    static func subcommandFirst(_ arguments: [String]) -> [String] {
        let names = configuration.subcommands.compactMap { $0.configuration.commandName }
        let options = arguments.prefix { $0 != "--" }
        guard let index = options.firstIndex(where: names.contains), index > 0 else { return arguments }
        var moved = arguments
        let word = moved.remove(at: index)
        moved.insert(word, at: 0)
        do {
            _ = try parseAsRoot(moved)
            return moved
        } catch {
            let commandStart = (try? RunCommand.parse(arguments)).map { arguments.count - $0.command.count }
            return ["exec", "shell"].contains(word) && commandStart == index ? moved : arguments
        }
    }
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
