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

    /// Listens on `address` and serves /proc to every connection (no job tree), until
    /// SIGTERM, SIGHUP or SIGINT.
    ///
    /// With `key`, every attach needs a ``SharedKeyAuthentication`` exchange first, on any
    /// address (loopback and unix: too). Without it, TCP on an address that is not loopback
    /// is refused: /proc is not exported to the network to whoever connects.
    /// - Parameters:
    ///   - key: the shared key clients must prove they hold; nil for none.
    ///   - announce: called with the bound address (the port chosen when 0 was asked).
    /// - Throws: when the address is refused or cannot be bound.
    public static func listen(on address: NinePAddress, key: SharedKey? = nil, logger: Logger, announce: (NinePAddress) -> Void) throws -> Never {
        _ = signal(SIGPIPE, SIG_IGN)
        unblockTerminationSignals()
        guard address.isLoopback || key != nil else {
            throw StartError(
                "refusing to listen on \(address) without authentication: TCP beyond loopback needs --key FILE (a shared key of at least \(SharedKey.minimumLength) random bytes, mode 0600); or use --stdio over SSH, or a loopback or unix: address")
        }
        let fileSystem = try ProcFS(logger: logger)
        let listener = try NinePListener(address)
        var configuration = ServerConfiguration()
        configuration.logger = logger
        if let key {
            try serveAuthenticated(fileSystem, on: listener, key: key, configuration: configuration)
        } else {
            try listener.serve(fileSystem, configuration: configuration)
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

    /// Accepts connections on a thread of its own and serves each through a
    /// ``SharedKeyFileSystem`` of its own (the attempt limit is per connection), until the
    /// listener is shut down.
    /// - Throws: ``NinePError`` when the thread cannot be started.
    public static func serveAuthenticated<FS: FileSystem>(
        _ fileSystem: FS, on listener: NinePListener, key: SharedKey, configuration: ServerConfiguration
    ) throws(NinePError) {
        try startThread(name: "procsrv-accept") {
            while let stream = try? listener.accept() {
                do {
                    try ServerConnection.serve(SharedKeyFileSystem(fileSystem, key: key, logger: configuration.logger), over: stream, configuration: configuration)
                } catch {
                    configuration.logger.warning("9P server: \(error)")
                }
            }
        }
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
