import ArgumentParser
import Glibc

/// A stubborn process: ignores SIGTERM (and SIGHUP), says `ready PID` on stdout and waits
/// forever, so only SIGKILL ends it.
struct IgnoreTermCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ignore-term",
        abstract: "Ignore SIGTERM and SIGHUP, print 'ready PID', then wait forever.")

    func run() throws {
        _ = signal(SIGTERM, SIG_IGN)
        _ = signal(SIGHUP, SIG_IGN)
        // Unbuffered, so the line is out before the wait begins.
        let line = Array("ready \(getpid())\n".utf8)
        _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        while true { pause() }
    }
}
