import Glibc

/// How a job's root process ended.
///
/// Its text form is what the `wait` file shows: `exit 3` or `signal 9`; `init?(text:)` reads it back.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    /// The process called `exit` with this status (0–255).
    case exited(Int32)
    /// The process was killed by this signal.
    case signaled(Int32)

    /// Decodes a status as returned by `waitpid`; nil when it describes a stop or continue.
    init?(waitStatus status: Int32) {
        let signal = status & 0x7f
        if signal == 0 {
            self = .exited((status >> 8) & 0xff)
        } else if signal != 0x7f && status != 0xffff {
            self = .signaled(signal)
        } else {
            return nil
        }
    }

    /// Reads the text form back: `exit N` or `signal N` (surrounding white space ignored).
    public init?(text: String) {
        let words = text.split(whereSeparator: \.isWhitespace)
        guard words.count == 2, let number = Int32(words[1]), number >= 0 else { return nil }
        switch words[0] {
        case "exit": self = .exited(number)
        case "signal": self = .signaled(number)
        default: return nil
        }
    }

    /// `exit N` or `signal N`, without a trailing newline.
    public var text: String {
        switch self {
        case .exited(let status): "exit \(status)"
        case .signaled(let signal): "signal \(signal)"
        }
    }

    public var description: String { text }

    /// The shell's convention: the exit status, or 128 plus the signal number.
    public var code: Int32 {
        switch self {
        case .exited(let status): status
        case .signaled(let signal): 128 + signal
        }
    }
}
