#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import SystemPackage

/// A ``ByteStream`` over file descriptors: a connected socket (one descriptor for both
/// directions) or a pair such as stdin and stdout.
///
/// A blocked read waits in `poll()` on the input and on a wake-up pipe, so ``close()`` wakes it
/// at once on any kind of descriptor (a pipe cannot be shut down); a socket read without a
/// deadline blocks in `recv` alone, which the shutdown in ``close()`` wakes. Descriptors are closed
/// when the stream is deinitialised, never while another thread may be using them.
public final class FileDescriptorStream: DeadlineByteStream {
    private let input: FileDescriptor
    private let output: FileDescriptor
    /// A pipe whose write end wakes a blocked read.
    private let wakeup: (read: Int32, write: Int32)
    private let ownsDescriptors: Bool
    private let inputIsSocket: Bool
    private let outputIsSocket: Bool
    private let closed = Atomic<Bool>(false)

    /// - Parameters:
    ///   - input: the descriptor to read from.
    ///   - output: the descriptor to write to (the same as `input` for a socket).
    ///   - ownsDescriptors: close them on deinit.
    /// - Throws: `Errno` when no eventfd could be made.
    public init(input: FileDescriptor, output: FileDescriptor, ownsDescriptors: Bool = true) throws {
        self.input = input
        self.output = output
        self.ownsDescriptors = ownsDescriptors
        var info = stat()
        self.outputIsSocket = fstat(output.rawValue, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
        self.inputIsSocket = input == output ? outputIsSocket : fstat(input.rawValue, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw Errno(rawValue: errno) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        self.wakeup = (ends[0], ends[1])
    }

    /// A stream over a connected socket.
    public convenience init(socket: FileDescriptor) throws {
        try self.init(input: socket, output: socket)
    }

    /// The process's standard input and output (how a server runs under sshd or inetd).
    public static func standardIO() throws -> FileDescriptorStream {
        try FileDescriptorStream(input: .standardInput, output: .standardOutput, ownsDescriptors: false)
    }

    deinit {
        Glibc.close(wakeup.read)
        Glibc.close(wakeup.write)
        if ownsDescriptors {
            try? input.close()
            if output != input { try? output.close() }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try read(into: buffer, deadline: nil)!
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant?) throws -> Int? {
        // A socket read without a deadline blocks in recv alone, one syscall instead of poll
        // and read: close() shuts the socket down, which wakes it. A non-blocking socket
        // that has nothing waits in poll below.
        if deadline == nil && inputIsSocket {
            while true {
                if closed.load(ordering: .acquiring) { return 0 }
                let count = recv(input.rawValue, buffer.baseAddress, buffer.count, 0)
                if count >= 0 { return closed.load(ordering: .acquiring) ? 0 : count }
                switch errno {
                case EINTR: continue
                case EAGAIN: break
                case ECONNRESET: return 0
                default: throw Errno(rawValue: errno)
                }
                break
            }
        }
        while true {
            if closed.load(ordering: .acquiring) { return 0 }
            var fds = [
                pollfd(fd: input.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeup.read, events: Int16(POLLIN), revents: 0),
            ]
            var timeout: Int32 = -1
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero { return nil }
                let (seconds, attoseconds) = left.components
                timeout = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            }
            let ready = poll(&fds, 2, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                throw Errno(rawValue: errno)
            }
            if ready == 0 { continue }
            if fds[1].revents != 0 || closed.load(ordering: .acquiring) { return 0 }
            let count = Glibc.read(input.rawValue, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            switch errno {
            case EINTR, EAGAIN: continue
            case ECONNRESET: return 0
            default: throw Errno(rawValue: errno)
            }
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if closed.load(ordering: .acquiring) { throw NinePError.closed() }
            // A socket is written with MSG_NOSIGNAL so a closed peer is an error, not SIGPIPE;
            // a pipe's writer must ignore SIGPIPE itself (the servers do).
            let count =
                outputIsSocket
                ? Glibc.send(output.rawValue, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                : Glibc.write(output.rawValue, bytes.baseAddress! + offset, bytes.count - offset)
            if count >= 0 {
                offset += count
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN:
                var fds = [pollfd(fd: output.rawValue, events: Int16(POLLOUT), revents: 0)]
                _ = poll(&fds, 1, 1000)
            default: throw Errno(rawValue: errno)
            }
        }
    }

    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var one: UInt8 = 1
        _ = Glibc.write(wakeup.write, &one, 1)
        // Tell the peer at once for sockets; the descriptors themselves close on deinit.
        _ = shutdown(input.rawValue, Int32(SHUT_RDWR))
        if output != input { _ = shutdown(output.rawValue, Int32(SHUT_RDWR)) }
    }
}
