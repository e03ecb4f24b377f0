import ArgumentParser
import ClusterProcNode
import Logging
import NineP

#if canImport(Glibc)
import Glibc
#endif

/// procsrv: a node's /proc over 9P, read-only, and the job it supervises.
@main
struct ProcSrv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "procsrv",
        abstract: "Serve this node's /proc over 9P (9P2000, .u, .L), read-only, and supervise a job.",
        discussion: """
            With --stdio, 9P travels over standard input and output (how cluster-launch runs \
            procsrv through SSH). Attach name "" (or "/proc") is /proc; symlinks are served as \
            symlinks and never followed, nothing can be written, and the kernel's permissions \
            for the user running procsrv apply.

            With -- CMD ARGS..., procsrv starts CMD in a new session and serves its control \
            files under attach name "job": ctl (write "signal N", "signal TERM", "kill", \
            "interrupt"), stdin, stdout, stderr (streaming), wait ("exit N" or "signal N" once \
            it ends), pids (the family) and info. When the connection ends or procsrv gets \
            SIGTERM, SIGHUP or SIGINT, the job's whole family is ended, and procsrv exits with \
            the job's exit code if it had finished, else 1.

            With --listen, procsrv serves /proc (no job) to every connection on unix:PATH \
            (socket mode 0600) or tcp:HOST:PORT (port 0 picks one; the bound address is printed \
            on stderr). TCP beyond loopback needs --key FILE: a shared key of at least 32 random \
            bytes (head -c 32 /dev/urandom > FILE; chmod 600 FILE), which every client must prove \
            it holds through Tauth before it may attach (on any address once --key is given). \
            The key file must be a regular file that neither group nor others may read or write. \
            The traffic itself is not encrypted: see docs/auth.md.
            """)

    @Flag(name: .long, help: "Serve one connection on standard input and output.")
    var stdio = false

    @Option(name: .long, help: ArgumentHelp("Listen on unix:PATH or tcp:HOST:PORT.", valueName: "address"))
    var listen: String?

    @Option(name: .long, help: ArgumentHelp("With --listen: a shared key file (mode 0600, at least 32 bytes) clients must authenticate with.", valueName: "file"))
    var key: String?

    @Option(name: .long, help: ArgumentHelp("The job's working directory (default: the current one).", valueName: "dir"))
    var chdir: String?

    @Option(name: .long, help: ArgumentHelp("Add NAME=VALUE to the job's environment (repeatable).", valueName: "name=value"))
    var env: [String] = []

    @Flag(name: .shortAndLong, help: "Log debug messages to stderr.")
    var verbose = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The job to start and supervise (after --; only with --stdio).", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard stdio != (listen != nil) else { throw ValidationError("give exactly one of --stdio and --listen") }
        if listen != nil && (!command.isEmpty || chdir != nil || !env.isEmpty) {
            throw ValidationError("a job (--, --chdir, --env) needs --stdio")
        }
        if key != nil && listen == nil {
            throw ValidationError("--key applies to --listen (over --stdio, SSH authenticates)")
        }
        if command.isEmpty && (chdir != nil || !env.isEmpty) {
            throw ValidationError("--chdir and --env apply to a job: add -- COMMAND")
        }
        for item in env where !item.contains("=") || item.hasPrefix("=") {
            throw ValidationError("--env \(item): expected NAME=VALUE")
        }
        if let listen {
            do { _ = try NinePAddress(parsing: listen) } catch { throw ValidationError("--listen \(listen): \(error)") }
        }
    }

    func run() throws {
        let level: Logger.Level = verbose ? .debug : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "procsrv")
        do {
            if let listen {
                let address = try NinePAddress(parsing: listen)
                let sharedKey = try key.map { path throws(AuthenticationError) in try SharedKey.load(path: path) }
                try ProcServer.listen(on: address, key: sharedKey, logger: logger) { bound in
                    printError("procsrv: listening on \(bound)")
                }
            }
            var job: ProcServer.JobOptions?
            if !command.isEmpty {
                var environment: [String: String] = [:]
                for item in env {
                    let equals = item.firstIndex(of: "=")!
                    environment[String(item[..<equals])] = String(item[item.index(after: equals)...])
                }
                job = ProcServer.JobOptions(argv: command, workingDirectory: chdir, environment: environment)
            }
            try ProcServer.serveStandardIO(job: job, logger: logger)
        } catch {
            printError("procsrv: \(error)")
            throw ExitCode(2)
        }
    }
}

/// Writes a line to standard error at once, unbuffered.
private func printError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
