import Foundation
import ClusterProcNode
import Glibc
import NineP
import Synchronization
import SystemPackage
import TestSupport
import Testing

/// An executable built beside the test bundle (`.build/<triple>/debug/NAME`).
func procsrvBuiltProduct(_ name: String) throws -> String {
    var candidates: [String] = []
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var directory = exe
    while !directory.isEmpty && directory != "/" {
        directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
        candidates.append("\(directory)/\(name)")
        if directory.hasSuffix("/debug") || directory.hasSuffix("/release") { break }
    }
    candidates.append(FileManager.default.currentDirectoryPath + "/.build/debug/\(name)")
    let found = candidates.first { access($0, X_OK) == 0 }
    return try #require(found, "\(name) not built; looked in \(candidates) (run swift build)")
}

/// procsrv started with its stdin and stdout on pipes we hold, stderr to a file.
final class ProcsrvProcess: Sendable {
    let pid: pid_t
    let stdinWrite: Int32
    let stdoutRead: Int32
    let errorPath: String

    /// - Parameters:
    ///   - user: runs it as this user (by setpriv) when given.
    ///   - product: another program built beside the tests, in procsrv's place.
    init(_ arguments: [String], user: String? = nil, product: String = "procsrv") throws {
        let program = try procsrvBuiltProduct(product)
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        // Socket pairs made close-on-exec atomically: tests run in parallel and spawn
        // processes, and one inheriting our end of procsrv's stdin would keep it from EOF.
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &toChild) == 0, socketpair(AF_UNIX, type, 0, &fromChild) == 0 else { throw Errno(rawValue: errno) }
        toChild.swapAt(0, 1)  // [0]: procsrv's stdin, [1]: ours to write
        errorPath = NSTemporaryDirectory() + "procsrv-stderr-\(UUID().uuidString)"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // setpriv execs procsrv itself (runuser would stay as its parent), so `pid` is procsrv's.
        let argv = (user.map { ["/usr/bin/setpriv", "--reuid=\($0)", "--regid=\($0)", "--init-groups", "--"] } ?? []) + [program] + arguments
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let result = cArgs.withUnsafeBufferPointer { posix_spawn(&pid, argv[0], &actions, nil, $0.baseAddress!, environ) }
        close(toChild[0])
        close(fromChild[1])
        guard result == 0 else { throw Errno(rawValue: result) }
        self.pid = pid
        stdinWrite = toChild[1]
        stdoutRead = fromChild[0]
    }

    /// Our 9P client on procsrv's standard input and output.
    func connect() throws -> NinePClient {
        let stream = try FileDescriptorStream(input: FileDescriptor(rawValue: stdoutRead), output: FileDescriptor(rawValue: stdinWrite), ownsDescriptors: false)
        return try NinePClient.connect(over: stream)
    }

    func closeStandardInput() {
        close(stdinWrite)
    }

    /// Waits for procsrv's exit and returns its wait status.
    func waitForExit(timeout: Duration = .seconds(10)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return status }
            if result < 0 && errno != EINTR { return nil }
            usleep(5000)
        }
        return nil
    }

    /// Ends procsrv (with SIGTERM first, so it ends its job's family too) if it still runs.
    func kill() {
        Glibc.kill(pid, SIGTERM)
        if waitForExit(timeout: .seconds(5)) == nil {
            Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }

    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Polls procsrv's stderr until `body` finds something in it.
    func waitForErrors<T>(timeout: Duration = .seconds(10), _ body: (String) -> T?) -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = body(errors) { return found }
            usleep(10000)
        }
        return nil
    }

    deinit {
        close(stdoutRead)
        unlink(errorPath)
    }
}

/// The start time (field 22 of /proc/PID/stat) of a running process; nil when it is gone.
func procsrvStartTime(of pid: Int32) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is the state (field 3), so field 22 is fields[19].
    return fields.count > 19 ? UInt64(fields[19]) : nil
}


@Suite struct ProcsrvTests {
    /// Reads `stdout` of the job until `lines` lines have arrived.
    func readLines(_ client: NinePClient, _ stdout: RemoteFid, count lines: Int) async throws -> String {
        var text = ""
        while text.filter({ $0 == "\n" }).count < lines {
            let chunk = try await client.read(stdout, offset: 0, count: 4096, deadline: .now + .seconds(10))
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text
    }

    @Test func closingTheConnectionEndsTheWholeFamily() async throws {
        let tool = try procsrvBuiltProduct("cluster-proc-testtool")
        let server = try ProcsrvProcess(["--stdio", "--", "sh", "-c", "'\(tool)' ignore-term & '\(tool)' orphan; wait"])
        defer { server.kill() }
        let client = try server.connect()
        let job = try await client.attach(uname: "root", aname: "job")
        let stdout = try await client.walk(job, ["stdout"])
        try await client.open(stdout)
        let ready = try await readLines(client, stdout, count: 2)
        let readyPIDs = ready.split(separator: "\n").compactMap { Int32($0.split(separator: " ").last ?? "") }
        #expect(readyPIDs.count == 2, "\(ready)")
        let pids = String(decoding: try await client.readFile(job, path: ["pids"]), as: UTF8.self)
            .split(separator: "\n").compactMap { Int32($0) }
        #expect(Set(pids).isSuperset(of: readyPIDs), "pids \(pids), ready \(readyPIDs)")
        let members = pids.compactMap { pid in procsrvStartTime(of: pid).map { (pid, $0) } }
        #expect(members.count >= 3)
        client.close()
        server.closeStandardInput()
        #expect(await eventually(within: .seconds(2)) { !members.contains { procsrvStartTime(of: $0.0) == $0.1 } },
                "still alive after 2 s: \(members.filter { procsrvStartTime(of: $0.0) == $0.1 })")
        let status = server.waitForExit()
        #expect(status.map { $0 & 0x7f == 0 && ($0 >> 8) & 0xff == 1 } == true, "status \(String(describing: status))")
    }

    @Test(arguments: [SIGTERM, SIGHUP, SIGINT])
    func aTerminationSignalEndsTheWholeFamily(signo: Int32) async throws {
        let tool = try procsrvBuiltProduct("cluster-proc-testtool")
        let server = try ProcsrvProcess(["--stdio", "--", "sh", "-c", "'\(tool)' orphan; '\(tool)' ignore-term"])
        defer { server.kill() }
        let client = try server.connect()
        defer { client.close() }
        let job = try await client.attach(uname: "root", aname: "job")
        let stdout = try await client.walk(job, ["stdout"])
        try await client.open(stdout)
        _ = try await readLines(client, stdout, count: 2)
        let pids = String(decoding: try await client.readFile(job, path: ["pids"]), as: UTF8.self)
            .split(separator: "\n").compactMap { Int32($0) }
        let alive = pids.compactMap { pid in procsrvStartTime(of: pid).map { (pid, $0) } }
        #expect(alive.count >= 3)
        Glibc.kill(server.pid, signo)
        #expect(await eventually(within: .seconds(2)) { !alive.contains { procsrvStartTime(of: $0.0) == $0.1 } },
                "still alive after 2 s: \(alive.filter { procsrvStartTime(of: $0.0) == $0.1 })")
        let status = server.waitForExit()
        #expect(status.map { $0 & 0x7f == 0 && ($0 >> 8) & 0xff == 1 } == true, "status \(String(describing: status))")
    }

    /// Writes `spec` to the job tree's `spec` file and `start` to its `ctl`, as cluster-launch does.
    /// - Returns: the `ctl` fid, open for reading and writing.
    func startJob(_ client: NinePClient, _ job: RemoteFid, _ spec: JobSpec) async throws -> RemoteFid {
        let specFile = try await client.walk(job, ["spec"])
        try await client.open(specFile, flags: LinuxOpenFlags.writeOnly)
        _ = try await client.write(specFile, data: try spec.encoded())
        try await client.clunk(specFile)
        let ctl = try await client.walk(job, ["ctl"])
        try await client.open(ctl, flags: LinuxOpenFlags.readWrite)
        _ = try await client.write(ctl, data: Array("start\n".utf8))
        return ctl
    }

    @Test func outputStreamsAndWaitGivesTheExitStatus() async throws {
        let directory = NSTemporaryDirectory()
        let server = try ProcsrvProcess(["--stdio"])
        defer { server.kill() }
        let client = try server.connect()
        let job = try await client.attach(uname: "root", aname: "job")
        let spec = JobSpec(argv: ["sh", "-c", "echo \"$GREETING from $(pwd)\"; read line; echo \"got $line\" >&2; exit 3"].map { Array($0.utf8) },
                           environment: [Array("GREETING=hello".utf8)], workingDirectory: Array(directory.utf8))
        _ = try await startJob(client, job, spec)
        let stdout = try await client.walk(job, ["stdout"])
        try await client.open(stdout)
        let first = try await readLines(client, stdout, count: 1)
        let realDirectory = try #require(realpath(directory, nil).map { p in defer { free(p) }; return String(cString: p) })
        #expect(first == "hello from \(realDirectory)\n")
        // The job still waits on stdin: the line came before its exit.
        let info = String(decoding: try await client.readFile(job, path: ["info"]), as: UTF8.self)
        let rootPID = try #require(info.split(separator: "\n").first { $0.hasPrefix("pid=") }.flatMap { Int32($0.dropFirst(4)) })
        #expect(procsrvStartTime(of: rootPID) != nil)
        #expect(info.contains("command=sh -c"))
        let stdin = try await client.walk(job, ["stdin"])
        try await client.open(stdin, flags: LinuxOpenFlags.writeOnly)
        _ = try await client.write(stdin, data: Array("line".utf8))
        try await client.clunk(stdin)  // closes the job's stdin: `read` sees EOF after "line"
        let stderr = try await client.walk(job, ["stderr"])
        try await client.open(stderr)
        #expect(try await readLines(client, stderr, count: 1) == "got line\n")
        let wait = try await client.readFile(job, path: ["wait"])
        #expect(String(decoding: wait, as: UTF8.self) == "exit 3\n")
        #expect(try await client.read(stdout, offset: 0, count: 100).isEmpty)
        client.close()
        server.closeStandardInput()
        let status = server.waitForExit()
        #expect(status.map { ($0 >> 8) & 0xff } == 3)
    }

    @Test func aBlockedReadEndsWhenFlushed() async throws {
        let server = try ProcsrvProcess(["--stdio", "--", "sleep", "600"])
        defer { server.kill() }
        let client = try server.connect()
        let job = try await client.attach(uname: "root", aname: "job")
        let stdout = try await client.walk(job, ["stdout"])
        try await client.open(stdout)
        let timedOut = await #expect(throws: NinePError.self) {
            try await client.read(stdout, offset: 0, count: 10, deadline: .now + .milliseconds(300))
        }
        #expect(timedOut?.code == .timedOut)
        // The connection still answers after the flush.
        let ctl = try await client.walk(job, ["ctl"])
        try await client.open(ctl, flags: LinuxOpenFlags.writeOnly)
        _ = try await client.write(ctl, data: Array("signal KILL\n".utf8))
        let ended = String(decoding: try await client.readFile(job, path: ["wait"]), as: UTF8.self)
        #expect(ended == "signal 9\n")
        let bad = await #expect(throws: NinePError.self) { try await client.write(ctl, data: Array("explode\n".utf8)) }
        #expect(bad?.errno == .invalidArgument)
    }

    /// Context switches of every thread of `pid` so far.
    static func contextSwitches(of pid: pid_t) -> Int {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return 0 }
        var total = 0
        for task in tasks {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { continue }
            for line in status.split(separator: "\n") where line.contains("ctxt_switches:") {
                total += Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return total
    }

    /// A job that prints nothing for a long time, with its stdout, stderr and wait all being
    /// read (as cluster-launch reads them), costs its node no wake-ups; a flush still ends
    /// each read at once.
    @Test func blockedReadsSleepUntilFlushed() async throws {
        let server = try ProcsrvProcess(["--stdio", "--", "sleep", "600"])
        defer { server.kill() }
        let client = try server.connect()
        let job = try await client.attach(uname: "root", aname: "job")
        var tags: [UInt16] = []
        let finished = Mutex(0)
        for name in ["stdout", "stderr", "wait"] {
            let fid = try await client.walk(job, [name])
            try await client.open(fid)
            let tag = client.send(.tread(Tread(fid: fid.number, offset: 0, count: 100))) { _ in finished.withLock { $0 += 1 } }
            tags.append(try #require(tag))
        }
        // Let the three reads reach their waits, then count the server's wake-ups for a second.
        _ = try await client.readFile(job, path: ["info"])
        let before = Self.contextSwitches(of: server.pid)
        try await Task.sleep(for: .seconds(1))
        let during = Self.contextSwitches(of: server.pid) - before
        #expect(during < 10, "procsrv woke \(during) times in a second with only blocked reads pending")
        #expect(finished.withLock { $0 } == 0)
        for tag in tags { client.abandon(tag, because: NinePError(.cancelled, errno: .interrupted, "test")) }
        // Each flush is answered once its read has ended; the connection then still answers.
        let info = try await client.readFile(job, path: ["info"], deadline: .now + .seconds(5))
        #expect(String(decoding: info, as: UTF8.self).contains("command=sleep 600"))
    }

    /// procsrv parses its own options: mistakes are one clear line and exit status 64.
    @Test(arguments: [
        (["--bogus"], "unknown option '--bogus'"),
        (["--stdio", "stray"], "unexpected argument 'stray'"),
        (["--listen"], "missing value for '--listen'"),
        (["--stdio", "--verbose=yes"], "'--verbose' takes no value"),
        (["--stdio", "--chdir", "/", "--", "true"], "unknown option '--chdir'"),
        (["--listen", "unix:/tmp/x", "--", "true"], "a job (-- COMMAND) needs --stdio"),
        ([], "give exactly one of --stdio and --listen"),
    ] as [([String], String)])
    func badOptionsAreUsageErrors(arguments: [String], message: String) throws {
        let server = try ProcsrvProcess(arguments)
        defer { server.kill() }
        let status = try #require(server.waitForExit(), "procsrv \(arguments) did not exit")
        #expect((status >> 8) & 0xff == 64, "procsrv \(arguments) exited \(status)")
        #expect(server.errors.contains("procsrv: error: \(message)"), "\(server.errors)")
    }

    @Test func inlineOptionValuesWork() throws {
        let server = try ProcsrvProcess(["--listen=tcp:127.0.0.1:0", "--no-auth"])
        defer { server.kill() }
        let listening = server.waitForErrors { $0.contains("procsrv: listening on tcp:127.0.0.1:") ? true : nil }
        #expect(listening == true, "procsrv said: \(server.errors)")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to run procsrv as another user"))
    func anotherUsersFilesAreRefusedAsTheKernelRefusesThem() async throws {
        if try runToCompletion(["id", "-u", "cpuser"]).status != 0 {
            try #require(try runToCompletion(["useradd", "-m", "cpuser"]).status == 0)
            try #require(try runToCompletion(["usermod", "-p", "*", "cpuser"]).status == 0)
        }
        let uid = try #require(UInt32(try runToCompletion(["id", "-u", "cpuser"]).output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let gid = try #require(UInt32(try runToCompletion(["id", "-g", "cpuser"]).output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let directory = NSTemporaryDirectory() + "procsrv-user-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(chown(directory, uid, gid) == 0)
        chmod(directory, 0o700)
        let socket = "\(directory)/procsrv.sock"
        let server = try ProcsrvProcess(["--listen", "unix:\(socket)"], user: "cpuser")
        defer { server.kill() }
        let listening = server.waitForErrors { $0.contains("listening on") ? true : nil }
        #expect(listening == true, "procsrv said: \(server.errors)")
        var info = stat()
        #expect(lstat(socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(info.st_uid == uid)
        let client = try NinePClient.connect(over: try NinePAddress.unix(path: socket).connect())
        defer { client.close() }
        let root = try await client.attach(uname: "cpuser")
        let denied = await #expect(throws: NinePError.self) { try await client.readFile(root, path: ["1", "environ"]) }
        #expect(denied?.errno == .permissionDenied)
        // Its own files it reads as the kernel lets it.
        let selfLink = try await client.walk(root, ["self"])
        let serverPID = try #require(Int32(try await client.readlink(selfLink)))
        let own = String(decoding: try await client.readFile(root, path: ["\(serverPID)", "status"]), as: UTF8.self)
        #expect(own.contains("Uid:\t\(uid)\t"))
        #expect(own.contains("Name:\tprocsrv"))
    }

    @Test(.enabled(if: access("/usr/sbin/diodls", X_OK) == 0, "needs diod's clients (Debian package diod)"))
    func diodClientsListAndReadThroughProcsrv() async throws {
        let server = try ProcsrvProcess(["--listen", "tcp:127.0.0.1:0", "--no-auth"])
        defer { server.kill() }
        let address = try #require(server.waitForErrors { text in
            text.split(separator: "\n").first { $0.hasPrefix("procsrv: listening on tcp:") }.map { String($0.dropFirst("procsrv: listening on tcp:".count)) }
        }, "procsrv said: \(server.errors)")
        #expect(address.hasPrefix("127.0.0.1:"))
        let root = try runToCompletion(["diodls", "-s", address, "-a", "/proc", "/"])
        #expect(root.status == 0, "\(root.errors)")
        let names = Set(root.output.split(separator: "\n").map(String.init))
        #expect(names.isSuperset(of: ["self", "version", "\(getpid())", "\(server.pid)"]))
        let pidDirectory = try runToCompletion(["diodls", "-s", address, "-a", "/proc", "/\(getpid())"])
        #expect(pidDirectory.status == 0, "\(pidDirectory.errors)")
        #expect(Set(pidDirectory.output.split(separator: "\n").map(String.init)).isSuperset(of: ["status", "stat", "exe", "cwd", "fd"]))
        let status = try runToCompletion(["diodcat", "-s", address, "-a", "/proc", "/\(getpid())/status"])
        #expect(status.status == 0, "\(status.errors)")
        let local = try String(contentsOfFile: "/proc/\(getpid())/status", encoding: .utf8)
        for field in ["Name:", "Pid:", "PPid:", "Uid:"] {
            let remoteLine = status.output.split(separator: "\n").first { $0.hasPrefix(field) }
            #expect(remoteLine != nil)
            #expect(remoteLine == local.split(separator: "\n").first { $0.hasPrefix(field) })
        }
        // An escape through a symlink fails for diod's client too.
        let escape = try runToCompletion(["diodcat", "-s", address, "-a", "/proc", "/1/root/etc/passwd"])
        #expect(escape.status != 0)
        #expect(!escape.output.contains("root:"))
    }

    @Test func nonLoopbackTCPIsRefusedForWantOfAuthentication() throws {
        let server = try ProcsrvProcess(["--listen", "tcp:0.0.0.0:0"])
        defer { server.kill() }
        let status = server.waitForExit()
        #expect(status.map { ($0 >> 8) & 0xff } == 64)
        #expect(server.errors.contains("authentication"))
    }
}
