/// A bidirectional, blocking byte stream that 9P frames travel over: a socket, a pair of
/// file descriptors, or an SSH channel.
///
/// Calls block the calling thread, so a stream is driven from threads of its own, never
/// from the shared Swift concurrency pool. `read` and `write` may be called from two
/// different threads at once (one reader, one writer); `close` from any thread.
public protocol ByteStream: AnyObject, Sendable {
    /// Reads at least one byte into `buffer`, blocking until some arrive.
    /// - Returns: the number of bytes read; 0 at end of stream or after `close()`.
    /// - Throws: an error when the stream failed.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int

    /// Writes all of `bytes`, blocking until the stream has taken them.
    /// - Throws: an error when the stream failed or was closed.
    func write(_ bytes: UnsafeRawBufferPointer) throws

    /// Ends the stream in both directions and wakes a blocked `read` (which returns 0).
    /// Safe to call more than once.
    func close()
}

/// A ``ByteStream`` whose read can give up at a deadline, so a caller may wait for its own
/// reply on the stream itself (``NinePClient/callBlocking(_:deadline:)``) without losing its
/// deadline to a peer that never answers.
public protocol DeadlineByteStream: ByteStream {
    /// Reads at least one byte into `buffer`, waiting until `deadline` at most.
    /// - Returns: the bytes read (0 at end of stream or after `close()`), nil when the
    ///   deadline passed first.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant?) throws -> Int?
}
