#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// Where a 9P server listens or a client connects: `unix:PATH` or `tcp:HOST:PORT`.
public enum NinePAddress: Sendable, Hashable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: UInt16)

    /// Parses `unix:PATH`, `tcp:HOST:PORT` (HOST may be `[v6]`), or `HOST:PORT` as TCP.
    /// - Throws: ``NinePError`` naming what is wrong.
    public init(parsing text: String) throws(NinePError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw NinePError(.invalidArgument, "empty socket path in \"\(text)\"") }
            self = .unix(path: path)
            return
        }
        let rest = text.hasPrefix("tcp:") ? String(text.dropFirst(4)) : text
        guard let colon = rest.lastIndex(of: ":") else {
            throw NinePError(.invalidArgument, "address \"\(text)\" is neither unix:PATH nor tcp:HOST:PORT")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = UInt16(rest[rest.index(after: colon)...]) else {
            throw NinePError(.invalidArgument, "address \"\(text)\" needs a host and a port number")
        }
        self = .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        }
    }

    /// Whether a TCP address is on this machine's loopback (127.0.0.0/8, ::1, localhost).
    public var isLoopback: Bool {
        switch self {
        case .unix: true
        case .tcp(let host, _): host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    /// Connects a stream socket.
    /// - Throws: ``NinePError`` with the errno of the failure.
    public func connect() throws(NinePError) -> FileDescriptorStream {
        let fd = try withSocketAddresses { address, length, family in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw Errno(rawValue: errno) }
            var result: Int32
            repeat { result = Glibc.connect(fd, address, length) } while result < 0 && errno == EINTR
            if result < 0 {
                let error = Errno(rawValue: errno)
                Glibc.close(fd)
                throw error
            }
            if family != AF_UNIX {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            return fd
        }
        do {
            return try FileDescriptorStream(socket: FileDescriptor(rawValue: fd))
        } catch {
            Glibc.close(fd)
            throw NinePError(.ioError, "\(error)")
        }
    }

    /// Resolves the address and calls `body` with each candidate until one succeeds.
    func withSocketAddresses(_ body: (UnsafePointer<sockaddr>, socklen_t, Int32) throws -> Int32) throws(NinePError) -> Int32 {
        switch self {
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                throw NinePError(.fileNameTooLong, "socket path too long: \(path)")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in bytes.enumerated() { raw[i] = byte }
            }
            do {
                return try withUnsafePointer(to: &address) {
                    try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        try body($0, socklen_t(MemoryLayout<sockaddr_un>.size), AF_UNIX)
                    }
                }
            } catch let error as Errno {
                throw NinePError(error, "\(path): \(NinePError.text(for: error))")
            } catch {
                throw NinePError(.ioError, "\(path): \(error)")
            }
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_flags = AI_NUMERICSERV
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0, let first = list else {
                throw NinePError(.noSuchFileOrDirectory, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
            }
            defer { freeaddrinfo(list) }
            var lastError = Errno.connectionRefused
            var candidate: UnsafeMutablePointer<addrinfo>? = first
            while let info = candidate {
                do {
                    return try body(info.pointee.ai_addr, info.pointee.ai_addrlen, info.pointee.ai_family)
                } catch let error as Errno {
                    lastError = error
                } catch {
                    lastError = .ioError
                }
                candidate = info.pointee.ai_next
            }
            throw NinePError(lastError, "\(host):\(port): \(NinePError.text(for: lastError))")
        }
    }
}
