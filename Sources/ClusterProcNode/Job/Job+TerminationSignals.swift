import Glibc
import Logging
import NineP
import Synchronization

/// The write end of the pipe that signal handlers report to; -1 until the first installation.
private let terminationPipe = Atomic<Int32>(-1)
/// What to run for each trapped signal.
private let terminationHandlers = Mutex<[Int32: [@Sendable (Int32) -> Void]]>([:])

extension Job {
    /// The signals after which procsrv ends its job before it goes: termination requests,
    /// the hang-up sshd sends when the connection drops, and ^C.
    public static let terminationSignals: [Int32] = [SIGTERM, SIGHUP, SIGINT]

    /// Runs `handler` on a thread of its own each time one of `signals` arrives, instead of
    /// the signal's default action. procsrv uses it to call `terminateFamily` and exit.
    ///
    /// The signal handler itself only writes the signal number to a pipe (the one thing a
    /// handler may safely do); a dedicated thread reads it and calls `handler`. Works however
    /// many threads the process has, unlike `sigwait`, which needs the signals blocked in all
    /// of them. Jobs started later get default dispositions again (`posix_spawn` resets them).
    /// - Parameters:
    ///   - signals: the signals to trap.
    ///   - logger: logs each signal at debug level.
    ///   - handler: called with the signal number; several handlers may be installed.
    /// - Throws: `JobError` `.systemCallFailed` when the pipe or `sigaction` fails.
    public static func onTerminationSignals(
        _ signals: [Int32] = terminationSignals,
        logger: Logger,
        handler: @escaping @Sendable (Int32) -> Void
    ) throws {
        try startTerminationThread(logger: logger)
        terminationHandlers.withLock { handlers in
            for signo in signals { handlers[signo, default: []].append(handler) }
        }
        for signo in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signo in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: signo)
                _ = write(terminationPipe.load(ordering: .relaxed), &byte, 1)
                errno = saved
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            guard sigaction(signo, &action, nil) == 0 else {
                let code = errno
                throw JobError(.systemCallFailed, "sigaction(\(signo)): \(JobSystemCalls.describe(code))",
                               errno: .init(rawValue: code))
            }
        }
    }

    private static let terminationThreadStarted = Mutex(false)

    private static func startTerminationThread(logger: Logger) throws {
        try terminationThreadStarted.withLock { started in
            guard !started else { return }
            var fds: [Int32]
            switch JobSystemCalls.makePipe() {
            case .success(let pipe): fds = [pipe.read, pipe.write]
            case .failure(let error): throw JobError(.systemCallFailed, "pipe: \(error.description)", errno: error)
            }
            // A burst of signals must never block the handler.
            _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
            let readEnd = fds[0]
            do throws(NinePError) {
                try startThread(name: "job-signals") {
                    var byte: UInt8 = 0
                    while true {
                        let count = read(readEnd, &byte, 1)
                        if count < 0 && errno == EINTR { continue }
                        guard count == 1 else { return }
                        let signo = Int32(byte)
                        logger.debug("termination signal", metadata: ["signal": "\(signo)"])
                        for handler in terminationHandlers.withLock({ $0[signo] ?? [] }) { handler(signo) }
                    }
                }
            } catch {
                close(fds[0])
                close(fds[1])
                throw JobError(.systemCallFailed, "cannot start the signal thread: \(error)", errno: error.errno)
            }
            terminationPipe.store(fds[1], ordering: .relaxed)
            started = true
        }
    }
}
