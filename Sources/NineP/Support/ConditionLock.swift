#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// A mutex with a condition variable, for threads that wait for state to change.
///
/// The one lock of the code base (NineP's, the job supervisor's, the SSH session's): threads
/// block here, never the Swift concurrency pool. Waits take an optional deadline on the
/// monotonic clock. The state must be Sendable, since whichever thread holds the lock uses it.
public final class ConditionLock<State: Sendable>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var state: State

    public init(_ state: State) {
        self.state = state
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Runs `body` with the state locked; wakes waiters afterwards when `notify` is true.
    @discardableResult
    public func withLock<R>(notify: Bool = false, _ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer {
            if notify { pthread_cond_broadcast(condition) }
            pthread_mutex_unlock(mutex)
        }
        return try body(&state)
    }

    /// Waits until `ready` holds, then runs `body` with the lock held.
    /// - Returns: nil when the deadline passed first.
    public func wait<R>(
        until ready: (State) -> Bool, deadline: ContinuousClock.Instant? = nil, notify: Bool = false,
        _ body: (inout State) throws -> R
    ) rethrows -> R? {
        try wait(deadline: deadline, notify: notify) { state -> R? in
            ready(state) ? try body(&state) : nil
        }
    }

    /// Runs `body` with the lock held, first at once and then each time a waiter is woken,
    /// until it returns a value; after the deadline it runs once more.
    /// - Returns: what `body` returned, or nil when the deadline passed first.
    public func wait<R>(
        deadline: ContinuousClock.Instant?, notify: Bool = false, _ body: (inout State) throws -> R?
    ) rethrows -> R? {
        pthread_mutex_lock(mutex)
        defer {
            if notify { pthread_cond_broadcast(condition) }
            pthread_mutex_unlock(mutex)
        }
        let absolute = deadline.map(Self.monotonicTimespec(for:))
        while true {
            if let result = try body(&state) { return result }
            if var absolute {
                if pthread_cond_timedwait(condition, mutex, &absolute) == ETIMEDOUT {
                    return try body(&state)
                }
            } else {
                pthread_cond_wait(condition, mutex)
            }
        }
    }

    /// The CLOCK_MONOTONIC time at which `deadline` falls (the condition waits on that clock).
    private static func monotonicTimespec(for deadline: ContinuousClock.Instant) -> timespec {
        let remaining = max(ContinuousClock.now.duration(to: deadline), .zero)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = remaining.components
        var nanoseconds = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
        var wholeSeconds = Int(now.tv_sec) + Int(min(seconds, Int64(Int32.max)))
        if nanoseconds >= 1_000_000_000 {
            nanoseconds -= 1_000_000_000
            wholeSeconds += 1
        }
        return timespec(tv_sec: wholeSeconds, tv_nsec: nanoseconds)
    }

    /// Wakes every waiter to look at the state again.
    public func notifyAll() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
