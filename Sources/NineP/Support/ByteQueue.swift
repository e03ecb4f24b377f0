/// A FIFO of bytes: appended at the end, consumed from the front, with the consumed prefix
/// dropped once it is at least half the storage (so each byte is moved at most once on
/// average). The one byte queue of the code base: frames being decoded, an SSH channel's
/// streams, a job's output.
public struct ByteQueue: Sendable {
    private var storage: [UInt8] = []
    private var head = 0

    public init() {}

    /// Bytes queued and not yet consumed.
    public var count: Int { storage.count - head }
    public var isEmpty: Bool { count == 0 }

    /// The byte `offset` places from the front; `offset` must be below ``count``.
    public subscript(offset: Int) -> UInt8 { storage[head + offset] }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthwhile()
        storage.append(contentsOf: bytes)
    }

    public mutating func append<Bytes: Collection<UInt8>>(contentsOf bytes: Bytes) {
        compactIfWorthwhile()
        storage.append(contentsOf: bytes)
    }

    /// Copies up to `buffer.count` bytes out and consumes them.
    /// - Returns: how many bytes were copied.
    public mutating func take(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(buffer.count, count)
        guard n > 0 else { return 0 }
        storage.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + head, byteCount: n)
        }
        drop(n)
        return n
    }

    /// Consumes and returns up to `limit` bytes from the front.
    public mutating func take(upTo limit: Int) -> [UInt8] {
        let bytes = front(limit: limit)
        drop(bytes.count)
        return bytes
    }

    /// A copy of the first `limit` bytes (or fewer), left in the queue.
    public func front(limit: Int) -> [UInt8] {
        Array(storage[head..<(head + min(max(limit, 0), count))])
    }

    /// Drops up to `n` bytes from the front.
    public mutating func drop(_ n: Int) {
        head += min(max(n, 0), count)
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        }
    }

    private mutating func compactIfWorthwhile() {
        if head > 0 && head >= storage.count / 2 {
            storage.removeSubrange(0..<head)
            head = 0
        }
    }
}
