#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import Synchronization
import SystemPackage

/// Who may connect to a Unix socket, checked against the peer's credentials (SO_PEERCRED)
/// as each connection is accepted: the socket's file mode alone is only as good as its
/// directory's, and whoever can reach the path could otherwise talk to the server.
///
/// A TCP peer carries no credentials the kernel tells, so a TCP listener takes whoever
/// reaches it: a TCP server authenticates its clients itself (procsrv's shared key).
public struct AllowedPeers: Sendable, Hashable, CustomStringConvertible {
    /// The uids allowed; nil for anyone.
    let uids: Set<UInt32>?

    /// Anyone the socket's mode and directory let connect.
    public static let anyone = AllowedPeers(uids: nil)

    /// This process's effective user, and root: root can reach every socket file whatever its
    /// mode (and read every process's memory), so refusing it would protect nothing; any
    /// other uid is refused.
    public static var sameUser: AllowedPeers { AllowedPeers(uids: [geteuid(), 0]) }

    /// Whether a peer of `uid` may connect.
    public func allows(uid: UInt32) -> Bool {
        uids?.contains(uid) ?? true
    }

    public var description: String {
        guard let uids else { return "anyone" }
        return "uid " + uids.sorted().map(String.init).joined(separator: " or ")
    }
}

/// The credentials of a Unix socket's peer at connect time (Linux `struct ucred`).
public struct PeerCredentials: Sendable, Hashable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    /// The peer of the connected Unix socket `fd`; nil for a socket that has none (TCP).
    static func of(socket fd: Int32) -> PeerCredentials? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, which Glibc's module hides.
        var raw: (Int32, UInt32, UInt32) = (0, 0, 0)
        var size = socklen_t(MemoryLayout.size(ofValue: raw))
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &raw, &size) == 0, size == MemoryLayout.size(ofValue: raw) else { return nil }
        return PeerCredentials(pid: raw.0, uid: raw.1, gid: raw.2)
    }
}

/// How many connections a listener serves at once, and how long one may take to attach.
public struct ConnectionLimits: Sendable, Hashable {
    /// Connections open at once; one more is accepted and closed at once.
    public var connections: Int
    /// Connections that have not attached yet (see ``ListenerConnection/attached()``); one
    /// more is accepted and closed at once.
    public var unattached: Int
    /// How long after it was accepted a connection may go without attaching before it is
    /// closed; nil for no limit.
    public var attachTimeout: Duration?

    public init(connections: Int, unattached: Int, attachTimeout: Duration?) {
        self.connections = connections
        self.unattached = unattached
        self.attachTimeout = attachTimeout
    }

    /// No limits (a private socket whose every peer is the user).
    public static let none = ConnectionLimits(connections: .max, unattached: .max, attachTimeout: nil)
}

/// One connection a listener accepted, as the file system serving it sees it.
public final class ListenerConnection: Sendable {
    /// The order in which the listener accepted it, from 1.
    public let number: UInt64
    /// The peer's credentials on a Unix socket; nil over TCP.
    public let peer: PeerCredentials?
    fileprivate let deadline: ContinuousClock.Instant?
    private let stream: FileDescriptorStream
    private let onAttach: @Sendable (ListenerConnection) -> Void

    fileprivate init(
        number: UInt64, peer: PeerCredentials?, deadline: ContinuousClock.Instant?, stream: FileDescriptorStream,
        onAttach: @escaping @Sendable (ListenerConnection) -> Void
    ) {
        self.number = number
        self.peer = peer
        self.deadline = deadline
        self.stream = stream
        self.onAttach = onAttach
    }

    /// Tells the listener that the client attached (authenticated, where the file system
    /// demands it): the connection no longer counts as unattached and has no deadline.
    public func attached() {
        onAttach(self)
    }

    /// Ends the connection.
    public func close() {
        stream.close()
    }
}

/// A listening stream socket that accepts 9P connections.
///
/// A Unix socket's peers are checked against ``AllowedPeers`` as they are accepted; one that
/// is not allowed is closed at once and logged. When the process runs out of descriptors,
/// a spare one kept for the purpose is given up to accept the waiting connection and close
/// it at once, so that its client learns at once and the backlog never stalls.
public final class NinePListener: Sendable {
    public let address: NinePAddress
    /// Who may connect over a Unix socket.
    public let peers: AllowedPeers
    private let fd: Int32
    private let logger: Logger
    /// A descriptor given up when accept fails for want of descriptors; -1 while it is.
    private let spare: Mutex<Int32>
    private let table = ConditionLock(ConnectionTable())

    private struct ConnectionTable {
        var accepted: UInt64 = 0
        var open = 0
        /// Connections not yet attached, by number.
        var unattached: [UInt64: ListenerConnection] = [:]
        /// Bumped whenever a connection comes or goes, for the threads that wait on that.
        var generation: UInt64 = 0
        var shutDown = false
        var watchdogRunning = false
    }

    /// Binds and listens. A Unix socket is created with mode 0600 (owner only) and a stale
    /// socket file at the path is replaced; any other file there is an error.
    /// - Parameters:
    ///   - peers: who may connect over a Unix socket (TCP: see ``AllowedPeers``).
    ///   - logger: refused peers and shed connections, at warning level.
    /// - Throws: ``NinePError`` with the errno of the failure.
    public init(
        _ address: NinePAddress, peers: AllowedPeers = .sameUser, backlog: Int32 = 128,
        logger: Logger = Logger(label: "ninep.listener")
    ) throws(NinePError) {
        if case .unix(let path) = address {
            var info = stat()
            if lstat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFSOCK else {
                    throw NinePError(.fileExists, "\(path) exists and is not a socket")
                }
                unlink(path)
            }
        }
        var boundPort: UInt16 = 0
        let fd = try address.withSocketAddresses { sockaddr, length, family in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw Errno(rawValue: errno) }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let previousMask = family == AF_UNIX ? umask(0o177) : 0
            let bound = bind(fd, sockaddr, length)
            let bindErrno = errno
            if family == AF_UNIX { umask(previousMask) }
            guard bound == 0, listen(fd, backlog) == 0 else {
                let error = Errno(rawValue: bound == 0 ? errno : bindErrno)
                Glibc.close(fd)
                throw error
            }
            if family != AF_UNIX {
                var storage = sockaddr_storage()
                var size = socklen_t(MemoryLayout<sockaddr_storage>.size)
                withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &size) }
                }
                if Int32(storage.ss_family) == AF_INET {
                    boundPort = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } }
                } else {
                    boundPort = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) } }
                }
            }
            return fd
        }
        self.fd = fd
        self.peers = peers
        self.logger = logger
        self.spare = Mutex(Self.openSpare())
        if case .tcp(let host, let port) = address, port == 0 {
            self.address = .tcp(host: host, port: boundPort)
        } else {
            self.address = address
        }
    }

    deinit {
        Glibc.close(fd)
        spare.withLock { if $0 >= 0 { Glibc.close($0) } }
    }

    private static func openSpare() -> Int32 {
        Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    /// Waits for the next connection from an allowed peer.
    /// - Throws: ``NinePError`` when the listener was shut down or accept failed for good.
    public func accept() throws(NinePError) -> FileDescriptorStream {
        try acceptConnection().stream
    }

    private func acceptConnection() throws(NinePError) -> (stream: FileDescriptorStream, peer: PeerCredentials?) {
        while true {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 {
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                var peer: PeerCredentials?
                if case .unix = address {
                    peer = PeerCredentials.of(socket: client)
                    guard let peer, peers.allows(uid: peer.uid) else {
                        Glibc.close(client)
                        let who = peer.map { "uid \($0.uid) (pid \($0.pid))" } ?? "a peer without credentials"
                        logger.warning("refused a connection to \(address) from \(who): only \(peers) may connect")
                        continue
                    }
                } else {
                    var one: Int32 = 1
                    setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                }
                do {
                    return (try FileDescriptorStream(socket: FileDescriptor(rawValue: client)), peer)
                } catch {
                    // No descriptors for the stream's wake-up pipe: the peer learns at once.
                    Glibc.close(client)
                    logger.warning("closed a new connection to \(address) at once: \(error)")
                    continue
                }
            }
            let failure = errno
            switch failure {
            case EINTR, ECONNABORTED, EPROTO: continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                try shedOneConnection(because: Errno(rawValue: failure))
            default:
                throw NinePError(Errno(rawValue: failure), "accept: \(NinePError.text(for: Errno(rawValue: failure)))")
            }
        }
    }

    /// Out of descriptors (or kernel memory): accepts the waiting connection with the spare
    /// descriptor and closes it at once. Without a spare (it could not be reopened), waits
    /// until a connection ends, or a second passes, before accept is tried again.
    private func shedOneConnection(because failure: Errno) throws(NinePError) {
        let shed = spare.withLock { spare -> Bool? in
            guard spare >= 0 else {
                spare = Self.openSpare()
                return nil
            }
            Glibc.close(spare)
            let extra = Glibc.accept(fd, nil, nil)
            if extra >= 0 { Glibc.close(extra) }
            spare = Self.openSpare()
            return extra >= 0
        }
        switch shed {
        case true?:
            logger.warning("out of descriptors (\(NinePError.text(for: failure))): closed a new connection to \(address) at once")
        case false?:
            break
        case nil:
            logger.warning("out of descriptors (\(NinePError.text(for: failure))): not accepting on \(address) until a connection ends")
            let seen = table.withLock { $0.generation }
            _ = table.wait(until: { $0.generation != seen || $0.shutDown }, deadline: .now + .seconds(1)) { _ in }
        }
        if table.withLock({ $0.shutDown }) { throw NinePError(.badFileDescriptor, "the listener on \(address) was shut down") }
    }

    /// Stops accepting: a blocked ``accept()`` returns with an error.
    public func shutdown() {
        table.withLock(notify: true) { $0.shutDown = true }
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
        if case .unix(let path) = address { unlink(path) }
    }

    /// Accepts connections on a thread of its own and serves each with `fileSystem`, until
    /// ``shutdown()``.
    public func serve<FS: FileSystem>(_ fileSystem: FS, configuration: ServerConfiguration = .init()) throws(NinePError) {
        try serve(configuration: configuration) { _ in fileSystem }
    }

    /// Accepts connections on a thread of its own and serves each with the file system
    /// `makeFileSystem` makes for it, within `limits`, until ``shutdown()``.
    ///
    /// A connection beyond ``ConnectionLimits/connections`` or ``ConnectionLimits/unattached``
    /// is accepted and closed at once; one that has not attached within
    /// ``ConnectionLimits/attachTimeout`` is closed. Each is logged at warning level.
    /// - Parameters:
    ///   - makeFileSystem: the file system for one connection; it calls
    ///     ``ListenerConnection/attached()`` once the client has attached.
    public func serve<FS: FileSystem>(
        configuration: ServerConfiguration = .init(), limits: ConnectionLimits = .none,
        _ makeFileSystem: @escaping @Sendable (ListenerConnection) throws -> FS
    ) throws(NinePError) {
        if limits.attachTimeout != nil { try startWatchdog() }
        try startThread(name: "9p-accept") {
            while let (stream, peer) = try? self.acceptConnection() {
                guard let connection = self.admit(stream, peer: peer, limits: limits) else { continue }
                do {
                    try ServerConnection.serve(try makeFileSystem(connection), over: stream, configuration: configuration) {
                        self.ended(connection)
                    }
                } catch {
                    stream.close()
                    self.ended(connection)
                    configuration.logger.warning("9P server: \(error)")
                }
            }
        }
    }

    /// Counts a new connection in, or closes it at once when it is one too many.
    private func admit(_ stream: FileDescriptorStream, peer: PeerCredentials?, limits: ConnectionLimits) -> ListenerConnection? {
        let admitted = table.withLock(notify: true) { table -> Result<ListenerConnection, NinePError> in
            guard table.open < limits.connections else {
                return .failure(NinePError(.tooManyOpenFiles, "\(table.open) connections are open (at most \(limits.connections))"))
            }
            guard table.unattached.count < limits.unattached else {
                return .failure(NinePError(.tooManyOpenFiles, "\(table.unattached.count) connections have not attached yet (at most \(limits.unattached))"))
            }
            table.accepted += 1
            table.open += 1
            table.generation += 1
            let connection = ListenerConnection(
                number: table.accepted, peer: peer, deadline: limits.attachTimeout.map { .now + $0 }, stream: stream
            ) { [weak self] connection in self?.attached(connection) }
            table.unattached[connection.number] = connection
            return .success(connection)
        }
        switch admitted {
        case .success(let connection):
            return connection
        case .failure(let reason):
            logger.warning("refused a connection to \(address): \(reason)")
            stream.close()
            return nil
        }
    }

    private func attached(_ connection: ListenerConnection) {
        table.withLock(notify: true) { table in
            if table.unattached.removeValue(forKey: connection.number) != nil { table.generation += 1 }
        }
    }

    private func ended(_ connection: ListenerConnection) {
        table.withLock(notify: true) { table in
            table.unattached[connection.number] = nil
            table.open -= 1
            table.generation += 1
        }
    }

    /// One thread closes the connections that did not attach by their deadline.
    private func startWatchdog() throws(NinePError) {
        let start = table.withLock { table -> Bool in
            defer { table.watchdogRunning = true }
            return !table.watchdogRunning
        }
        guard start else { return }
        try startThread(name: "9p-attach-timeout") { [self] in
            while true {
                let (expired, next, seen, stop) = table.withLock { table in
                    let now = ContinuousClock.now
                    let expired = table.unattached.values.filter { $0.deadline.map { $0 <= now } ?? false }
                    for connection in expired { table.unattached[connection.number] = nil }
                    return (expired, table.unattached.values.compactMap(\.deadline).min(), table.generation, table.shutDown)
                }
                if stop { return }
                for connection in expired {
                    logger.warning("closed connection \(connection.number) to \(address): it did not attach in time")
                    connection.close()
                }
                _ = table.wait(until: { $0.generation != seen || $0.shutDown }, deadline: next) { _ in }
            }
        }
    }
}
