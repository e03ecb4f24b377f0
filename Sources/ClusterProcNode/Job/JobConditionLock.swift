import Glibc
import NineP

/// The job supervisor's state lock: NineP's ``ConditionLock`` with every change followed by a
/// broadcast, since the job's waiters (readers, the drain thread, `wait`) each wait for a
/// different change and none may be missed.
final class JobConditionLock<State>: @unchecked Sendable {
    private let lock: ConditionLock<State>

    init(_ initial: State) {
        lock = ConditionLock(initial)
    }

    /// Runs `body` with the state locked and wakes every waiter afterwards.
    func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        try lock.withLock(notify: true, body)
    }

    /// Waits until `body` returns a value (non-nil) or the deadline passes, re-evaluating it
    /// with the state locked each time another thread changed the state.
    /// - Returns: what `body` returned, or nil when the deadline passed first.
    func wait<R>(deadline: ContinuousClock.Instant?, _ body: (inout State) -> R?) -> R? {
        lock.wait(deadline: deadline, notify: true, body)
    }
}

/// Runs `body` on a new detached thread of its own, for blocking system calls that must not
/// occupy the shared Swift concurrency pool.
func startJobThread(_ body: @escaping @Sendable () -> Void) {
    do {
        try startThread(name: "job", body)
    } catch {
        preconditionFailure("cannot start a job thread: \(error)")
    }
}
