import Glibc
import NineP

/// One of the job's output pipes, drained by a thread of its own into a bounded buffer.
///
/// When the buffer is full the thread stops reading, so the pipe fills and the job blocks
/// in `write`: nothing is lost and memory stays bounded. Bytes are handed out as soon as
/// they arrive, each exactly once.
final class JobOutputPipe: Sendable {
    struct State {
        var bytes = ByteQueue()
        var closed = false
        /// Nobody will read any more: drain the pipe and drop what arrives.
        var abandoned = false
    }

    let capacity: Int
    private let state: ConditionLock<State>

    /// Starts the reader thread on `fd`, which this object now owns and closes at EOF.
    init(fd: Int32, capacity: Int) {
        self.capacity = max(capacity, 1)
        state = ConditionLock(State())
        do {
            try startThread(name: "job-output") { [self] in drain(fd) }
        } catch {
            // Undrained, the pipe would fill and the job would block for ever.
            preconditionFailure("cannot start the job's output thread: \(error)")
        }
    }

    private func drain(_ fd: Int32) {
        var chunk = [UInt8](repeating: 0, count: min(capacity, 64 * 1024))
        while true {
            let room = state.wait(deadline: nil, notify: true) { state in
                state.bytes.count < capacity || state.abandoned ? max(capacity - state.bytes.count, 1) : nil
            }!
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min(room, $0.count)) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            state.withLock(notify: true) { state in
                if state.abandoned {
                    state.bytes = ByteQueue()
                    return
                }
                state.bytes.append(contentsOf: chunk[0..<count])
            }
        }
        close(fd)
        state.withLock(notify: true) { $0.closed = true }
    }

    /// Takes up to `maxBytes` buffered bytes, waiting for some until `deadline`, or until
    /// `stop` says to give up (looked at each time a waiter is woken; see ``wake()``).
    func read(maxBytes: Int, deadline: ContinuousClock.Instant?, stop: (() -> Bool)? = nil) -> Job.OutputChunk {
        state.wait(deadline: deadline, notify: true) { state -> Job.OutputChunk? in
            if let stop, stop() { return .timedOut }
            if !state.bytes.isEmpty {
                return .chunk(state.bytes.take(upTo: max(maxBytes, 1)))
            }
            return state.closed ? .eof : nil
        } ?? .timedOut
    }

    /// Wakes the readers waiting for bytes, so that they look at their `stop` again.
    func wake() {
        state.withLock(notify: true) { _ in }
    }

    /// Lets the reader thread run to EOF without keeping anything, so a job nobody reads
    /// is never held back and the thread and descriptor do not outlive it.
    func abandon() {
        state.withLock(notify: true) { state in
            state.abandoned = true
            state.bytes = ByteQueue()
        }
    }

    /// How many bytes wait in the buffer now.
    var buffered: Int { state.withLock { $0.bytes.count } }
}
