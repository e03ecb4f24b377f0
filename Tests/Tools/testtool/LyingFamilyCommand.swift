import ArgumentParser
import ClusterProc
import Dispatch
import Glibc
import NineP
import SystemPackage

/// A family whose union holds honest nodes (procsrv over its stdio, as cluster-launch runs
/// it, serving this machine's /proc) beside ``LyingNode``s, registered as this process's
/// family so that cps and `cluster-launch exec` find it. It serves until killed.
///
/// Nodes: node01 and node03 honest; node02 `liar`, node04 `endless`, node05 `absurd`,
/// node06 `deep`.
struct LyingFamilyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lying-family",
        abstract: "Serve a family of honest procsrv nodes and lying nodes until killed."
    )

    @Option(help: "The procsrv executable of the honest nodes.") var procsrv: String
    @Option(help: "Deadline of one call to a node, in seconds.") var timeout: Int = 3

    static let honest = ["node01", "node03"]
    static let liars: [(String, LyingNode.Kind)] = [("node02", .liar), ("node04", .endless), ("node05", .absurd), ("node06", .deep)]

    func run() throws {
        let hosts = ["node01", "node02", "node03", "node04", "node05", "node06"]
        let links = hosts.map { NodeLink(host: $0, timeout: .seconds(timeout)) }
        var clients: [String: NinePClient] = [:]
        for host in Self.honest { clients[host] = try NinePClient.connect(over: try spawnProcsrv()) }
        for (host, kind) in Self.liars {
            var ends: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
                throw Errno(rawValue: errno)
            }
            LyingNode(kind: kind).serve(try FileDescriptorStream(socket: FileDescriptor(rawValue: ends[0])))
            clients[host] = try NinePClient.connect(over: try FileDescriptorStream(socket: FileDescriptor(rawValue: ends[1])))
        }
        let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "\(getuid())"
        let attached = DispatchSemaphore(value: 0)
        let pairs = links.map { ($0, clients[$0.host]!) }
        Task {
            for (link, client) in pairs { try? await link.attach(client, user: user) }
            attached.signal()
        }
        attached.wait()

        let environment = ["XDG_RUNTIME_DIR": getenv("XDG_RUNTIME_DIR").map { String(cString: $0) } ?? ""]
        let base = try FamilyRegistry.runtimeDirectory(environment: environment)
        let id = "\(getpid())"
        let socket = "\(base)/\(id).sock"
        let listener = try NinePListener(.unix(path: socket))
        var configuration = ServerConfiguration()
        configuration.maxThreads = 2 * hosts.count + 8
        try listener.serve(FamilyUnion(links: links), configuration: configuration)
        let record = FamilyRecord(
            id: id, pid: getpid(), startTime: FamilyRegistry.startTime(of: getpid()) ?? 0, socket: socket, hosts: hosts,
            command: "lying-family", started: Int(time(nil)))
        _ = try FamilyRegistry.register(record, environment: environment)
        while true { pause() }
    }

    /// `procsrv --stdio` with its standard input and output on pipes to this process.
    private func spawnProcsrv() throws -> FileDescriptorStream {
        var toChild: [Int32] = [-1, -1], fromChild: [Int32] = [-1, -1]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw Errno(rawValue: errno) }
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup(procsrv), strdup("--stdio"), nil]
        defer { for argument in argv { free(argument) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, procsrv, &actions, nil, &argv, environ)
        close(toChild[0])
        close(fromChild[1])
        guard result == 0 else { throw Errno(rawValue: result) }
        return try FileDescriptorStream(input: FileDescriptor(rawValue: fromChild[0]), output: FileDescriptor(rawValue: toChild[1]))
    }
}
