import ClusterProcNode
import Logging
import NineP

#if canImport(Glibc)
import Glibc
#endif

/// procsrv: a node's /proc over 9P, read-only, and the job it supervises.
@main
struct ProcSrv {
    static func main() {
        let options: Options
        do {
            // The raw words: Swift's CommandLine.arguments would repair invalid UTF-8.
            options = try Options(parsing: Array(ProcessBytes.arguments().dropFirst()))
        } catch {
            printError("procsrv: error: \(error)\nUsage: procsrv --stdio [-- COMMAND ...] | --listen ADDRESS [--key FILE | --no-auth]; see procsrv --help")
            exit(64)
        }
        if options.help {
            let text = Array(Options.usage.utf8)
            _ = text.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            exit(0)
        }
        exit(run(options))
    }

    /// Serves until the connection (or, with --listen, the process) ends; returns only the
    /// exit status of a failure to start.
    static func run(_ options: Options) -> Int32 {
        let level: Logger.Level = options.verbose ? .debug : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "procsrv")
        do {
            if let listen = options.listen {
                let address = try NinePAddress(parsing: listen)
                let authentication: ProcServer.Authentication =
                    if let path = options.key { .sharedKey(try SharedKey.load(path: path)) }
                    else if options.noAuth { .none } else { .peerCredentials }
                try ProcServer.listen(on: address, authentication: authentication, logger: logger) { bound in
                    printError("procsrv: listening on \(bound)")
                }
            }
            try ProcServer.serveStandardIO(job: options.command.isEmpty ? nil : JobSpec(argv: options.command), logger: logger)
        } catch {
            printError("procsrv: \(error)")
            return 2
        }
    }
}

/// Writes a line to standard error at once, unbuffered.
private func printError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
