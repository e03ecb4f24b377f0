import Foundation
@testable import ClusterProcNode
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The simulated cluster the end-to-end tests share (`scripts/simcluster`): sshd nodes in
/// their own PID, UTS and mount namespaces on loopback addresses, brought up once per test
/// process in a state directory of its own and taken down when the process exits.
struct SimCluster: Sendable {
    /// Nodes the shared cluster has.
    static let nodeCount = 8

    /// Whether this process can run a simulated cluster: it needs root and sshd.
    static let canRun: Bool = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd")
        && FileManager.default.isExecutableFile(atPath: script)
    /// Why tests that need the cluster skip when `canRun` is false.
    static let whyNot = "needs root and /usr/sbin/sshd to run the simulated cluster (scripts/simcluster)"

    /// The repository's `scripts/simcluster`.
    static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("scripts/simcluster").path
    }()

    let directory: String
    /// root's client configuration (`ssh -F`).
    let sshConfig: String
    /// The ordinary user's client configuration.
    let userSSHConfig: String
    /// The ordinary user's name.
    let user: String
    /// The known_hosts file with every node's key.
    let knownHosts: String
    /// `node01`, `node02`, ….
    let nodes: [String]
    /// The third octet of the nodes' loopback addresses.
    let net: Int

    /// Starts again the nodes a test killed (with the settings the cluster was made with).
    func revive() async throws {
        let (status, output) = try await SimCluster.run(
            [SimCluster.script, "up", "\(nodes.count)", "--net", "\(net)", "--timeout", "120"],
            environment: ["SIMCLUSTER_DIR": directory])
        guard status == 0 else { throw SimClusterError("simcluster up (revive) failed (\(status)): \(output)") }
    }

    /// The shared cluster, brought up on first use.
    static func shared() async throws -> SimCluster {
        try await Starter.instance.cluster()
    }

    /// A node user whose login shell is `shell` (made once: `cp` and the shell's name), who
    /// logs in with root's key, so `-l USER` with root's client configuration reaches them.
    func user(withLoginShell shell: String) throws -> String {
        let name = "cp" + (shell.split(separator: "/").last.map(String.init) ?? "shell")
        let exists = { SimCluster.spawn(["/usr/bin/id", "-u", name], collect: true)?.0 == 0 }
        if !exists() {
            // Another test process may be making the same user: whoever wins, it exists after.
            _ = SimCluster.spawn(["/usr/sbin/useradd", "-m", "-s", shell, name], collect: true)
            guard exists() else { throw SimClusterError("cannot make user \(name) with shell \(shell)") }
        }
        // With UsePAM no, sshd refuses a locked account even for key logins.
        _ = SimCluster.spawn(["/usr/sbin/usermod", "-p", "*", "-s", shell, name], collect: true)
        let key = try String(contentsOfFile: "\(directory)/keys/id_root.pub", encoding: .utf8)
        try key.write(toFile: "\(directory)/authorized_keys/\(name)", atomically: true, encoding: .utf8)
        chmod("\(directory)/authorized_keys/\(name)", 0o644)
        return name
    }

    /// The PID of a node's sshd (PID 1 of its namespace), as the host sees it.
    func sshdPID(of node: String) throws -> pid_t {
        let record = try String(contentsOfFile: "\(directory)/nodes/\(node)/pid", encoding: .utf8)
        guard let unshare = record.split(separator: " ").first else { throw SimClusterError("no pid for \(node)") }
        let children = try String(contentsOfFile: "/proc/\(unshare)/task/\(unshare)/children", encoding: .utf8)
        guard let first = children.split(separator: " ").first, let pid = pid_t(first) else {
            throw SimClusterError("\(node) has no sshd")
        }
        return pid
    }

    // MARK: - Start and stop

    private actor Starter {
        static let instance = Starter()
        private var starting: Task<SimCluster, any Error>?

        func cluster() async throws -> SimCluster {
            // One start however many tests ask at once (the actor is reentrant at `await`).
            if let starting { return try await starting.value }
            let task = Task { try await SimCluster.start() }
            starting = task
            return try await task.value
        }
    }

    private static func start() async throws -> SimCluster {
        reapAbandoned()
        let directory = "/tmp/cluster-proc-e2e-\(getpid())"
        stateDirectoryForExit.withLock { $0 = directory }
        atexit { SimCluster.stopAtExit() }
        return try await start(nodeCount: nodeCount, directory: directory)
    }

    /// A cluster of a test's own, of `nodeCount` nodes, which the test takes down with
    /// ``down()`` (or the next test process does, once this one is gone).
    static func own(_ name: String, nodeCount: Int) async throws -> SimCluster {
        try await start(nodeCount: nodeCount, directory: "/tmp/cluster-proc-e2e-\(getpid())-\(name)", netOffset: 75)
    }

    /// Takes a cluster of a test's own down.
    func down() {
        SimCluster.stop(directory: directory)
    }

    private static func start(nodeCount: Int, directory: String, netOffset: Int32 = 0) async throws -> SimCluster {
        let pid = getpid()
        // A third octet of our own, so that a developer's cluster (127.0.10.x) and other test
        // processes do not collide; simcluster refuses an address in use, so try a few.
        var failure = ""
        var chosen = 0
        for attempt in 0..<3 {
            let net = 64 + Int((pid + pid_t(attempt) * 37 + netOffset) % 150)
            chosen = net
            let (status, output) = try await run(
                [script, "up", "\(nodeCount)", "--net", "\(net)", "--timeout", "120"],
                environment: ["SIMCLUSTER_DIR": directory])
            if status == 0 {
                failure = ""
                break
            }
            failure = "simcluster up failed (\(status)): \(output)"
            guard output.contains("already listens") else { break }
            _ = spawn(["/usr/bin/env", "SIMCLUSTER_DIR=\(directory)", script, "down"], collect: false)
        }
        guard failure.isEmpty else { throw SimClusterError(failure) }
        let user = (try? String(contentsOfFile: "\(directory)/cluster", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("USER_NAME=") }
            .map { String($0.dropFirst("USER_NAME=".count)) } ?? "cpuser"
        return SimCluster(
            directory: directory, sshConfig: "\(directory)/ssh_config.root",
            userSSHConfig: "\(directory)/ssh_config.\(user)", user: user,
            knownHosts: "\(directory)/known_hosts",
            nodes: (1...nodeCount).map { String(format: "node%02d", $0) }, net: chosen)
    }

    private static let stateDirectoryForExit = Mutex<String?>(nil)

    private static func stopAtExit() {
        guard let directory = stateDirectoryForExit.withLock({ $0 }) else { return }
        stop(directory: directory)
    }

    /// Runs `simcluster down` and removes the state directory. Also runs from the exit
    /// handler, so it uses nothing but posix_spawn.
    private static func stop(directory: String) {
        _ = spawn(["/usr/bin/env", "SIMCLUSTER_DIR=\(directory)", script, "down"], collect: false)
        _ = spawn(["/bin/rm", "-rf", directory], collect: false)
    }

    /// Stops clusters left behind by test processes that died without their exit handler.
    private static func reapAbandoned() {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for entry in entries where entry.hasPrefix("cluster-proc-e2e-") {
            let owner = entry.dropFirst("cluster-proc-e2e-".count).prefix { $0 != "-" }
            guard let owner = pid_t(owner), owner != getpid() else { continue }
            if kill(owner, 0) != 0 && errno == ESRCH { stop(directory: "/tmp/\(entry)") }
        }
    }

    /// Runs a program to its end without blocking a thread of the concurrency pool.
    /// - Returns: its exit status and its stdout and stderr together.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        let withEnvironment = ["/usr/bin/env"] + environment.map { "\($0.key)=\($0.value)" } + arguments
        return try await onOwnThread {
            guard let result = spawn(withEnvironment, collect: true) else {
                throw SimClusterError("cannot start \(arguments[0]): \(String(cString: strerror(errno)))")
            }
            return result
        }
    }

    /// posix_spawn, stdout and stderr into one pipe (or /dev/null), read to the end, waitpid.
    /// (Foundation's Process sometimes never sees its child exit here.)
    static func spawn(_ arguments: [String], collect: Bool) -> (Int32, String)? {
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if collect {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // Nothing but 0-2: a pipe another test holds open (Foundation's are not close-on-exec)
        // must not live on in a daemon started here, or that test never sees its end of file.
        _ = JobSystemCalls.addClosefrom?(&actions, 3)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0]!, &actions, nil, &argv, environ)
        close(fds[1])
        defer { close(fds[0]) }
        guard rc == 0 else {
            errno = rc
            return nil
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n > 0 { output += chunk[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitStatus, String(decoding: output, as: UTF8.self))
    }
}

/// Runs blocking work on a thread of its own and suspends the calling task until it ends.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

struct SimClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Tests on the shared cluster take turns: some of them stop or kill a node, which must not
/// happen under another test's feet. Suites say so with `.takesTurnsOnTheCluster`.
struct ClusterTurns: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        guard !test.isSuite else {
            try await function()
            return
        }
        await Turnstile.shared.enter()
        do {
            try await function()
        } catch {
            await Turnstile.shared.leave()
            throw error
        }
        await Turnstile.shared.leave()
    }

    private actor Turnstile {
        static let shared = Turnstile()
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func enter() async {
            guard busy else {
                busy = true
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func leave() {
            if waiting.isEmpty {
                busy = false
            } else {
                waiting.removeFirst().resume()
            }
        }
    }
}

extension Trait where Self == ClusterTurns {
    /// The test runs alone on the shared cluster.
    static var takesTurnsOnTheCluster: Self { ClusterTurns() }
}
