import Glibc

/// One of the job's output pipes, drained by a thread of its own into a bounded buffer.
///
/// When the buffer is full the thread stops reading, so the pipe fills and the job blocks
/// in `write`: nothing is lost and memory stays bounded. Bytes are handed out as soon as
/// they arrive, each exactly once.
final class JobOutputPipe: Sendable {
    struct State {
        var bytes: [UInt8] = []
        var head = 0
        var closed = false
        /// Nobody will read any more: drain the pipe and drop what arrives.
        var abandoned = false
        var available: Int { bytes.count - head }
    }

    let capacity: Int
    private let state: JobConditionLock<State>

    /// Starts the reader thread on `fd`, which this object now owns and closes at EOF.
    init(fd: Int32, capacity: Int) {
        self.capacity = max(capacity, 1)
        state = JobConditionLock(State())
        startJobThread { [self] in drain(fd) }
    }

    private func drain(_ fd: Int32) {
        var chunk = [UInt8](repeating: 0, count: min(capacity, 64 * 1024))
        while true {
            let room = state.wait(deadline: nil) { state in
                state.available < capacity || state.abandoned ? max(capacity - state.available, 1) : nil
            }!
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min(room, $0.count)) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            state.withLock { state in
                if state.abandoned {
                    state.bytes = []
                    state.head = 0
                    return
                }
                if state.head > 0 && state.head >= state.bytes.count / 2 {
                    state.bytes.removeFirst(state.head)
                    state.head = 0
                }
                state.bytes.append(contentsOf: chunk[0..<count])
            }
        }
        close(fd)
        state.withLock { $0.closed = true }
    }

    /// Takes up to `maxBytes` buffered bytes, waiting for some until `deadline`, or until
    /// `stop` says to give up (looked at each time a waiter is woken; see ``wake()``).
    func read(maxBytes: Int, deadline: ContinuousClock.Instant?, stop: (() -> Bool)? = nil) -> Job.OutputChunk {
        state.wait(deadline: deadline) { state -> Job.OutputChunk? in
            if let stop, stop() { return .timedOut }
            if state.available > 0 {
                let count = min(max(maxBytes, 1), state.available)
                let bytes = Array(state.bytes[state.head..<(state.head + count)])
                state.head += count
                if state.head == state.bytes.count {
                    state.bytes.removeAll(keepingCapacity: true)
                    state.head = 0
                }
                return .chunk(bytes)
            }
            return state.closed ? .eof : nil
        } ?? .timedOut
    }

    /// Wakes the readers waiting for bytes, so that they look at their `stop` again.
    func wake() {
        state.withLock { _ in }
    }

    /// Lets the reader thread run to EOF without keeping anything, so a job nobody reads
    /// is never held back and the thread and descriptor do not outlive it.
    func abandon() {
        state.withLock { state in
            state.abandoned = true
            state.bytes = []
            state.head = 0
        }
    }

    /// How many bytes wait in the buffer now.
    var buffered: Int { state.withLock { $0.available } }
}
