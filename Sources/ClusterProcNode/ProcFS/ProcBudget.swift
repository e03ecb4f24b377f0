import Logging
import NineP
import Synchronization
import SystemPackage

/// A quantity procsrv holds for its clients (bytes of file content, descriptors), shared by
/// its connections.
///
/// Each connection may hold up to ``Limits/perConnection``. The first
/// ``Limits/guaranteedPerConnection`` of that is kept for it whatever the others do; the rest
/// of ``Limits/total`` is shared, first come first served. So however greedy some clients
/// are, every connection can still walk to and read an ordinary file.
public final class ResourcePool: Sendable {
    public struct Limits: Sendable, Hashable {
        public var total: Int
        public var perConnection: Int
        public var guaranteedPerConnection: Int
        /// Connections served at once, whose guarantees are set aside from the total.
        public var connections: Int

        public init(total: Int, perConnection: Int, guaranteedPerConnection: Int, connections: Int) {
            self.total = total
            self.perConnection = perConnection
            self.guaranteedPerConnection = guaranteedPerConnection
            self.connections = connections
        }

        /// What is left to share once every connection's guarantee is set aside.
        var shared: Int { max(0, total - connections * guaranteedPerConnection) }
    }

    /// What the pool counts, for messages: "bytes of open files", "descriptors".
    let what: String
    let limits: Limits
    /// The errno for one connection's bound, and for the whole process's.
    let perConnectionErrno: Errno
    let totalErrno: Errno
    let logger: Logger
    /// The shared part in use.
    private let sharedUsed = Mutex(0)

    public init(_ what: String, limits: Limits, perConnectionErrno: Errno, totalErrno: Errno, logger: Logger) {
        self.what = what
        self.limits = limits
        self.perConnectionErrno = perConnectionErrno
        self.totalErrno = totalErrno
        self.logger = logger
    }

    /// What every connection holds together beyond its guarantee.
    public var sharedInUse: Int { sharedUsed.withLock { $0 } }

    fileprivate func take(_ amount: Int) -> Bool {
        sharedUsed.withLock { used in
            guard used + amount <= limits.shared else { return false }
            used += amount
            return true
        }
    }

    fileprivate func give(_ amount: Int) {
        sharedUsed.withLock { $0 -= amount }
    }
}

/// One connection's share of a ``ResourcePool``.
public final class ResourceAccount: Sendable {
    private struct State {
        var used = 0
        /// Whether the last charge was refused: a refusal is logged when it starts, not at
        /// every request of a client that keeps trying.
        var refusing = false
    }

    public let pool: ResourcePool
    /// Names the connection in log lines.
    let owner: String
    private let state = Mutex(State())

    public init(_ pool: ResourcePool, owner: String) {
        self.pool = pool
        self.owner = owner
    }

    /// What the connection holds now.
    public var used: Int { state.withLock { $0.used } }

    /// Takes `amount` more, or refuses it with the pool's errno when the connection or the
    /// process would go beyond its bound.
    public func charge(_ amount: Int) throws(NinePError) {
        guard amount > 0 else { return }
        let limits = pool.limits
        let outcome = state.withLock { state -> (refusal: NinePError, first: Bool)? in
            let after = state.used + amount
            var refusal: NinePError?
            if after > limits.perConnection {
                refusal = NinePError(
                    pool.perConnectionErrno,
                    "this connection holds \(state.used) \(pool.what) (at most \(limits.perConnection)): clunk some fids first")
            } else {
                let beyond = max(0, after - limits.guaranteedPerConnection) - max(0, state.used - limits.guaranteedPerConnection)
                if beyond > 0 && !pool.take(beyond) {
                    refusal = NinePError(
                        pool.totalErrno,
                        "procsrv holds all the \(pool.what) it may for its clients (\(limits.total)); try again later")
                }
            }
            guard let refusal else {
                state.used = after
                state.refusing = false
                return nil
            }
            defer { state.refusing = true }
            return (refusal, !state.refusing)
        }
        guard let outcome else { return }
        if outcome.first { pool.logger.warning("\(owner): refused \(amount) more \(pool.what): \(outcome.refusal.message)") }
        throw outcome.refusal
    }

    /// Gives back `amount` taken by ``charge(_:)``.
    public func release(_ amount: Int) {
        guard amount > 0 else { return }
        let limits = pool.limits
        let shared = state.withLock { state -> Int in
            let after = max(0, state.used - amount)
            defer { state.used = after }
            return max(0, state.used - limits.guaranteedPerConnection) - max(0, after - limits.guaranteedPerConnection)
        }
        if shared > 0 { pool.give(shared) }
    }
}

/// What one connection may hold of procsrv's memory and descriptors, and how it tells the
/// listener that it has attached.
public struct ProcBudget: Sendable {
    /// Bytes of file content buffered for open fids (snapshots, directory listings).
    public let bytes: ResourceAccount
    /// Descriptors held for fids: one per walked entry, open directories, files read
    /// beyond their snapshot, and the ones a request opens for a moment.
    public let descriptors: ResourceAccount
    /// The most bytes of one file read into memory at open.
    public let snapshotLimit: Int
    let onAttach: @Sendable () -> Void

    /// The two pools every connection of one server shares.
    public struct Pools: Sendable {
        public let bytes: ResourcePool
        public let descriptors: ResourcePool
        public let snapshotLimit: Int

        /// - Parameters:
        ///   - bytes, descriptors: their limits.
        ///   - snapshotLimit: the most bytes of one file read into memory at open.
        public init(bytes: ResourcePool.Limits, descriptors: ResourcePool.Limits, snapshotLimit: Int, logger: Logger) {
            self.bytes = ResourcePool("bytes of open files", limits: bytes, perConnectionErrno: .noMemory, totalErrno: .noMemory, logger: logger)
            self.descriptors = ResourcePool(
                "descriptors", limits: descriptors, perConnectionErrno: .tooManyOpenFiles, totalErrno: .tooManyOpenFilesInSystem, logger: logger)
            self.snapshotLimit = snapshotLimit
        }

        /// The budget of one new connection.
        public func budget(for owner: String, onAttach: @escaping @Sendable () -> Void = {}) -> ProcBudget {
            ProcBudget(
                bytes: ResourceAccount(bytes, owner: owner), descriptors: ResourceAccount(descriptors, owner: owner),
                snapshotLimit: snapshotLimit, onAttach: onAttach)
        }

        /// The budget of a connection a listener accepted; attaching tells the listener.
        public func budget(for connection: ListenerConnection) -> ProcBudget {
            let peer = connection.peer.map { " (uid \($0.uid), pid \($0.pid))" } ?? ""
            return budget(for: "connection \(connection.number)\(peer)") { connection.attached() }
        }
    }

    /// Takes a descriptor for a moment: charged, `body` runs, then it is given back.
    func withDescriptor<R>(_ body: () throws -> R) throws -> R {
        try descriptors.charge(1)
        defer { descriptors.release(1) }
        return try body()
    }
}
