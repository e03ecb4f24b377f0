import ClusterProcNode
import NineP

/// procsrv's command line. Parsed by hand: procsrv starts once per node on every launch, and
/// without an argument-parsing library it links no Foundation and starts in a few milliseconds.
struct Options {
    var stdio = false
    var listen: String?
    var key: String?
    var noAuth = false
    var verbose = false
    var help = false
    /// The words after `--`, as bytes.
    var command: [[UInt8]] = []

    /// A usage error: what was wrong, said in one line.
    struct UsageError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Parses `words` (without the program name), bytes as the process got them: options,
    /// then `--` and the job, whose words are kept byte for byte.
    /// `--opt VALUE` and `--opt=VALUE` are both accepted.
    init(parsing words: [[UInt8]]) throws(UsageError) {
        let arguments = words.map { String(decoding: $0, as: UTF8.self) }
        var index = 0
        func value(for option: String, inline: String?) throws(UsageError) -> String {
            if let inline { return inline }
            index += 1
            guard index < arguments.count, arguments[index] != "--" else { throw UsageError("missing value for '\(option)'") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                command = Array(words[(index + 1)...])
                break
            }
            var name = argument
            var inline: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            switch name {
            case "--stdio", "--no-auth", "--verbose", "-v", "--help", "-h":
                if inline != nil { throw UsageError("'\(name)' takes no value") }
                switch name {
                case "--stdio": stdio = true
                case "--no-auth": noAuth = true
                case "--verbose", "-v": verbose = true
                default: help = true
                }
            case "--listen": listen = try value(for: name, inline: inline)
            case "--key": key = try value(for: name, inline: inline)
            default:
                if argument.hasPrefix("-") { throw UsageError("unknown option '\(argument)'") }
                throw UsageError("unexpected argument '\(argument)' (a job goes after --)")
            }
            index += 1
        }
        if help { return }
        try validate()
    }

    private func validate() throws(UsageError) {
        guard stdio != (listen != nil) else { throw UsageError("give exactly one of --stdio and --listen") }
        if listen != nil && !command.isEmpty {
            throw UsageError("a job (-- COMMAND) needs --stdio")
        }
        if key != nil && listen == nil {
            throw UsageError("--key applies to --listen (over --stdio, SSH authenticates)")
        }
        if noAuth && listen == nil {
            throw UsageError("--no-auth applies to --listen tcp: on loopback (over --stdio, SSH authenticates)")
        }
        if let listen {
            let address: NinePAddress
            do { address = try NinePAddress(parsing: listen) } catch { throw UsageError("--listen \(listen): \(error)") }
            do {
                try ProcServer.checkListening(on: address, key: key != nil, noAuth: noAuth)
            } catch {
                throw UsageError(error.description)
            }
        }
    }

    static let usage = """
        OVERVIEW: Serve this node's /proc over 9P (9P2000, .u, .L), read-only, and supervise a job.

        USAGE: procsrv (--stdio [-- COMMAND ...] | --listen ADDRESS [--key FILE | --no-auth]) [--verbose]

        With --stdio, 9P travels over standard input and output (how cluster-launch runs
        procsrv through SSH: always the fixed command "procsrv --stdio"). Attach name ""
        (or "/proc") is /proc; symlinks are served as symlinks and never followed, nothing
        can be written, and the kernel's permissions for the user running procsrv apply.

        Attach name "job" is the job's control tree: spec, ctl (write "start", "signal N",
        "signal TERM", "kill", "interrupt"; read: the last error), stdin, stdout, stderr
        (streaming), wait ("exit N" or "signal N" once it ends), pids (the family), info and
        ps (a snapshot for cps). The job travels inside the connection, never on a command
        line: write its spec to "spec", then "start" to "ctl". A spec is, little-endian:
          "CPJ1", flags[1] (1: stdin comes through the stdin file; 0: end of file at once),
          dir: len[4] bytes (0: procsrv's own), argc[4] then argc words len[4] bytes,
          envc[4] then envc NAME=VALUE entries len[4] bytes (added to procsrv's environment).
        Words are raw bytes (no NUL); at most 65536 words and entries, 131071 bytes each,
        2 MiB in all. A signal, "interrupt" or "kill" before "start" means the job never
        starts. "kill" SIGKILLs the whole family at once. When the connection ends or procsrv
        gets SIGTERM, SIGHUP or SIGINT, the job's whole family is ended (SIGTERM, a second's
        grace, then SIGKILL), and procsrv exits with the job's exit code if it had finished,
        else 1 (0 when no job started).

        With -- COMMAND ARGS... (for use by hand), procsrv starts COMMAND at once, in its own
        environment and working directory, with its stdin fed through the stdin file.

        With --listen, procsrv serves /proc (no job) to its own user only, on unix:PATH
        (socket mode 0600; a peer of another uid than procsrv's or root's is refused by its
        credentials) or tcp:HOST:PORT (port 0 picks one; the bound address is printed on
        stderr). TCP needs --key FILE, on loopback too: a shared key of at least 32 random
        bytes (head -c 32 /dev/urandom > FILE; chmod 600 FILE), which every client must prove
        it holds through Tauth before it may attach (on any address once --key is given).
        The key file must be a regular file of procsrv's user that neither group nor others
        may read or write. The traffic itself is not encrypted: see docs/auth.md. On loopback
        only, --no-auth serves TCP without a key: every local user can then read /proc as
        procsrv's user can. What procsrv holds for its clients is bounded (README.md).

        OPTIONS:
          --stdio                 Serve one connection on standard input and output.
          --listen <address>      Listen on unix:PATH or tcp:HOST:PORT.
          --key <file>            With --listen: a shared key file (mode 0600, at least 32
                                  bytes) clients must authenticate with.
          --no-auth               With --listen tcp: on loopback: no key; every local user
                                  can read /proc as procsrv's user.
          -v, --verbose           Log debug messages to stderr.
          -h, --help              Show this help.
          -- <command> ...        A job to start at once (only with --stdio).

        """
}
