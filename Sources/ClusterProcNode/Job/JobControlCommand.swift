import Glibc

/// One command of the `ctl` file's language.
///
/// The language, one command per line (blank lines are ignored):
/// - `signal N` or `signal NAME` — deliver a signal to the whole family; NAME as in
///   `kill -l`, with or without `SIG`, in any case (`TERM`, `sigusr1`, `SIGHUP`).
/// - `kill` — SIGKILL the whole family at once (frozen first, so nothing escapes by forking).
/// - `interrupt` — deliver SIGINT to the whole family, as a terminal's ^C would.
/// - `start` — start the job the `spec` file describes (``JobControlTree``).
///
/// A signal, `kill` or `interrupt` that comes before `start` means the job never starts.
public enum JobControlCommand: Sendable, Equatable {
    case signal(Int32)
    case kill
    case interrupt
    case start

    /// Parses every line of `text`; nothing is returned unless every line is understood.
    /// - Throws: `JobError` with code `.badControlCommand` naming the first bad line.
    public static func parse(_ text: String) throws(JobError) -> [JobControlCommand] {
        var commands: [JobControlCommand] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let verb = words.first else { continue }
            switch (verb, words.count) {
            case ("kill", 1): commands.append(.kill)
            case ("interrupt", 1): commands.append(.interrupt)
            case ("start", 1): commands.append(.start)
            case ("signal", 2):
                guard let number = signalNumber(words[1]) else {
                    throw JobError(.badControlCommand, "ctl: unknown signal '\(words[1])'")
                }
                commands.append(.signal(number))
            default:
                throw JobError(
                    .badControlCommand,
                    "ctl: cannot understand '\(line.trimmingWhitespace)'; expected 'signal N|NAME', 'kill', 'interrupt' or 'start'")
            }
        }
        return commands
    }

    /// The signal number for a number (1–64) or a name such as `TERM`, `SIGUSR1`, `rtmin+2`.
    public static func signalNumber(_ word: String) -> Int32? {
        if let number = Int32(word) {
            return (1...64).contains(number) ? number : nil
        }
        var name = word.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let number = signalNames[name] { return number }
        for (base, sign) in [("RTMIN+", Int32(1)), ("RTMAX-", Int32(-1))] where name.hasPrefix(base) {
            guard let offset = Int32(name.dropFirst(base.count)), offset >= 0 else { return nil }
            let number = (sign > 0 ? SIGRTMIN_NUMBER : SIGRTMAX_NUMBER) + sign * offset
            return (SIGRTMIN_NUMBER...SIGRTMAX_NUMBER).contains(number) ? number : nil
        }
        return nil
    }

    // glibc reserves two real-time signals for itself; these are what `kill -l` calls RTMIN/RTMAX.
    private static let SIGRTMIN_NUMBER: Int32 = 34
    private static let SIGRTMAX_NUMBER: Int32 = 64

    private static let signalNames: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP,
        "ABRT": SIGABRT, "IOT": SIGABRT, "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL,
        "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM,
        "TERM": SIGTERM, "STKFLT": SIGSTKFLT, "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP,
        "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU,
        "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO,
        "POLL": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS, "RTMIN": 34, "RTMAX": 64,
    ]
}

extension Substring {
    fileprivate var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
