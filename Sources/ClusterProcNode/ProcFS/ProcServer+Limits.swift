#if canImport(Glibc)
import Glibc
#endif
import Logging
import NineP

extension ProcServer {
    /// Everything procsrv holds for its clients, bounded; README.md ("What procsrv exposes, and
    /// to whom") and docs/decisions.md give the same figures.
    ///
    /// Beyond a bound a request fails with a clear errno (ENOMEM for bytes, EMFILE for one
    /// connection's descriptors, ENFILE for the whole server's) and a log line, and every
    /// other client goes on being served: each connection keeps a guaranteed share of bytes
    /// and descriptors that no other connection can take.
    public struct Limits: Sendable, Hashable {
        /// The most bytes of one file read into memory at open; a longer file (`pagemap`,
        /// `kcore`) is read beyond that from the kernel at the offset asked.
        public var snapshotBytesPerFile = 4 << 20
        /// Bytes buffered for open fids (snapshots, directory listings, job files).
        public var bytes = ResourcePool.Limits(total: 256 << 20, perConnection: 16 << 20, guaranteedPerConnection: 1 << 20, connections: 128)
        /// Descriptors held for fids (one per walked entry, open directories, files read beyond
        /// their snapshot, and one for a moment while a file is read).
        public var descriptors = ResourcePool.Limits(total: 8192, perConnection: 1024, guaranteedPerConnection: 16, connections: 128)
        /// Connections at once, those not yet attached, and how long one may take to attach
        /// (authentication included).
        public var connections = ConnectionLimits(connections: 128, unattached: 16, attachTimeout: .seconds(10))
        /// Fids one connection may hold.
        public var fidsPerConnection = 1024
        /// Requests one connection has served at once (threads).
        public var threadsPerConnection = 4
        /// The largest 9P message: with the threads, what one connection holds in replies
        /// being made and sent (about three copies of a message per thread).
        public var messageSize: UInt32 = 128 * 1024 + 24

        /// The bounds procsrv listens with.
        public static let standard = Limits()

        /// The most descriptors procsrv holds: those for fids and those beyond them.
        public var descriptorCeiling: Int { descriptors.total + descriptorsBeyondFids }

        /// The most memory procsrv should keep resident: the bytes buffered for fids, about
        /// three messages per thread being made or sent, and 64 MiB for the rest (code, the
        /// engine's per-fid tables, thread stacks).
        public var residentCeiling: Int {
            bytes.total + connections.connections * threadsPerConnection * 3 * Int(messageSize) + (64 << 20)
        }

        /// Descriptors the process needs beyond the ones held for fids: a socket and a wake-up
        /// pipe per connection, one descriptor per thread for a moment (a snapshot of the job
        /// tree, a listing's copy), the listener, its spare, and a few of the process's own.
        var descriptorsBeyondFids: Int {
            connections.connections * (3 + threadsPerConnection) + 64
        }

        /// Bounds that fit in `available` descriptors (RLIMIT_NOFILE): fewer connections and
        /// held descriptors, in proportion, when there are not enough; nil when even a few
        /// connections would not fit.
        public func fitting(descriptors available: Int) -> Limits? {
            let needed = descriptors.total + descriptorsBeyondFids
            guard available < needed else { return self }
            var fitted = self
            let connections = min(connections.connections, (available - 64) * connections.connections / needed)
            guard connections >= 4 else { return nil }
            fitted.connections.connections = connections
            fitted.connections.unattached = min(self.connections.unattached, max(2, connections / 4))
            fitted.bytes.connections = connections
            fitted.descriptors.connections = connections
            fitted.descriptors.total = max(connections * descriptors.guaranteedPerConnection, available - fitted.descriptorsBeyondFids)
            fitted.descriptors.perConnection = min(descriptors.perConnection, fitted.descriptors.total)
            return fitted
        }

        /// The pools of bytes and descriptors every connection shares.
        public func pools(logger: Logger) -> ProcBudget.Pools {
            ProcBudget.Pools(bytes: bytes, descriptors: descriptors, snapshotLimit: snapshotBytesPerFile, logger: logger)
        }

        /// The 9P engine's limits for one connection.
        func configuration(logger: Logger) -> ServerConfiguration {
            var configuration = ServerConfiguration()
            configuration.logger = logger
            configuration.maxFids = fidsPerConnection
            configuration.maxThreads = threadsPerConnection
            configuration.maxMessageSize = messageSize
            return configuration
        }
    }

    /// Raises the soft RLIMIT_NOFILE towards `wanted` (as far as the hard limit lets).
    /// - Returns: the soft limit in force afterwards.
    static func raiseDescriptorLimit(to wanted: Int) -> Int {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < rlim_t(wanted) {
            var raised = limit
            raised.rlim_cur = min(limit.rlim_max, rlim_t(wanted))
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}
