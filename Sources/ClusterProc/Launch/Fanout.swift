import Synchronization

/// Bounds how many nodes are being set up at once (`-f`, pdsh's fanout): connecting,
/// starting procsrv, attaching and handing over the job. A node leaves its place once its
/// job is ready to start, so every copy of the job runs together however many nodes there
/// are (a parallel job whose copies wait for each other must not wait for a wave that only
/// comes after it ends). Nodes get their turn in the order they asked for it.
final class Fanout: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(free: max(1, limit)))
    }

    /// Waits for a place; the returned turn gives it back once, when it is ended or dropped.
    func enter() async -> Turn {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                guard state.free > 0 else {
                    state.waiting.append(continuation)
                    return false
                }
                state.free -= 1
                return true
            }
            if now { continuation.resume() }
        }
        return Turn(self)
    }

    fileprivate func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }

    /// One node's place among those being set up.
    final class Turn: Sendable {
        private let fanout: Fanout
        private let ended = Atomic<Bool>(false)

        fileprivate init(_ fanout: Fanout) { self.fanout = fanout }

        /// Gives the place to the next node; later calls do nothing.
        func end() {
            if !ended.exchange(true, ordering: .acquiringAndReleasing) { fanout.leave() }
        }

        deinit { end() }
    }
}
