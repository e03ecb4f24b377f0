#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NineP

// MARK: - Monotonic deadlines

/// A point on CLOCK_MONOTONIC, the clock the condition variables below wait on.
struct SSHDeadline: Comparable, Sendable {
    /// Nanoseconds on CLOCK_MONOTONIC.
    let nanoseconds: Int64

    static func now() -> SSHDeadline {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return SSHDeadline(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }

    static func after(_ duration: Duration) -> SSHDeadline {
        let (seconds, attoseconds) = duration.components
        let ns = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let total = ns.overflow ? Int64.max / 2 : ns.partialValue + attoseconds / 1_000_000_000
        return SSHDeadline(nanoseconds: now().nanoseconds &+ max(0, total))
    }

    /// Time left, never negative.
    var remainingNanoseconds: Int64 { max(0, nanoseconds - SSHDeadline.now().nanoseconds) }
    var hasPassed: Bool { remainingNanoseconds == 0 }

    static func < (a: SSHDeadline, b: SSHDeadline) -> Bool { a.nanoseconds < b.nanoseconds }
}

// MARK: - State with a condition variable

/// The SSH code's state lock: NineP's ``ConditionLock`` with every change followed by a
/// broadcast, so blocking readers and writers of a channel wake whenever the session thread
/// moves data.
final class SSHConditionBox<State: Sendable>: @unchecked Sendable {
    private let lock: ConditionLock<State>

    init(_ state: State) {
        lock = ConditionLock(state)
    }

    /// Runs `body` on the state under the lock, then wakes every waiter.
    func withLock<R>(notify: Bool = true, _ body: (inout State) throws -> R) rethrows -> R {
        try lock.withLock(notify: notify, body)
    }

    /// Sleeps until `body` returns a value or `deadline` passes (then returns nil).
    /// `body` runs under the lock each time the state changes; what it changes is broadcast.
    func wait<R>(until deadline: SSHDeadline?, _ body: (inout State) throws -> R?) rethrows -> R? {
        let instant = deadline.map { ContinuousClock.now + .nanoseconds($0.remainingNanoseconds) }
        return try lock.wait(deadline: instant, notify: true, body)
    }
}

// MARK: - Byte queue

/// A FIFO of bytes: appended at the end, consumed from the front.
struct SSHByteQueue: Sendable {
    private var storage: [UInt8] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        storage.append(contentsOf: bytes)
    }

    mutating func append(_ bytes: [UInt8]) {
        storage.append(contentsOf: bytes)
    }

    /// Copies up to `buffer.count` bytes out and consumes them.
    mutating func take(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(buffer.count, count)
        guard n > 0 else { return 0 }
        storage.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + head, byteCount: n)
        }
        consume(n)
        return n
    }

    /// A copy of the first `limit` bytes (or fewer), left in the queue.
    func front(limit: Int) -> [UInt8] {
        Array(storage[head..<(head + min(limit, count))])
    }

    /// Drops `n` bytes from the front.
    mutating func drop(_ n: Int) {
        consume(min(n, count))
    }

    mutating func takeAll() -> [UInt8] {
        let bytes = Array(storage[head...])
        storage.removeAll(keepingCapacity: false)
        head = 0
        return bytes
    }

    private mutating func consume(_ n: Int) {
        head += n
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 65536 && head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }
}
