import Foundation
import NineP
import SystemPackage
import Testing

/// Interoperation with diod, a 9P2000.L server and clients written by others: our client
/// against diod, and diod's clients `diodls` and `diodcat` against our server.
@Suite(.serialized, .enabled(if: DiodPeer.isInstalled, "needs diod, diodls and diodcat (Debian package diod)"))
struct InteropDiodTests {
    // MARK: - Our client against diod

    @Test func clientReadsATreeServedByDiod() async throws {
        let export = try ExportDirectory()
        defer { export.remove() }
        let diod = try DiodPeer(exporting: export.path)
        defer {
            let log = diod.stop()
            if log.contains("error") || log.contains("failed") { print("diod said: \(log)") }
        }
        let client = try NinePClient.connect(over: try diod.address.connect(), msize: 8192)
        defer { client.close() }
        #expect(client.dialect == .linux)
        #expect(client.msize <= 8192)

        let root = try await client.attach(uname: "root", aname: export.path, numericUser: 0)
        #expect(root.qid.type.contains(.directory))

        // Listing: diod also returns "." and ".." (as readdir(3) does); the rest must match.
        let dir = try await client.walk(root, [])
        try await client.open(dir)
        let entries = try await client.readDirectory(dir)
        try await client.clunk(dir)
        let names = Set(entries.map(\.name)).subtracting([".", ".."])
        #expect(names == Set(export.names))
        #expect(entries.first { $0.name == "sub" }?.type == DirectoryEntry.typeDirectory)
        #expect(entries.first { $0.name == "link" }?.type == DirectoryEntry.typeSymlink)

        // Files, one of them many times bigger than msize.
        #expect(try await client.readFile(root, path: ["hello"]) == export.hello)
        let big = try await client.readFile(root, path: ["big"])
        #expect(big.count == export.big.count)
        let sameBig = big == export.big  // a Bool: a failed == of 100 kB would be diffed for minutes
        #expect(sameBig)
        #expect(try await client.readFile(root, path: ["sub", "inner"]) == export.inner)

        // Attributes as lstat(2) gives them.
        for name in ["hello", "big", "sub", "link", "private"] {
            let fid = try await client.walk(root, [name])
            let attributes = try await client.getattr(fid)
            try await client.clunk(fid)
            let local = try export.lstat(name)
            #expect(attributes.mode == local.mode, "mode of \(name)")
            #expect(attributes.size == local.size, "size of \(name)")
            #expect(attributes.qid.type.contains(.directory) == (name == "sub"))
        }

        let link = try await client.walk(root, ["link"])
        #expect(link.qid.type.contains(.symlink))
        #expect(try await client.readlink(link) == "hello")
        try await client.clunk(link)

        let missing = await #expect(throws: NinePError.self) { try await client.walk(root, ["missing"]) }
        #expect(missing?.errno == .noSuchFileOrDirectory)
        let inside = await #expect(throws: NinePError.self) { try await client.walk(root, ["sub", "missing"]) }
        #expect(inside?.errno == .noSuchFileOrDirectory)
        try await client.clunk(root)
    }

    // MARK: - diod's clients against our server

    static let tree: [String: MemoryFileSystem.Entry] = [
        "hello": .file(Array("hello, world\n".utf8)),
        "big": .file((0..<300_000).map { UInt8(ascii: "a") + UInt8($0 % 26) }),
        "dir": .directory(["a": .file([0x31, 0x0a])]),
        "link": .symlink("hello"),
    ]

    @Test func diodlsListsOurServer() async throws {
        let (listener, address) = try Self.serveMemoryTree()
        defer { listener.shutdown() }
        let listing = try await PeerProcess.run(DiodPeer.diodls, ["-t", "10", "-s", address, "-a", "/"])
        #expect(listing.status == 0, "diodls: \(listing.stderr)")
        let names = listing.stdout.split(separator: "\n").map(String.init)
        #expect(Set(names).subtracting([".", ".."]) == Set(Self.tree.keys), "diodls printed \(names)")

        let long = try await PeerProcess.run(DiodPeer.diodls, ["-l", "-t", "10", "-s", address, "-a", "/"])
        #expect(long.status == 0, "diodls -l: \(long.stderr)")
        let bigLine = long.stdout.split(separator: "\n").first { $0.hasSuffix(" big") }
        #expect(bigLine?.contains(" 300000 ") == true, "diodls -l printed \(long.stdout)")
        #expect(bigLine?.hasPrefix("-rw-r--r--") == true)
        let dirLine = long.stdout.split(separator: "\n").first { $0.hasSuffix(" dir") }
        #expect(dirLine?.hasPrefix("d") == true)
    }

    @Test func diodcatReadsOurServer() async throws {
        let (listener, address) = try Self.serveMemoryTree()
        defer { listener.shutdown() }
        let hello = try await PeerProcess.run(DiodPeer.diodcat, ["-t", "10", "-s", address, "-a", "/", "hello"])
        #expect(hello.status == 0, "diodcat: \(hello.stderr)")
        #expect(hello.stdout == "hello, world\n")
        // Many times the msize diodcat asks for (65536).
        let big = try await PeerProcess.run(DiodPeer.diodcat, ["-t", "10", "-s", address, "-a", "/", "big"])
        #expect(big.status == 0, "diodcat: \(big.stderr)")
        guard case .file(let expected) = Self.tree["big"] else { return }
        #expect(big.stdout.utf8.count == expected.count)
        let sameBig = big.stdout.utf8.elementsEqual(expected)  // a Bool: a failed == of 300 kB would be diffed for minutes
        #expect(sameBig)
        let missing = try await PeerProcess.run(DiodPeer.diodcat, ["-t", "10", "-s", address, "-a", "/", "missing"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("No such file"), "diodcat: \(missing.stderr)")
    }

    static func serveMemoryTree() throws -> (NinePListener, String) {
        let listener = try NinePListener(.tcp(host: "127.0.0.1", port: 0))
        try listener.serve(MemoryFileSystem(tree))
        guard case .tcp(let host, let port) = listener.address else { throw NinePError(.invalidArgument, "not TCP") }
        return (listener, "\(host):\(port)")
    }
}

/// A diod server on a loopback port, exporting one directory, stopped by its PID.
final class DiodPeer: Sendable {
    static let diod = "/usr/sbin/diod"
    static let diodls = "/usr/sbin/diodls"
    static let diodcat = "/usr/sbin/diodcat"
    static var isInstalled: Bool {
        [diod, diodls, diodcat].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let process: PeerProcess
    let address: NinePAddress

    /// Starts diod in the foreground without authentication or a user database, and waits
    /// until it accepts connections (polling connect with a deadline). A port taken
    /// between choosing and binding it is retried with another.
    init(exporting path: String) throws {
        var lastError = ""
        for _ in 0..<3 {
            let port = try freeLoopbackPort()
            let process = try PeerProcess(Self.diod, ["-f", "-n", "-N", "-c", "/dev/null", "-L", "stderr", "-l", "127.0.0.1:\(port)", "-e", path])
            let address = NinePAddress.tcp(host: "127.0.0.1", port: port)
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline, !process.hasExited {
                if let probe = try? address.connect() {
                    probe.close()
                    self.process = process
                    self.address = address
                    return
                }
                var pause = timespec(tv_sec: 0, tv_nsec: 5_000_000)
                nanosleep(&pause, nil)
            }
            lastError = process.stop()?.stderr ?? "diod did not start"
        }
        throw NinePError(.ioError, "diod did not listen: \(lastError)")
    }

    /// Stops diod by its PID; returns what it logged.
    @discardableResult
    func stop() -> String {
        process.stop()?.stderr ?? ""
    }
}

/// A temporary directory filled with a small tree: files, a subdirectory, a symlink.
struct ExportDirectory {
    let path: String
    let hello = Array("hello from diod\n".utf8)
    let big: [UInt8] = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
    let inner = Array("inner\n".utf8)
    let names = ["hello", "big", "sub", "link", "private"]

    init() throws {
        var template = Array("/tmp/ninep-interop-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw Errno(rawValue: errno)
        }
        path = String(cString: made)
        let files = FileManager.default
        try Data(hello).write(to: URL(fileURLWithPath: path + "/hello"))
        try Data(big).write(to: URL(fileURLWithPath: path + "/big"))
        try files.createDirectory(atPath: path + "/sub", withIntermediateDirectories: false)
        try Data(inner).write(to: URL(fileURLWithPath: path + "/sub/inner"))
        try files.createSymbolicLink(atPath: path + "/link", withDestinationPath: "hello")
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: path + "/private"))
        chmod(path + "/private", 0o640)
        chmod(path, 0o755)
    }

    func lstat(_ name: String) throws -> (mode: UInt32, size: UInt64) {
        var info = stat()
        guard Glibc.lstat(path + "/" + name, &info) == 0 else { throw Errno(rawValue: errno) }
        return (info.st_mode, UInt64(info.st_size))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
