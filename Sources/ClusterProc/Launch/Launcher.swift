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
    public var command: [String]
    /// Nodes connecting at once (`-f`).
    public var fanout = 64
    /// `-t`: connect timeout.
    public var connectTimeout: Duration = .seconds(10)
    /// `-u`: the job is killed on every node after this long.
    public var commandTimeout: Duration?
    /// Deadline of one 9P call to a node (a hung node fails its files after this).
    public var callTimeout: Duration = .seconds(5)
    public var user: String?
    public var sshConfig: String?
    public var strictHostKeyChecking: SSHOptions.StrictHostKeyChecking = .yes
    public var knownHostsFile: String?
    public var identityFiles: [String] = []
    public var port: Int?
    public var labelling: LineLabelling = .hostPrefix
    /// `-b`: print identical outputs once, after the job (dshbak -c style).
    public var gather = false
    /// `-k`: the first failing node ends the job everywhere.
    public var killOnFailure = false
    /// procsrv's path on the nodes.
    public var procsrvPath: String
    /// `--stage`: copy procsrv to each node for the job's lifetime.
    public var stage = false
    public var workingDirectory: String
    /// Variables to set in the job's environment on every node.
    public var environment: [String: String] = [:]

    public init(hosts: [String], command: [String], procsrvPath: String, workingDirectory: String) {
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
public final class Launcher: Sendable {
    public let options: LaunchOptions
    public let links: [NodeLink]
    private let sink: OutputSink
    private let logger: Logger
    private let state = Mutex<State>(State())
    public let familyID: String

    struct State {
        var results: [String: NodeResult] = [:]
        var interruptedAt: ContinuousClock.Instant?
        var killed = false
        var gatherer = OutputGatherer()
        var controlFids: [String: RemoteFid] = [:]
    }

    /// How a node's part of the job ended.
    public enum NodeResult: Sendable, Equatable {
        case exited(ExitStatus)
        case failed(HostFailure, String)
    }

    public init(options: LaunchOptions, sink: OutputSink = OutputSink(), logger: Logger) {
        self.options = options
        self.links = options.hosts.map { NodeLink(host: $0, timeout: options.callTimeout) }
        self.sink = sink
        self.logger = logger
        self.familyID = "\(getpid())"
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
                socket: socket, hosts: options.hosts, command: options.command.joined(separator: " "),
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

        let watchdog = options.commandTimeout.map { timeout in
            Task {
                try await Task.sleep(for: timeout)
                sink.message("command timeout (\(timeout)) reached: killing the job on every node")
                await killAll(reason: .timedOut)
            }
        }
        await withTaskGroup(of: Void.self) { group in
            var started = 0
            for (index, link) in links.enumerated() {
                if started >= options.fanout {
                    await group.next()
                }
                started += 1
                group.addTask { await self.runNode(link, index: index) }
            }
        }
        watchdog?.cancel()

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
            }
        }
        if let summary = failureSummary(failures) {
            sink.write(Array("\(summary)\n".utf8), error: true)
        }
        return status
    }

    private func record(_ host: String, _ result: NodeResult) {
        let first = state.withLock { state -> Bool in
            guard state.results[host] == nil else { return false }
            state.results[host] = result
            return true
        }
        guard first else { return }
        if case .failed(let failure, let message) = result {
            sink.message("\(host): \(message)")
            if options.killOnFailure, failure != .timedOut {
                Task { await killAll(reason: .other("another node failed")) }
            }
        }
    }

    private func runNode(_ link: NodeLink, index: Int) async {
        let host = link.host
        let session: SSHSession
        do {
            session = try await SSHSession.connect(sshOptions(for: host), logger: logger)
        } catch {
            link.markDown("\(error)")
            record(host, .failed(.unreachable, "\(error)"))
            return
        }
        defer { session.close() }
        var remoteProcsrv = options.procsrvPath
        if options.stage {
            do {
                remoteProcsrv = try await session.upload(localPath: options.procsrvPath)
            } catch {
                link.markDown("staging failed")
                record(host, .failed(.other("staging failed"), "cannot copy procsrv: \(error)"))
                return
            }
        }
        await runJob(link, index: index, session: session, procsrv: remoteProcsrv)
        if remoteProcsrv != options.procsrvPath {
            // Awaited before the session closes: the copy must not outlive the job.
            do {
                try await session.removeUpload(remotePath: remoteProcsrv)
            } catch {
                sink.message("\(host): cannot remove the staged procsrv \(remoteProcsrv): \(error)")
            }
        }
    }

    /// Runs the job through procsrv on one node and records how it ended.
    private func runJob(_ link: NodeLink, index: Int, session: SSHSession, procsrv remoteProcsrv: String) async {
        let host = link.host
        let command = remoteCommand(procsrv: remoteProcsrv, index: index)
        let procsrvErrors = LineRelay(host: host, sink: sink, labelling: options.labelling, error: true)
        let channel: SSHChannel
        do {
            channel = try await session.exec(command: command, stderr: { procsrvErrors.append($0) })
        } catch {
            link.markDown("\(error)")
            record(host, .failed(.unreachable, "\(error)"))
            return
        }
        defer { channel.close() }
        let client: NinePClient
        do {
            client = try await offThePool { try NinePClient.connect(over: channel, timeout: self.options.connectTimeout, logger: self.logger) }
            try await link.attach(client, user: options.user ?? Self.currentUser())
        } catch {
            procsrvErrors.finish()
            link.markDown("procsrv did not start")
            let code = try? channel.waitForExit(timeout: .seconds(2))
            let hint = code == 127 ? " (procsrv not found at \(remoteProcsrv) on the node; try --stage or --procsrv PATH)" : ""
            record(host, .failed(.other("procsrv failed"), "procsrv did not start: \(error)\(hint)"))
            return
        }
        defer { client.close() }

        do {
            let (_, jobRoot) = try link.root(job: true)
            if let ctl = try? await client.walk(jobRoot, ["ctl"]) {
                if (try? await client.open(ctl, flags: LinuxOpenFlags.writeOnly)) != nil {
                    state.withLock { $0.controlFids[host] = ctl }
                }
            }
            if state.withLock({ $0.killed }) { await control(host, "kill") }
            async let out: Void = relay(client, jobRoot, "stdout", host: host, error: false)
            async let err: Void = relay(client, jobRoot, "stderr", host: host, error: true)
            let wait = try await client.walk(jobRoot, ["wait"])
            try await client.open(wait)
            let text = String(decoding: try await client.readAll(wait), as: UTF8.self)
            _ = try await (out, err)
            procsrvErrors.finish()
            guard let status = ExitStatus(text: text.trimmingSpaces()) else {
                record(host, .failed(.other("bad status"), "procsrv reported \"\(text)\""))
                return
            }
            record(host, .exited(status))
        } catch {
            procsrvErrors.finish()
            link.markDown("connection lost")
            let killed = state.withLock { $0.killed }
            record(host, .failed(killed ? .other("killed") : .connectionLost, killed ? "killed" : "connection lost: \(error)"))
        }
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
        let running = links.filter { state.withLock { [host = $0.host] in $0.results[host] == nil } }.map(\.host)
        for host in running { await control(host, "interrupt") }
        if !running.isEmpty {
            sink.message("interrupt sent to \(HostList(running).folded()); still running: \(HostList(running).folded()) (Ctrl-C again within 1 s to kill)")
        }
    }

    /// Kills the job on every node.
    public func killAll(reason: HostFailure) async {
        state.withLock { $0.killed = true }
        for link in links where state.withLock({ [host = link.host] in $0.results[host] == nil }) {
            await control(link.host, "kill")
        }
    }

    private func control(_ host: String, _ command: String) async {
        guard let link = links.first(where: { $0.host == host }), let client = link.client,
            let ctl = state.withLock({ $0.controlFids[host] })
        else { return }
        _ = try? await client.write(ctl, data: Array("\(command)\n".utf8), deadline: .now + options.callTimeout)
    }

    // MARK: - Helpers

    func sshOptions(for host: String) -> SSHOptions {
        SSHOptions(
            host: host, user: options.user, port: options.port, configFile: options.sshConfig,
            identityFiles: options.identityFiles, connectTimeout: options.connectTimeout,
            strictHostKeyChecking: options.strictHostKeyChecking, knownHostsFile: options.knownHostsFile)
    }

    /// The command line sshd runs on node number `index`.
    func remoteCommand(procsrv: String, index: Int) -> String {
        var environment = options.environment
        environment["CLUSTER_PROC_NODEID"] = "\(index)"
        environment["CLUSTER_PROC_NNODES"] = "\(options.hosts.count)"
        environment["CLUSTER_PROC_NODELIST"] = HostList(options.hosts).folded()
        environment["CLUSTER_PROC_FAMILY"] = familyID
        var words = [procsrv, "--stdio", "--chdir", options.workingDirectory]
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            words += ["--env", "\(name)=\(value)"]
        }
        words.append("--")
        words += options.command
        return words.map(shellQuoted).joined(separator: " ")
    }

    static func currentUser() -> String {
        if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "\(getuid())"
    }
}

/// Quotes a word for a POSIX shell.
public func shellQuoted(_ word: String) -> String {
    if !word.isEmpty, word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) { return word }
    return "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
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

/// Runs blocking work on a thread of its own and awaits it, keeping the Swift pool free.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        do {
            try startThread(name: "cluster-proc-blocking") {
                continuation.resume(with: Result { try body() })
            }
        } catch {
            continuation.resume(throwing: error)
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
