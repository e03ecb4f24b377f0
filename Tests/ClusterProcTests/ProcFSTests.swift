import ClusterProcNode
import Foundation
import Glibc
import NineP
import SystemPackage
import TestSupport
import Testing

/// ProcFS through our client over a socket pair: the real /proc of this PID namespace.
@Suite struct ProcFSTests {
    func connect(_ dialect: Dialect = .linux, msize: UInt32 = 65536) throws -> (NinePClient, ServerConnection<ProcFS>) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw Errno(rawValue: errno) }
        let a = try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[0]))
        let b = try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[1]))
        let server = try ServerConnection.serve(try ProcFS(), over: a)
        let client = try NinePClient.connect(over: b, msize: msize, dialect: dialect)
        return (client, server)
    }

    func startSleeper() throws -> Sleeper { try Sleeper() }

    func localText(_ path: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    }

    static func field(_ name: String, in status: String) -> String? {
        status.split(separator: "\n").first { $0.hasPrefix("\(name):") }.map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
    }

    @Test(arguments: Dialect.allCases)
    func rootListsOurProcessAndSelf(dialect: Dialect) async throws {
        let (client, server) = try connect(dialect)
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        #expect(root.qid.type.contains(.directory))
        let dir = try await client.walk(root, [])
        try await client.open(dir)
        let entries = try await client.readDirectory(dir)
        let byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let own = try #require(byName["\(getpid())"])
        #expect(own.type == DirectoryEntry.typeDirectory)
        #expect(own.qid.type.contains(.directory))
        let local = Set(try FileManager.default.contentsOfDirectory(atPath: "/proc"))
        #expect(local.isSuperset(of: ["self", "version", "1"]))
        #expect(byName["version"]?.type == DirectoryEntry.typeRegular)
        if dialect != .plain {
            #expect(byName["self"]?.type == DirectoryEntry.typeSymlink)
        }
        #expect(byName["self"] != nil)
        #expect(byName["1"] != nil)
        // Names that do not change meanwhile are the same as the local listing's.
        let stable = local.filter { Int($0) == nil }
        #expect(Set(byName.keys).isSuperset(of: stable))
    }

    @Test(arguments: Dialect.allCases)
    func statusReadsAsLocally(dialect: Dialect) async throws {
        let sleeper = try startSleeper()
        defer { sleeper.stop() }
        let (client, server) = try connect(dialect)
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let pid = sleeper.processIdentifier
        let remote = String(decoding: try await client.readFile(root, path: ["\(pid)", "status"]), as: UTF8.self)
        let local = try localText("/proc/\(pid)/status")
        for name in ["Name", "Pid", "PPid", "Uid", "Gid"] {
            let value = Self.field(name, in: remote)
            #expect(value != nil, "\(name) missing")
            #expect(value == Self.field(name, in: local), "\(name)")
        }
        #expect(Self.field("Pid", in: remote) == "\(pid)")
        #expect(Self.field("Name", in: remote) == "sleep")
        // Size 0, as /proc says, in getattr and stat alike.
        let fid = try await client.walk(root, ["\(pid)", "status"])
        if dialect == .linux {
            let attributes = try await client.getattr(fid)
            #expect(attributes.size == 0)
            #expect(attributes.mode & LinuxMode.typeMask == LinuxMode.regular)
            #expect(fid.qid.version == 0 && fid.qid.type == .file)
        } else {
            #expect(try await client.stat(fid).length == 0)
        }
        try await client.clunk(fid)
    }

    @Test func largeFilesReadWholeWithASmallMsize() async throws {
        let sleeper = try startSleeper()
        defer { sleeper.stop() }
        let (client, server) = try connect(.linux, msize: 4096)
        defer { client.close(); server.close() }
        #expect(client.msize == 4096)
        let root = try await client.attach(uname: "root")
        let maps = try await client.readFile(root, path: ["\(sleeper.processIdentifier)", "maps"])
        #expect(String(decoding: maps, as: UTF8.self) == (try localText("/proc/\(sleeper.processIdentifier)/maps")))
        #expect(maps.count > 0)
        if let local = try? Data(contentsOf: URL(fileURLWithPath: "/proc/kallsyms")), local.count > 4096 {
            let remote = try await client.readFile(root, path: ["kallsyms"])
            #expect(remote.count == local.count)
            #expect(remote == Array(local))
        }
    }

    @Test func readsOfAnySizeAndOffsetAreSlicesOfOneSnapshot() async throws {
        let (client, server) = try connect()
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let fid = try await client.walk(root, ["self", ])
        try await client.clunk(fid)
        let status = try await client.walk(root, ["\(getpid())", "status"])
        try await client.open(status)
        let whole = try await client.readAll(status)
        #expect(whole.count > 100)
        var pieces: [UInt8] = []
        var offset: UInt64 = 0
        var size = 1
        while true {
            let piece = try await client.read(status, offset: offset, count: size)
            if piece.isEmpty { break }
            #expect(piece.count <= size)
            pieces += piece
            offset += UInt64(piece.count)
            size = size % 97 + 13
        }
        // The same snapshot however it is sliced, even though fields such as VmRSS move.
        #expect(pieces == whole)
        #expect(try await client.read(status, offset: 5, count: 10) == Array(whole[5..<15]))
        try await client.clunk(status)
    }

    @Test(arguments: [Dialect.linux, .unix])
    func symlinksComeBackAsSymlinks(dialect: Dialect) async throws {
        let sleeper = try startSleeper()
        defer { sleeper.stop() }
        let (client, server) = try connect(dialect)
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let exe = try await client.walk(root, ["\(sleeper.processIdentifier)", "exe"])
        #expect(exe.qid.type.contains(.symlink))
        let target = try await client.readlink(exe)
        let local = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(sleeper.processIdentifier)/exe")
        #expect(target == local)
        #expect(target.hasSuffix("/sleep"))
        let me = try await client.walk(root, ["self"])
        #expect(try await client.readlink(me) == "\(getpid())")
        if dialect == .linux {
            let attributes = try await client.getattr(me)
            #expect(attributes.mode & LinuxMode.typeMask == LinuxMode.symlink)
        } else {
            #expect(try await client.stat(me).mode & DirMode.symlink != 0)
        }
        // Opening a symlink never reads what it points to.
        let refused = await #expect(throws: NinePError.self) { try await client.open(me) }
        #expect(refused?.errno == .tooManySymbolicLinkLevels)
    }

    @Test(arguments: [
        ["1", "root", "etc", "passwd"], ["self", "cwd", ".."], ["self", "status"], ["1", "root"],
        ["1", "cwd", "."], ["1", "exe", ".."], ["thread-self", "status"], ["version", "x"], ["version", ".."],
    ])
    func walksNeverLeaveProc(path: [String]) async throws {
        let (client, server) = try connect()
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        if path.last == "root" {
            // Walking to the link itself is allowed; it is a symlink, not the directory.
            let link = try await client.walk(root, path)
            #expect(link.qid.type.contains(.symlink))
            let refused = await #expect(throws: NinePError.self) { try await client.walk(link, ["etc"]) }
            #expect(refused?.errno == .tooManySymbolicLinkLevels)
            return
        }
        let error = await #expect(throws: NinePError.self) { try await client.walk(root, path) }
        let expected: Set<Errno> = [.tooManySymbolicLinkLevels, .notDirectory, .noSuchFileOrDirectory]
        #expect(error.map { expected.contains($0.errno) } == true, "\(String(describing: error))")
        // The connection keeps serving.
        #expect(try await client.readFile(root, path: ["version"]).count > 0)
    }

    @Test func dotDotIsLexicalAndStopsAtTheRoot() async throws {
        let (client, server) = try connect()
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let up = try await client.walk(root, ["..", "..", ".."])
        #expect(up.qid == root.qid)
        let pid = "\(getpid())"
        let task = try await client.walk(root, [pid, "task", "..", "..", pid])
        let direct = try await client.walk(root, [pid])
        #expect(task.qid == direct.qid)
        let sys = try await client.walk(root, ["sys", "kernel", "..", "..", "..", "version"])
        #expect(sys.qid.type == .file)
    }

    @Test(arguments: [Dialect.linux, .unix])
    func nothingCanBeChanged(dialect: Dialect) async throws {
        let (client, server) = try connect(dialect)
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let hostnameBefore = try localText("/proc/sys/kernel/hostname")
        let hostname = try await client.walk(root, ["sys", "kernel", "hostname"])
        let openFlags = dialect == .linux ? [LinuxOpenFlags.writeOnly, LinuxOpenFlags.readWrite, LinuxOpenFlags.readOnly | LinuxOpenFlags.truncate] : [LinuxOpenFlags.writeOnly, LinuxOpenFlags.readWrite]
        for flags in openFlags {
            let refused = await #expect(throws: NinePError.self) { try await client.open(hostname, flags: flags) }
            #expect(refused?.errno == .readOnlyFileSystem, "flags \(flags)")
        }
        let status = try await client.walk(root, ["\(getpid())", "status"])
        let refused = await #expect(throws: NinePError.self) { try await client.open(status, flags: LinuxOpenFlags.writeOnly) }
        #expect(refused?.errno == .readOnlyFileSystem)

        let dir = try await client.walk(root, ["\(getpid())"])
        var attempts: [(String, Message)] = []
        if dialect == .linux {
            attempts = [
                ("lcreate", .tlcreate(Tlcreate(fid: try await client.walk(root, []).number, name: "new", flags: 0o101, mode: 0o644, gid: 0))),
                ("mkdir", .tmkdir(Tmkdir(dfid: dir.number, name: "d", mode: 0o755, gid: 0))),
                ("symlink", .tsymlink(Tsymlink(fid: dir.number, name: "l", target: "/etc", gid: 0))),
                ("mknod", .tmknod(Tmknod(dfid: dir.number, name: "n", mode: 0o10644, major: 0, minor: 0, gid: 0))),
                ("unlinkat", .tunlinkat(Tunlinkat(dirFid: dir.number, name: "status", flags: 0))),
                ("renameat", .trenameat(Trenameat(oldDirFid: dir.number, oldname: "status", newDirFid: dir.number, newname: "x"))),
                ("rename", .trename(Trename(fid: status.number, dfid: dir.number, name: "x"))),
                ("link", .tlink(Tlink(dfid: dir.number, fid: status.number, name: "x"))),
                ("setattr", .tsetattr(Tsetattr(fid: hostname.number, valid: 0x8, mode: 0, uid: 0, gid: 0, size: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0))),
            ]
        } else {
            var stat = try await client.stat(hostname)
            stat.length = 0
            attempts = [
                ("create", .tcreate(Tcreate(fid: try await client.walk(root, []).number, name: "new", perm: 0o644, mode: OpenMode.write, ext: ""))),
                ("wstat", .twstat(Twstat(fid: hostname.number, stat: stat))),
                ("open OTRUNC", .topen(Topen(fid: try await client.walk(root, ["sys", "kernel", "hostname"]).number, mode: OpenMode.read | OpenMode.truncate))),
                ("remove", .tremove(Tremove(fid: try await client.walk(root, ["\(getpid())", "comm"]).number))),
            ]
        }
        for (name, message) in attempts {
            let error = await #expect(throws: NinePError.self, "\(name)") { try await client.call(message) }
            #expect(error?.errno == .readOnlyFileSystem, "\(name)")
        }
        if dialect == .linux {
            // Extended attributes cannot be created either (the engine has none to offer).
            await #expect(throws: NinePError.self) {
                try await client.call(.txattrcreate(Txattrcreate(fid: status.number, name: "user.x", attrSize: 1, flags: 0)))
            }
        }
        #expect(try localText("/proc/sys/kernel/hostname") == hostnameBefore)
        #expect(FileManager.default.fileExists(atPath: "/proc/\(getpid())/status"))
    }

    @Test func aProcessThatVanishesGivesACleanError() async throws {
        let sleeper = try startSleeper()
        let pid = sleeper.processIdentifier
        let (client, server) = try connect()
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let status = try await client.walk(root, ["\(pid)", "status"])
        let directory = try await client.walk(root, ["\(pid)"])
        sleeper.stop()
        #expect(await eventually(within: .seconds(5)) { access("/proc/\(pid)", F_OK) != 0 })
        let error = await #expect(throws: NinePError.self) { try await client.open(status) }
        #expect(error.map { [.noSuchFileOrDirectory, .noSuchProcess].contains($0.errno) } == true, "\(String(describing: error))")
        await #expect(throws: NinePError.self) { try await client.walk(directory, ["status"]) }
        // The server keeps serving.
        let own = String(decoding: try await client.readFile(root, path: ["\(getpid())", "status"]), as: UTF8.self)
        #expect(Self.field("Pid", in: own) == "\(getpid())")
    }

    @Test func unknownTreesAreRefusedAndNoJobTreeWithoutAJob() async throws {
        let (client, server) = try connect()
        defer { client.close(); server.close() }
        _ = try await client.attach(uname: "root", aname: "/proc")
        let job = await #expect(throws: NinePError.self) { try await client.attach(uname: "root", aname: "job") }
        #expect(job?.errno == .noSuchFileOrDirectory)
        await #expect(throws: NinePError.self) { try await client.attach(uname: "root", aname: "/etc") }
    }
}

/// A `sleep` of our own, started with posix_spawn and ended with SIGKILL and waitpid.
final class Sleeper: Sendable {
    let processIdentifier: pid_t

    init() throws {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup("600"), nil]
        defer { argv.forEach { free($0) } }
        let result = argv.withUnsafeBufferPointer { posix_spawn(&pid, "/bin/sleep", nil, nil, $0.baseAddress!, environ) }
        guard result == 0 else { throw Errno(rawValue: result) }
        processIdentifier = pid
        // Wait until it runs sleep rather than our own image.
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8), comm == "sleep\n" { break }
            usleep(1000)
        }
    }

    func stop() {
        kill(processIdentifier, SIGKILL)
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) < 0 && errno == EINTR {}
    }
}
