import Glibc
import NineP
import SystemPackage
import Testing
@testable import ClusterProcNode

/// The job tree through our client over a socket pair: a job arrives as a spec, starts on
/// `start`, and an interrupt before that means it never starts.
@Suite struct JobControlTreeTests {
    final class Connection {
        let client: NinePClient
        let server: ServerConnection<ProcFS>
        let tree: JobControlTree
        let job: RemoteFid

        init() async throws {
            var fds: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw Errno(rawValue: errno) }
            tree = JobControlTree(environment: [Array("PATH=/usr/local/bin:/usr/bin:/bin".utf8)], logger: jobTestLogger)
            server = try ServerConnection.serve(
                try ProcFS(jobTree: tree), over: try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[0])))
            client = try NinePClient.connect(over: try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[1])))
            job = try await client.attach(uname: "root", aname: "job")
        }

        deinit {
            tree.job?.killFamily()
            client.close()
            server.close()
        }

        func open(_ name: String, _ flags: UInt32) async throws -> RemoteFid {
            let fid = try await client.walk(job, [name])
            try await client.open(fid, flags: flags)
            return fid
        }

        func writeSpec(_ bytes: [UInt8]) async throws {
            let spec = try await open("spec", LinuxOpenFlags.writeOnly)
            _ = try await client.write(spec, data: bytes)
            try await client.clunk(spec)
        }

        func control(_ ctl: RemoteFid, _ command: String) async throws {
            _ = try await client.write(ctl, data: Array("\(command)\n".utf8))
        }

        func text(_ name: String) async throws -> String {
            String(decoding: try await client.readFile(job, path: [name], deadline: jobTestDeadline()), as: UTF8.self)
        }
    }

    static func words(_ words: String...) -> [[UInt8]] { words.map { Array($0.utf8) } }

    @Test func aSpecStartsTheJobWithItsBytesExact() async throws {
        let connection = try await Connection()
        let argv = Self.words("sh", "-c", "printf '%s\\0' \"$PWD\" \"$VALUE\" \"$@\"", "sh") + [Array(1...255), [], [0xff, 0xfe]]
        let directory = Array("/tmp".utf8)
        let value = Array("a'b\n".utf8) + [0xff]
        try await connection.writeSpec(try JobSpec(argv: argv, environment: [Array("VALUE=".utf8) + value], workingDirectory: directory).encoded())
        let ctl = try await connection.open("ctl", LinuxOpenFlags.readWrite)
        try await connection.control(ctl, "start")
        let stdout = try await connection.open("stdout", LinuxOpenFlags.readOnly)
        let output = try await connection.client.readAll(stdout, deadline: jobTestDeadline())
        let same = output == (directory + [0] + value + [0] + Array(1...255) + [0, 0, 0xff, 0xfe, 0])
        #expect(same, "\(output)")
        #expect(try await connection.text("wait") == "exit 0\n")
        let info = try await connection.text("info")
        #expect(info.contains("command=sh -c printf"), "\(info)")
        #expect(info.contains("\\x01\\x02"), "control bytes are escaped in info: \(info)")
        #expect(info.split(separator: "\n").count == 4, "no word adds a line of its own: \(info)")
        let again = await #expect(throws: NinePError.self) { try await connection.control(ctl, "start") }
        #expect(again?.errno == .invalidArgument)
    }

    @Test func anInterruptBeforeStartMeansTheJobNeverStarts() async throws {
        let connection = try await Connection()
        let marker = "/tmp/cluster-proc-never-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try await connection.writeSpec(try JobSpec(argv: Self.words("touch", marker)).encoded())
        let ctl = try await connection.open("ctl", LinuxOpenFlags.readWrite)
        try await connection.control(ctl, "interrupt")
        let refused = await #expect(throws: NinePError.self) { try await connection.control(ctl, "start") }
        #expect(refused?.errno == .canceled)
        let reason = String(decoding: try await connection.client.read(ctl, offset: 0, count: 4096), as: UTF8.self)
        #expect(reason.contains("before it started"), "\(reason)")
        #expect(try await connection.text("wait") == "signal 2\n")
        #expect(try await connection.text("stdout") == "")
        #expect(try await connection.text("pids") == "")
        #expect(access(marker, F_OK) != 0, "the job never ran")
        #expect(connection.tree.job == nil)
    }

    @Test func aKillBeforeStartReportsSIGKILL() async throws {
        let connection = try await Connection()
        let ctl = try await connection.open("ctl", LinuxOpenFlags.writeOnly)
        try await connection.control(ctl, "kill")
        #expect(try await connection.text("wait") == "signal 9\n")
    }

    @Test func beforeStartTheStreamsAreNotThereYet() async throws {
        let connection = try await Connection()
        for name in ["stdout", "stderr", "wait", "stdin"] {
            let error = await #expect(throws: NinePError.self) {
                _ = try await connection.open(name, name == "stdin" ? LinuxOpenFlags.writeOnly : LinuxOpenFlags.readOnly)
            }
            #expect(error?.errno == .resourceTemporarilyUnavailable, "\(name)")
        }
        #expect(try await connection.text("info").hasPrefix("host="))
    }

    @Test func aBadSpecIsNamedAndAGoodOneMayFollow() async throws {
        let connection = try await Connection()
        try await connection.writeSpec(Array("not a spec".utf8))
        let ctl = try await connection.open("ctl", LinuxOpenFlags.readWrite)
        let bad = await #expect(throws: NinePError.self) { try await connection.control(ctl, "start") }
        #expect(bad?.errno == .invalidArgument)
        let reason = String(decoding: try await connection.client.read(ctl, offset: 0, count: 4096), as: UTF8.self)
        #expect(reason.hasPrefix("job spec: does not start with"), "\(reason)")

        try await connection.writeSpec(try JobSpec(argv: Self.words("no-such-program-here")).encoded())
        let missing = await #expect(throws: NinePError.self) { try await connection.control(ctl, "start") }
        #expect(missing?.errno == .noSuchFileOrDirectory)
        let named = String(decoding: try await connection.client.read(ctl, offset: 0, count: 4096), as: UTF8.self)
        #expect(named == "no-such-program-here: command not found\n")

        try await connection.writeSpec(try JobSpec(argv: Self.words("true")).encoded())
        try await connection.control(ctl, "start")
        #expect(try await connection.text("wait") == "exit 0\n")
        #expect(try await connection.client.read(ctl, offset: 0, count: 4096).isEmpty, "a command that worked clears the error")
        let late = await #expect(throws: NinePError.self) { try await connection.writeSpec(try JobSpec(argv: Self.words("true")).encoded()) }
        #expect(late?.errno == .invalidArgument)
    }

    @Test func theSpecIsWrittenInOrderAndBounded() async throws {
        let connection = try await Connection()
        let spec = try await connection.open("spec", LinuxOpenFlags.writeOnly)
        _ = try await connection.client.write(spec, offset: 0, data: [1, 2, 3])
        let gap = await #expect(throws: NinePError.self) { _ = try await connection.client.write(spec, offset: 10, data: [4]) }
        #expect(gap?.errno == .invalidArgument)
        let chunk = [UInt8](repeating: 0x61, count: 60_000)
        var offset: UInt64 = 0
        var refused: NinePError?
        while offset <= UInt64(JobSpec.maximumSize) {
            do {
                offset += UInt64(try await connection.client.write(spec, offset: offset, data: chunk))
            } catch {
                refused = error
                break
            }
        }
        #expect(refused?.errno == .fileTooLarge)
        #expect(offset <= UInt64(JobSpec.maximumSize))
    }

    @Test func withoutInputTheJobReadsEndOfFile() async throws {
        let connection = try await Connection()
        try await connection.writeSpec(try JobSpec(argv: Self.words("cat"), readsInput: false).encoded())
        let ctl = try await connection.open("ctl", LinuxOpenFlags.writeOnly)
        try await connection.control(ctl, "start")
        #expect(try await connection.text("wait") == "exit 0\n")
    }

    /// `kill` does not wait for a family that ignores SIGTERM: once the write is answered,
    /// nothing of it is left, the double-forked orphan included.
    @Test func killLeavesNothingOfAStubbornFamily() async throws {
        let tool = try jobTestToolPath()
        let connection = try await Connection()
        try Job.becomeSubreaper()
        try await connection.writeSpec(try JobSpec(argv: Self.words("sh", "-c", "trap '' TERM INT; '\(tool)' orphan; '\(tool)' ignore-term")).encoded())
        let ctl = try await connection.open("ctl", LinuxOpenFlags.writeOnly)
        try await connection.control(ctl, "start")
        let stdout = try await connection.open("stdout", LinuxOpenFlags.readOnly)
        var ready = ""
        while ready.split(separator: "\n").count < 2 {
            let chunk = try await connection.client.read(stdout, offset: 0, count: 4096, deadline: jobTestDeadline())
            if chunk.isEmpty { break }
            ready += String(decoding: chunk, as: UTF8.self)
        }
        let job = try #require(connection.tree.job)
        let members = job.familyMembers()
        #expect(members.count >= 3, "sh, the orphan and ignore-term: \(members)")
        try await connection.control(ctl, "kill")
        #expect(members.filter(\.exists).isEmpty, "left: \(members.filter(\.exists))")
        #expect(try await connection.text("wait") == "signal 9\n")
    }
}
