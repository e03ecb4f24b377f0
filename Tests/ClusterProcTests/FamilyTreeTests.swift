import Foundation
import NineP
import SystemPackage
import Testing
@testable import ClusterProc

/// The union as the FUSE overlay sees it, against a real 9P server on a Unix socket.
@Suite struct FamilyTreeTests {
    /// A directory served on a socket of its own; removed with `stop()`.
    struct Served {
        let directory: String
        let socket: String
        let listener: NinePListener

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("familytree-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory + "/export/1", withIntermediateDirectories: true)
            socket = directory + "/union.sock"
            listener = try NinePListener(.unix(path: socket))
            try listener.serve(try DirectoryFileSystem(root: directory + "/export"))
        }

        func write(_ bytes: [UInt8], to name: String) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/export/" + name))
        }

        func stop() {
            listener.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func aFileIsWhatItWasWhenOpened() throws {
        let served = try Served()
        defer { served.stop() }
        try served.write(Array("State: S (sleeping)\n".utf8), to: "1/status")
        let tree = FamilyTree(socket: served.socket, timeout: .seconds(10))
        let handle = try tree.open(["1", "status"])
        defer { tree.release(handle: handle) }
        // The node's files are snapshots taken at open: a change after it is not seen.
        try served.write(Array("State: Z (zombie)\nand more\n".utf8), to: "1/status")
        #expect(try tree.read(handle: handle, offset: 0, count: 4096) == Array("State: S (sleeping)\n".utf8))
        #expect(try tree.read(handle: handle, offset: 7, count: 1) == Array("S".utf8))
        #expect(try tree.read(handle: handle, offset: 20, count: 4096).isEmpty)
    }

    @Test func aFileLongerThanOneReadIsReadOnFromTheUnion() throws {
        let served = try Served()
        defer { served.stop() }
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try served.write(content, to: "big")
        let tree = FamilyTree(socket: served.socket, timeout: .seconds(10))
        let handle = try tree.open(["big"])
        defer { tree.release(handle: handle) }
        var read: [UInt8] = []
        while true {
            let chunk = try tree.read(handle: handle, offset: UInt64(read.count), count: 65536)
            if chunk.isEmpty { break }
            read += chunk
        }
        #expect(read == content)
    }

    @Test func aMissingFileIsENOENTAndLeavesNothingOpen() throws {
        let served = try Served()
        defer { served.stop() }
        try served.write(Array("x\n".utf8), to: "1/stat")
        let tree = FamilyTree(socket: served.socket, timeout: .seconds(10))
        for path in [["1", "nope"], ["2", "status"], ["1", "stat", "deeper"]] {
            let error = #expect(throws: FileError.self) { try tree.open(path) }
            #expect(error == .notFound || error == .notDirectory, "\(path)")
        }
        // The fid numbers of the failed opens are free and reused without a clash.
        for _ in 0..<3 {
            let handle = try tree.open(["1", "stat"])
            #expect(try tree.read(handle: handle, offset: 0, count: 100) == Array("x\n".utf8))
            tree.release(handle: handle)
        }
    }
}
