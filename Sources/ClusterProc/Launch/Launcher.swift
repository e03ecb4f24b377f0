#if canImport(Glibc)
import Glibc
#endif
import Logging
import NineP
import Synchronization
import SystemPackage

/// What `cluster-launch` was asked to do, in the vocabulary of pdsh, clush and srun.
public struct LaunchOptions: Sendable {
    public var hosts: [String]
    /// The job's argv, byte for byte as the user gave it.
    public var command: [[UInt8]]
    /// Whether `command` is `sh -c LINE` to run by the node user's login shell instead of
    /// `sh` (pdsh's and clush's way with words not after `--`).
    public var runsInLoginShell = false
    /// Nodes being set up at once (`-f`): connecting, starting procsrv, handing over the
    /// job. Every node's job then runs together.
    public var fanout = 64
    /// `-t`: connect timeout (TCP, key exchange, authentication; each later SSH request).
    public var connectTimeout: Duration = .seconds(10)
    /// `--startup-timeout`: from the remote command's start to procsrv's first answer (the
    /// login shell's own start-up, its profile included, is in it).
    public var startupTimeout: Duration = .seconds(30)
    /// `-u`: the job is killed on every node after this long.
    public var commandTimeout: Duration?
    /// Deadline of one 9P call to a node (a hung node fails its files after this).
    public var callTimeout: Duration = .seconds(5)
    public var user: String?
    /// The login user of a host named `user@host`; such a host is known by its name alone.
    public var logins: [String: String] = [:]
    public var sshConfig: String?
    public var strictHostKeyChecking: SSHOptions.StrictHostKeyChecking = .yes
    public var knownHostsFile: String?
    public var identityFiles: [String] = []
    public var port: Int?
    public var labelling: LineLabelling = .hostPrefix
    /// `-b`: print identical outputs once, after the job (dshbak -c style).
    public var gather = false
    /// `-k`: the first node that fails (exits non-zero, is signalled, cannot be reached or
    /// is lost) ends the job everywhere, and the launcher exits with that node's status.
    public var killOnFailure = false
    /// procsrv's path on the nodes: safe bytes only (``Launcher/checkProcsrvPath(_:)``).
    public var procsrvPath: String
    /// `--stage`: copy procsrv to each node for the job's lifetime.
    public var stage = false
    /// Where the job starts on every node, as bytes.
    public var workingDirectory: [UInt8]
    /// `NAME=VALUE` entries to set in the job's environment on every node, as bytes.
    public var environment: [[UInt8]] = []
    /// `--input`: the nodes whose job reads the launcher's standard input.
    public var input = JobInput.none

    public init(hosts: [String], command: [[UInt8]], procsrvPath: String, workingDirectory: [UInt8]) {
        self.hosts = hosts
        self.command = command
        self.procsrvPath = procsrvPath
        self.workingDirectory = workingDirectory
    }
}

/// Writes whole lines to standard output and error, never two nodes' partial lines in one.
public final class OutputSink: Sendable {
    private let lock = Mutex<Void>(())
    public init() {}

    public func write(_ bytes: [UInt8], error: Bool = false) {
        lock.withLock { _ in
            let fd = error ? FileDescriptor.standardError : FileDescriptor.standardOutput
            _ = try? fd.writeAll(bytes)
        }
    }

    public func message(_ text: String) {
        write(Array("cluster-launch: \(text)\n".utf8), error: true)
    }
}

/// Starts a job on every node over SSH (procsrv supervising it there), relays its output,
/// serves the family's union on a private socket, and reports how each node ended.
///
/// Every node runs the same fixed command, `procsrv --stdio`; the job (argv, environment,
/// working directory, as bytes) goes to procsrv's job tree inside the 9P connection as a
/// ``JobSpec``, then `start`. So nothing of the user's is on a command line on a node, and
/// no shell's quoting rules matter.
///
/// An interrupt is remembered: a node still connecting when it comes never starts its job,
/// and a node set up but not yet started is told to cancel it (procsrv then refuses the
/// `start`), so ^C stops the job at any moment. Interrupts and kills reach every node at
/// once, each with its own deadline.
public final class Launcher: Sendable {
    public let options: LaunchOptions
    public let links: [NodeLink]
    private let sink: OutputSink
    let logger: Logger
    private let state = Mutex<State>(State())
    /// The standard input for the nodes that read it (`--input`), nil when none does.
    private let input: InputBroadcast?
    public let familyID: String

    struct State {
        var results: [String: NodeResult] = [:]
        var interruptedAt: ContinuousClock.Instant?
        var stop = Stop.none
        var gatherer = OutputGatherer()
        /// With `-k`, the status of the node whose failure ended the job everywhere.
        var firstFailure: Int32?
        /// The `ctl` fid of every node set up to start (or running) its job.
        var controlFids: [String: RemoteFid] = [:]
        /// Nodes whose job has started, or that have a result.
        var settled: Set<String> = []
        /// Waiting for every node to be settled (``everyNodeSettled()``).
        var settledWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// What the user asked of the job as a whole.
    enum Stop: Comparable {
        case none
        /// ^C: interrupt it everywhere; nodes not started yet never start.
        case interrupted
        /// A second ^C, a timeout or a failure with `-k`: kill it everywhere.
        case killed

        /// The signal a node that never started its job reports.
        var signal: Int32 { self == .killed ? SIGKILL : SIGINT }
    }

    /// How a node's part of the job ended.
    public enum NodeResult: Sendable, Equatable {
        case exited(ExitStatus)
        case failed(HostFailure, String)
        /// Interrupted (SIGINT) or killed (SIGKILL) before the job started there: it never ran.
        case notStarted(signal: Int32)
    }

    public init(options: LaunchOptions, sink: OutputSink = OutputSink(), logger: Logger) {
        self.options = options
        self.links = options.hosts.map { NodeLink(host: $0, timeout: options.callTimeout) }
        self.sink = sink
        self.logger = logger
        self.familyID = "\(getpid())"
        let readers = options.hosts.filter(options.input.reads)
        self.input = readers.isEmpty ? nil : InputBroadcast(hosts: readers)
    }

    // MARK: - Running

    /// Runs the job to the end on every node.
    /// - Returns: the highest remote exit code, 128+signal for a signalled job, 255 for a
    ///   node that could not be reached or was lost.
    public func run(environment: [String: String]) async -> Int32 {
        let union = FamilyUnion(links: links)
        var record: FamilyRecord?
        var listener: NinePListener?
        do {
            let base = try FamilyRegistry.runtimeDirectory(environment: environment)
            let socket = "\(base)/\(familyID).sock"
            let served = try NinePListener(.unix(path: socket), peers: .sameUser)
            // Each request to a node holds a thread until the node answers: enough threads
            // for a request to every node at once (cps reads them all together).
            var configuration = ServerConfiguration()
            configuration.maxThreads = max(configuration.maxThreads, 2 * links.count + 8)
            try served.serve(union, configuration: configuration)
            listener = served
            let made = FamilyRecord(
                id: familyID, pid: getpid(), startTime: FamilyRegistry.startTime(of: getpid()) ?? 0,
                socket: socket, hosts: options.hosts,
                command: commandText,
                started: Int(time(nil)))
            _ = try FamilyRegistry.register(made, environment: environment)
            record = made
        } catch {
            sink.message("cannot publish the family's namespace: \(error) (the job runs without it)")
        }
        defer {
            listener?.shutdown()
            if let record { FamilyRegistry.unregister(record, environment: environment) }
        }

        input?.start(logger: logger)
        let fanout = Fanout(limit: options.fanout)
        await withTaskGroup(of: Void.self) { group in
            // The watchdog: a sibling of the nodes, cancelled once every node has ended.
            if let timeout = options.commandTimeout {
                group.addTask {
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    self.sink.message("command timeout (\(timeout)) reached: killing the job on every node")
                    await self.killAll(reason: .timedOut)
                }
            }
            await withTaskGroup(of: Void.self) { nodes in
                for (index, link) in links.enumerated() {
                    nodes.addTask { await self.runNode(link, index: index, turn: await fanout.enter()) }
                }
            }
            group.cancelAll()
        }

        let results = state.withLock { $0.results }
        if options.gather {
            sink.write(state.withLock { $0.gatherer }.rendered())
        }
        var failures: [(host: String, failure: HostFailure)] = []
        var status: Int32 = 0
        for host in options.hosts {
            switch results[host] ?? .failed(.other("no result"), "no result") {
            case .exited(let exit):
                status = max(status, exit.code)
                switch exit {
                case .exited(let code) where code != 0: failures.append((host, .exited(status: code)))
                case .signaled(let signal): failures.append((host, .signalled(signal)))
                default: break
                }
            case .failed(let failure, _):
                status = 255
                failures.append((host, failure))
            case .notStarted(let signal):
                status = max(status, 128 + signal)
                failures.append((host, .other(signal == SIGKILL ? "killed before the job started" : "interrupted before the job started")))
            }
        }
        if let summary = failureSummary(failures) {
            sink.write(Array("\(summary)\n".utf8), error: true)
        }
        return state.withLock { $0.firstFailure } ?? status
    }

    private func record(_ host: String, _ result: NodeResult) async {
        let first = state.withLock { state -> Bool in
            guard state.results[host] == nil else { return false }
            state.results[host] = result
            return true
        }
        settle(host)
        guard first else { return }
        if case .failed(_, let message) = result {
            // SSH errors name their host already.
            sink.message(message.hasPrefix("\(host): ") ? message : "\(host): \(message)")
        }
        guard options.killOnFailure, let code = failureCode(result) else { return }
        // srun's -K: the first node that fails ends the job everywhere, and its status is
        // the launcher's (the copies killed for it would otherwise say 137).
        let firstFailure = state.withLock { state -> Bool in
            guard state.stop != .killed, state.firstFailure == nil else { return false }
            state.firstFailure = code
            return true
        }
        if firstFailure {
            await killAll(reason: .other("another node failed"))
        }
    }

    /// The status a node's end gives the launcher when it counts as a failure for `-k`: a
    /// non-zero exit, a signal, a node that could not be reached or was lost. A node given
    /// up by a kill already under way (`.timedOut`) is not a new failure.
    private func failureCode(_ result: NodeResult) -> Int32? {
        switch result {
        case .exited(let exit): exit.code == 0 ? nil : exit.code
        case .failed(let failure, _): failure == .timedOut ? nil : 255
        case .notStarted: nil
        }
    }

    /// Notes that `host`'s job has started or ended; wakes ``everyNodeSettled()`` after the last.
    private func settle(_ host: String) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.settled.insert(host)
            guard state.settled.count == links.count else { return [] }
            defer { state.settledWaiters = [] }
            return state.settledWaiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Returns once every node has started its job or ended (failed, unreachable, not
    /// started): the family's namespace then shows every node that will ever run it.
    public func everyNodeSettled() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                guard state.settled.count < links.count else { return true }
                state.settledWaiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Records that `link`'s node never started the job because of `stop`.
    private func notStarted(_ link: NodeLink, _ stop: Stop) async {
        link.markDown(stop == .killed ? "killed before the job started" : "interrupted before the job started")
        await record(link.host, .notStarted(signal: stop.signal))
    }

    /// Sets up one node while it holds `turn` (a place among the `-f` being set up at once),
    /// gives the place back once the job is ready to start there, and runs it to the end.
    private func runNode(_ link: NodeLink, index: Int, turn: Fanout.Turn) async {
        defer { turn.end() }
        let host = link.host
        // After ^C or a kill, nodes not yet begun are not begun at all.
        let stopped = state.withLock { $0.stop }
        if stopped != .none {
            await notStarted(link, stopped)
            return
        }
        let session: SSHSession
        do {
            session = try await SSHSession.connect(sshOptions(for: host), logger: logger)
        } catch {
            if logger.logLevel <= .debug, let account = (error as? SSHError)?.account {
                sink.message("\(host): \(account)")
            }
            link.markDown("\(error)")
            await record(host, .failed(.unreachable, "\(error)"))
            return
        }
        // A ^C that came while connecting: the job is not started here.
        let stop = state.withLock { $0.stop }
        if stop != .none {
            await notStarted(link, stop)
            await Self.close(session)
            return
        }
        var remoteProcsrv = options.procsrvPath
        if options.stage {
            do {
                remoteProcsrv = try await session.upload(localPath: options.procsrvPath)
            } catch {
                link.markDown("staging failed")
                await record(host, .failed(.other("staging failed"), "cannot copy procsrv: \(error)"))
                await Self.close(session)
                return
            }
        }
        await runJob(link, index: index, session: session, procsrv: remoteProcsrv, turn: turn)
        if remoteProcsrv != options.procsrvPath {
            // Awaited before the session closes: the copy must not outlive the job.
            do {
                try await session.removeUpload(remotePath: remoteProcsrv)
            } catch {
                sink.message("\(host): cannot remove the staged procsrv \(remoteProcsrv): \(error)")
            }
        }
        await Self.close(session)
    }

    /// Closes a session on a thread of its own: closing waits for libssh's teardown, and a
    /// pool thread must not wait (64 nodes ending at once would take turns on two threads).
    private static func close(_ session: SSHSession) async {
        await offThePool { session.close() }
    }

    /// Runs the job through procsrv on one node and records how it ended.
    private func runJob(_ link: NodeLink, index: Int, session: SSHSession, procsrv remoteProcsrv: String, turn: Fanout.Turn) async {
        let host = link.host
        let procsrvErrors = LineRelay(host: host, sink: sink, labelling: options.labelling, error: true)
        let channel: SSHChannel
        do {
            channel = try await session.exec(command: try Self.remoteCommand(procsrv: remoteProcsrv), stderr: { procsrvErrors.append($0) })
        } catch {
            link.markDown("\(error)")
            await record(host, .failed(.unreachable, "\(error)"))
            return
        }
        defer { channel.close() }
        let client: NinePClient
        do {
            let startup = options.startupTimeout
            client = try await offThePool {
                do {
                    return try NinePClient.connect(over: channel, timeout: startup, logger: self.logger)
                } catch let error as NinePError where error.code == .timedOut {
                    throw LaunchError("procsrv did not answer within \(startup) of its start (a slow login shell? see --startup-timeout)")
                }
            }
            try await link.attach(client, user: options.logins[host] ?? options.user ?? Self.currentUser())
        } catch let error as LaunchError {
            procsrvErrors.finish()
            link.markDown("procsrv did not answer")
            await record(host, .failed(.other("procsrv failed"), error.description))
            return
        } catch {
            procsrvErrors.finish()
            link.markDown("procsrv did not start")
            let code = try? channel.waitForExit(timeout: .seconds(2))
            let hint = code == 127 ? " (procsrv not found at \(remoteProcsrv) on the node; try --stage or --procsrv PATH)" : ""
            await record(host, .failed(.other("procsrv failed"), "procsrv did not start: \(error)\(hint)"))
            return
        }
        defer { client.close() }

        do {
            let (_, jobRoot) = try link.root(job: true)
            let ctl: RemoteFid
            do {
                ctl = try await sendSpec(jobSpec(index: index), client: client, jobRoot: jobRoot)
            } catch {
                procsrvErrors.finish()
                link.markDown("the job could not be sent")
                await record(host, .failed(.other("job did not start"), "cannot hand the job to procsrv: \(error)"))
                return
            }
            turn.end()
            // Under the lock with the interrupt's own look at the fids: either the interrupt
            // sees this node's ctl and tells it, or this node sees the interrupt and stops here.
            let stop = state.withLock { state in
                state.controlFids[host] = ctl
                return state.stop
            }
            if stop != .none {
                await notStarted(link, stop)
                return
            }
            do {
                _ = try await client.write(ctl, data: Array("start\n".utf8), deadline: .now + options.callTimeout)
            } catch {
                // procsrv refuses the start of a job an interrupt or kill cancelled.
                let stop = state.withLock { $0.stop }
                if stop != .none {
                    await notStarted(link, stop)
                    return
                }
                let reason = (try? await client.read(ctl, offset: 0, count: client.maxIOSize, deadline: .now + options.callTimeout))
                    .map { String(decoding: $0, as: UTF8.self).trimmingSpaces() } ?? ""
                procsrvErrors.finish()
                if let status = commandProblem(reason, error) {
                    sink.message("\(host): \(reason)")
                    await record(host, .exited(.exited(status)))
                } else {
                    await record(host, .failed(.other("job did not start"), "the job did not start: \(reason.isEmpty ? "\(error)" : reason)"))
                }
                return
            }
            settle(host)
            async let out: Void = relay(client, jobRoot, "stdout", host: host, error: false)
            async let err: Void = relay(client, jobRoot, "stderr", host: host, error: true)
            let text = try await forwardingInput(input?.stream(for: host), client, jobRoot, host: host) {
                let wait = try await client.walk(jobRoot, ["wait"])
                try await client.open(wait)
                return String(decoding: try await client.readAll(wait), as: UTF8.self)
            }
            _ = try await (out, err)
            procsrvErrors.finish()
            guard let status = ExitStatus(text: text.trimmingSpaces()) else {
                await record(host, .failed(.other("bad status"), "procsrv reported \"\(text)\""))
                return
            }
            await record(host, .exited(status))
        } catch {
            procsrvErrors.finish()
            link.markDown("connection lost")
            let killed = state.withLock { $0.stop == .killed }
            await record(host, .failed(killed ? .other("killed") : .connectionLost, killed ? "killed" : "connection lost: \(error)"))
        }
    }

    /// The status a shell gives a command it cannot run, when `reason` (procsrv's account of
    /// a failed start) is about the command rather than the directory or the node: 127 for a
    /// program not found, 126 for one found but not executable (procsrv names the program
    /// first, as a shell does: `nosuchcmd: command not found`).
    private func commandProblem(_ reason: String, _ error: any Error) -> Int32? {
        guard let program = options.command.first, !options.runsInLoginShell,
              reason.hasPrefix(String(decoding: program, as: UTF8.self) + ": ") else { return nil }
        return (error as? NinePError)?.errno == .noSuchFileOrDirectory ? 127 : 126
    }

    /// Checks the job against the spec's limits (argument and environment sizes), so a job
    /// no node would take is refused before any is contacted.
    /// - Throws: `JobError` `.badSpec` naming the problem.
    public func checkJob() throws(JobError) {
        try jobSpec(index: max(0, options.hosts.count - 1)).validate()
    }

    /// The job for node number `index`: the user's argv, environment and working directory,
    /// the `CLUSTER_PROC_*` variables, and stdin at end of file unless it reads the input (`--input`).
    func jobSpec(index: Int) -> JobSpec {
        let ours = [
            "CLUSTER_PROC_NODEID=\(index)", "CLUSTER_PROC_NNODES=\(options.hosts.count)",
            "CLUSTER_PROC_NODELIST=\(HostList(options.hosts).folded())", "CLUSTER_PROC_FAMILY=\(familyID)",
        ].map { Array($0.utf8) }
        return JobSpec(argv: options.command, environment: options.environment + ours,
                       workingDirectory: options.workingDirectory, readsInput: options.hosts.indices.contains(index) && options.input.reads(options.hosts[index]),
                       runsInLoginShell: options.runsInLoginShell)
    }

    /// Opens the node's `ctl` (read and write: a read tells why a command failed) and writes
    /// the spec to `spec`, all sent back to back in one round trip: procsrv runs requests on
    /// one fid in order.
    /// - Returns: the open `ctl` fid.
    /// - Throws: the first error, or `JobError` when the spec breaks a rule.
    private func sendSpec(_ spec: JobSpec, client: NinePClient, jobRoot: RemoteFid) async throws -> RemoteFid {
        let encoded = try spec.encoded()
        let ctl = client.allocateFid()
        let specFid = client.allocateFid()
        func open(_ fid: UInt32, _ flags: UInt32) -> Message {
            client.dialect == .linux ? .tlopen(Tlopen(fid: fid, flags: flags))
                : .topen(Topen(fid: fid, mode: flags == LinuxOpenFlags.readWrite ? OpenMode.readWrite : OpenMode.write))
        }
        var messages: [Message] = [
            .twalk(Twalk(fid: jobRoot.number, newfid: ctl, wnames: ["ctl"])), open(ctl, LinuxOpenFlags.readWrite),
            .twalk(Twalk(fid: jobRoot.number, newfid: specFid, wnames: ["spec"])), open(specFid, LinuxOpenFlags.writeOnly),
        ]
        var offset = 0
        repeat {
            let piece = Array(encoded[offset..<min(encoded.count, offset + client.maxIOSize)])
            messages.append(.twrite(Twrite(fid: specFid, offset: UInt64(offset), data: piece)))
            offset += piece.count
        } while offset < encoded.count
        messages.append(.tclunk(Tclunk(fid: specFid)))
        let results = await client.pipeline(messages, deadline: .now + options.callTimeout)
        client.releaseFid(specFid)
        let ctlWalked: Qid? = if case .success(.rwalk(let walk)) = results[0], walk.qids.count == 1 { walk.qids[0] } else { nil }
        if let ctlWalked, results.allSatisfy({ if case .success = $0 { true } else { false } }) {
            return RemoteFid(number: ctl, qid: ctlWalked)
        }
        if ctlWalked != nil { client.clunkInBackground(ctl) } else { client.releaseFid(ctl) }
        for result in results {
            if case .failure(let error) = result { throw error }
        }
        throw NinePError(.noSuchFileOrDirectory, "the node's job tree has no ctl or spec (an older procsrv?)")
    }

    private func relay(_ client: NinePClient, _ root: RemoteFid, _ name: String, host: String, error: Bool) async throws {
        let fid = try await client.walk(root, [name])
        defer { client.clunkInBackground(fid.number) }
        try await client.open(fid)
        let lines = LineRelay(host: host, sink: sink, labelling: options.labelling, error: error)
        var offset: UInt64 = 0
        while true {
            let chunk = try await client.read(fid, offset: offset, count: client.maxIOSize)
            if chunk.isEmpty { break }
            offset += UInt64(chunk.count)
            if options.gather {
                state.withLock { $0.gatherer.append(chunk, from: host) }
            } else {
                lines.append(chunk)
            }
        }
        lines.finish()
    }

    // MARK: - Signals

    /// The first Ctrl-C interrupts the job everywhere; a second within a second kills it.
    /// Nodes that have not started the job yet never start it.
    public func interrupt() async {
        let now = ContinuousClock.now
        let second = state.withLock { state -> Bool in
            defer { state.interruptedAt = now }
            if let last = state.interruptedAt, now - last < .seconds(1) { return true }
            return false
        }
        if second {
            await killAll(reason: .other("killed"))
            return
        }
        let targets = state.withLock { state in
            state.stop = max(state.stop, .interrupted)
            return state.controlFids.filter { state.results[$0.key] == nil }
        }
        _ = await control(targets, "interrupt")
        let running = links.map(\.host).filter { host in state.withLock { $0.results[host] == nil } }
        guard !running.isEmpty else { return }
        let told = running.filter { targets[$0] != nil }
        let notYet = running.filter { targets[$0] == nil }
        var parts: [String] = []
        if !told.isEmpty { parts.append("interrupt sent to \(HostList(told).folded())") }
        if !notYet.isEmpty { parts.append("\(HostList(notYet).folded()): the job will not start") }
        sink.message(parts.joined(separator: "; ") + "; still running: \(HostList(running).folded()) (Ctrl-C again within 1 s to kill)")
    }

    /// Kills the job on every node at once: each is told `kill` (procsrv SIGKILLs the whole
    /// family), nodes not started yet never start, and a node that does not answer within
    /// the call deadline is given up (recorded with `reason`, its connection closed), so the
    /// launcher ends as soon as every node has answered or run out of time.
    public func killAll(reason: HostFailure) async {
        let targets = state.withLock { state in
            state.stop = .killed
            return state.controlFids.filter { state.results[$0.key] == nil }
        }
        let unanswered = await control(targets, "kill")
        for host in unanswered {
            await record(host, .failed(reason, "no answer to kill within \(options.callTimeout)"))
            links.first { $0.host == host }?.markDown("no answer to kill")
        }
    }

    /// Writes `command` to the `ctl` of every node in `targets` at once, each with the call
    /// deadline.
    /// - Returns: the hosts that did not answer.
    private func control(_ targets: [String: RemoteFid], _ command: String) async -> [String] {
        let deadline = ContinuousClock.now + options.callTimeout
        return await withTaskGroup(of: String?.self) { group in
            for (host, ctl) in targets {
                guard let client = links.first(where: { $0.host == host })?.client else { continue }
                group.addTask {
                    do {
                        _ = try await client.write(ctl, data: Array("\(command)\n".utf8), deadline: deadline)
                        return nil
                    } catch let error as NinePError {
                        return error.code == .timedOut || error.code == .connectionClosed ? host : nil
                    } catch {
                        return nil
                    }
                }
            }
            var unanswered: [String] = []
            for await host in group { if let host { unanswered.append(host) } }
            return unanswered
        }
    }

    // MARK: - Helpers

    /// The command as `cluster-launch list` shows it: the line a login shell runs, or argv.
    private var commandText: String {
        let words = options.runsInLoginShell ? options.command.suffix(1) : options.command[...]
        return words.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }

    func sshOptions(for host: String) -> SSHOptions {
        SSHOptions(
            host: host, user: options.logins[host] ?? options.user, port: options.port, configFile: options.sshConfig,
            identityFiles: options.identityFiles, connectTimeout: options.connectTimeout,
            strictHostKeyChecking: options.strictHostKeyChecking, knownHostsFile: options.knownHostsFile)
    }

    /// The bytes a procsrv path on a node may hold: any shell (sh, bash, dash, zsh, fish,
    /// tcsh) reads such a word as itself.
    static let safePathBytes = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./+,:@%=-".utf8)

    /// Refuses a procsrv path that a shell on the node might read as anything but itself.
    /// - Throws: ``LaunchError`` naming the path and what is allowed.
    public static func checkProcsrvPath(_ path: String) throws(LaunchError) {
        let bytes = Array(path.utf8)
        // A leading `-` is an option, `=` a zsh path lookup, `%` a job in tcsh and fish.
        guard let first = bytes.first, !"-=%".utf8.contains(first), bytes.allSatisfy(safePathBytes.contains) else {
            throw LaunchError(
                "procsrv path \(path.debugDescription) is not safe on a remote command line: use only letters, digits and _./+,:@%=- (not first: - = %), or --stage")
        }
    }

    /// The command line sshd runs on every node: fixed, nothing of the job in it.
    /// - Throws: ``LaunchError`` for an unsafe procsrv path.
    static func remoteCommand(procsrv: String) throws(LaunchError) -> String {
        try checkProcsrvPath(procsrv)
        return "\(procsrv) --stdio"
    }

    static func currentUser() -> String {
        if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "\(getuid())"
    }
}

/// A launch that cannot go ahead, said in one line.
public struct LaunchError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Turns one node's byte stream into labelled whole lines on the sink.
final class LineRelay: Sendable {
    let host: String
    let sink: OutputSink
    let labelling: LineLabelling
    let error: Bool
    private let assembler = Mutex(LineAssembler())

    init(host: String, sink: OutputSink, labelling: LineLabelling, error: Bool) {
        self.host = host
        self.sink = sink
        self.labelling = labelling
        self.error = error
    }

    func append(_ chunk: [UInt8]) {
        let lines = assembler.withLock { $0.append(chunk) }
        guard !lines.isEmpty else { return }
        sink.write(lines.flatMap { labelling.render(host: host, line: $0) }, error: error)
    }

    func finish() {
        if let last = assembler.withLock({ $0.finish() }) {
            sink.write(labelling.render(host: host, line: last), error: error)
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
