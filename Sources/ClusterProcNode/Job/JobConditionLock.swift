import Glibc

/// State guarded by a pthread mutex with a condition variable on the monotonic clock, so
/// threads can wait for a change of state until a deadline without polling.
///
/// `Mutex` from Synchronization has no condition variable; this is its small companion for
/// the places where a thread must sleep until another one changes the state.
final class JobConditionLock<State>: @unchecked Sendable {
    // The mutex and condition must not move: allocate them once.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var state: State

    init(_ initial: State) {
        state = initial
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
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
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the state locked and wakes every waiter afterwards.
    func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        return try body(&state)
    }

    /// Waits until `body` returns a value (non-nil) or the deadline passes, re-evaluating it
    /// with the state locked each time another thread changed the state.
    /// - Returns: what `body` returned, or nil when the deadline passed first.
    func wait<R>(deadline: ContinuousClock.Instant?, _ body: (inout State) -> R?) -> R? {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        let absolute = deadline.map(Self.monotonicTimespec(for:))
        while true {
            if let result = body(&state) { return result }
            if var absolute {
                if pthread_cond_timedwait(condition, mutex, &absolute) == ETIMEDOUT {
                    return body(&state)
                }
            } else {
                pthread_cond_wait(condition, mutex)
            }
        }
    }

    /// The CLOCK_MONOTONIC time at which `deadline` (a ContinuousClock instant) falls.
    private static func monotonicTimespec(for deadline: ContinuousClock.Instant) -> timespec {
        let remaining = max(deadline - .now, .zero)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = remaining.components
        var nanoseconds = Int64(now.tv_nsec) + attoseconds / 1_000_000_000
        var wholeSeconds = Int64(now.tv_sec) + min(seconds, Int64(Int32.max))
        if nanoseconds >= 1_000_000_000 {
            nanoseconds -= 1_000_000_000
            wholeSeconds += 1
        }
        return timespec(tv_sec: Int(wholeSeconds), tv_nsec: Int(nanoseconds))
    }
}

/// Runs `body` on a new detached thread of its own, for blocking system calls that must not
/// occupy the shared Swift concurrency pool.
func startJobThread(_ body: @escaping @Sendable () -> Void) {
    final class Box { let body: @Sendable () -> Void; init(_ body: @escaping @Sendable () -> Void) { self.body = body } }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { context in
        Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
        return nil
    }, context)
    precondition(result == 0, "pthread_create failed: \(result)")
    pthread_detach(thread)
}
