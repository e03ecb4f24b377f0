#if canImport(Glibc)
import Glibc
#endif
import Logging
import NineP
import Synchronization
import SystemPackage

/// What procsrv runs: /proc (and a job) over stdio, or /proc on a listening socket.
///
/// The executable parses its arguments and calls one of these; they end the process.
public enum ProcServer {
    /// An error that keeps procsrv from starting.
    public struct StartError: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Serves /proc and the job tree on standard input and output, as under sshd. The job
    /// comes through the job tree (its `spec` and `start`; see ``JobControlTree``), or, for
    /// use by hand, as `job`. Exits when the connection ends (EOF, error) or on SIGTERM,
    /// SIGHUP or SIGINT, after ending the job's whole family: with the job's exit code if it
    /// had finished by itself, 1 if it had to be ended, 0 when no job had started.
    /// - Parameter job: a job to start at once, in procsrv's environment and directory.
    /// - Throws: when that job cannot be started or the server cannot run.
    public static func serveStandardIO(job: JobSpec?, logger: Logger) throws -> Never {
        _ = signal(SIGPIPE, SIG_IGN)
        unblockTerminationSignals()
        try Job.becomeSubreaper()
        let jobTree = JobControlTree(environment: ProcessBytes.environment(), logger: logger)
        if let job {
            let started = try jobTree.start(job)
            logger.debug("supervising job", metadata: ["pid": "\(started.rootPID)"])
        }
        let fileSystem = try ProcFS(jobTree: jobTree, logger: logger)
        let finishing = Mutex(false)
        let finish: @Sendable (String) -> Void = { reason in
            // The first caller ends the process; any later one waits for that.
            let first = finishing.withLock { state -> Bool in
                defer { state = true }
                return !state
            }
            guard first else {
                // Someone else is ending the process; wait for that.
                while true { pause() }
            }
            logger.debug("ending", metadata: ["reason": "\(reason)"])
            var code: Int32 = 0
            if let job = jobTree.job {
                let finished = job.exitStatus
                job.terminateFamily()
                code = finished?.code ?? 1
            }
            exit(code)
        }
        try Job.onTerminationSignals(logger: logger) { signo in finish("signal \(signo)") }
        var configuration = ServerConfiguration()
        configuration.logger = logger
        let stream = try FileDescriptorStream.standardIO()
        let connection = try ServerConnection.serve(fileSystem, over: stream, configuration: configuration)
        _ = connection.waitUntilClosed()
        finish("connection closed")
        exit(0)  // finish exits; never reached
    }

    /// How a listening procsrv knows its clients are its own user's (design decision 10).
    public enum Authentication: Sendable {
        /// Every attach proves the shared key first (any address; TCP needs this or `none`).
        case sharedKey(SharedKey)
        /// On a Unix socket: the peer's credentials alone (its uid must be procsrv's or root's).
        case peerCredentials
        /// Loopback TCP without a key, because the user asked for it (`--no-auth`): every
        /// local user can read what procsrv's user can.
        case none
    }

    /// Checks that `address` may be listened on as asked, before anything is bound: TCP
    /// needs the key, on loopback too, unless `--no-auth` is given, which only loopback TCP
    /// takes; a Unix socket checks its peers' credentials (and takes a key too).
    /// - Throws: ``StartError`` saying what to change, in one line.
    public static func checkListening(on address: NinePAddress, key: Bool, noAuth: Bool) throws(StartError) {
        if key && noAuth { throw StartError("--key and --no-auth contradict each other: give one") }
        switch address {
        case .unix:
            if noAuth {
                throw StartError("--no-auth is for loopback TCP only: a unix: socket admits only procsrv's own user (and root) by their credentials")
            }
        case .tcp:
            if noAuth && !address.isLoopback {
                throw StartError("--no-auth is accepted on loopback only: on \(address) anyone on the network could read /proc as uid \(geteuid()); give --key FILE")
            }
            if !key && !noAuth {
                let scope = address.isLoopback ? "every local user" : "anyone who reaches it"
                throw StartError(
                    "refusing to listen on \(address) without authentication: \(scope) could read /proc as uid \(geteuid()); give --key FILE (a shared key of at least \(SharedKey.minimumLength) random bytes, mode 0600), or listen on unix:PATH\(address.isLoopback ? ", or accept that with --no-auth" : "")")
            }
        }
    }

    /// Listens on `address` and serves /proc to every connection (no job tree), until
    /// SIGTERM, SIGHUP or SIGINT, within ``Limits`` (RLIMIT_NOFILE is raised to fit them, or
    /// they shrink to fit it).
    ///
    /// With a shared key, every attach needs a ``SharedKeyAuthentication`` exchange first, on
    /// any address. A Unix socket admits only peers of procsrv's uid or root's (SO_PEERCRED).
    /// TCP without a key needs `.none`, on loopback only, and logs a warning that every local
    /// user can read what procsrv's user can.
    /// - Parameters:
    ///   - authentication: as ``checkListening(on:key:noAuth:)`` allows for `address`.
    ///   - announce: called with the bound address (the port chosen when 0 was asked).
    /// - Throws: when the address is refused or cannot be bound.
    public static func listen(
        on address: NinePAddress, authentication: Authentication, limits: Limits = .standard, logger: Logger,
        announce: (NinePAddress) -> Void
    ) throws -> Never {
        _ = signal(SIGPIPE, SIG_IGN)
        unblockTerminationSignals()
        let key: SharedKey?
        switch authentication {
        case .sharedKey(let shared): key = shared
        case .peerCredentials, .none: key = nil
        }
        try checkListening(on: address, key: key != nil, noAuth: { if case .none = authentication { true } else { false } }())
        if case .peerCredentials = authentication, case .tcp = address {
            throw StartError("\(address): a TCP peer has no credentials to check; give --key FILE")
        }
        let wanted = limits.descriptors.total + limits.descriptorsBeyondFids
        let available = raiseDescriptorLimit(to: wanted)
        guard let limits = limits.fitting(descriptors: available) else {
            throw StartError("RLIMIT_NOFILE is \(available): too few descriptors to serve anyone (raise it with ulimit -n)")
        }
        if available < wanted {
            logger.warning("RLIMIT_NOFILE is \(available), not \(wanted): serving at most \(limits.connections.connections) connections and \(limits.descriptors.total) descriptors for fids")
        }
        let fileSystem = try ProcFS(logger: logger)
        let pools = limits.pools(logger: logger)
        let listener = try NinePListener(address, peers: .sameUser, logger: logger)
        let configuration = limits.configuration(logger: logger)
        if let key {
            try listener.serve(configuration: configuration, limits: limits.connections) { connection in
                SharedKeyFileSystem(fileSystem.serving(pools.budget(for: connection)), key: key, logger: logger)
            }
        } else {
            try listener.serve(configuration: configuration, limits: limits.connections) { connection in
                fileSystem.serving(pools.budget(for: connection))
            }
        }
        if case .none = authentication {
            logger.warning("--no-auth: every local user can connect to \(listener.address) and read /proc as uid \(geteuid()) can (environments, command lines); use --key or a unix: socket where that matters")
        }
        announce(listener.address)
        let stopping = Mutex(false)
        try Job.onTerminationSignals(logger: logger) { signo in
            let first = stopping.withLock { state in
                defer { state = true }
                return !state
            }
            guard first else { return }
            logger.debug("stopping on signal \(signo)")
            listener.shutdown()
            exit(0)
        }
        while true { pause() }
    }

    /// Unblocks the termination signals in this thread (and so in every thread it starts):
    /// a parent may have started procsrv with them blocked, which would leave its handlers
    /// unreached and its job running after a SIGTERM.
    static func unblockTerminationSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for signo in Job.terminationSignals { sigaddset(&set, signo) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
