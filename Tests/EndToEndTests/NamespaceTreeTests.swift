import Foundation
import Glibc
import Testing
@testable import ClusterProc

/// LocalDirectoryTree and ProcOverlay answered directly, without FUSE or namespaces.
@Suite struct NamespaceTreeTests {
    private static func makeFixture() throws -> String {
        var template = Array("/tmp/cluster-proc-tree-XXXXXX".utf8CString)
        let directory = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) })
        let root = String(cString: directory)
        try FileManager.default.createDirectory(atPath: "\(root)/a/sub", withIntermediateDirectories: true)
        try Data("contents of f\n".utf8).write(to: URL(fileURLWithPath: "\(root)/a/f"))
        try FileManager.default.createSymbolicLink(atPath: "\(root)/a/link", withDestinationPath: "../elsewhere")
        #expect(mkfifo("\(root)/a/fifo", 0o600) == 0)
        return root
    }

    @Test func localDirectoryTreeServesFilesLinksAndDirectories() throws {
        let root = try Self.makeFixture()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tree = LocalDirectoryTree(directories: ["h": "\(root)/a"])

        #expect(try tree.readdir([]) == [TreeEntry(name: "h", kind: .directory)])
        let names = try tree.readdir(["h"]).sorted { $0.name < $1.name }
        #expect(names == [
            TreeEntry(name: "f", kind: .regular), TreeEntry(name: "fifo", kind: .regular),
            TreeEntry(name: "link", kind: .symlink), TreeEntry(name: "sub", kind: .directory),
        ])
        let file = try tree.getattr(["h", "f"])
        #expect(file.kind == .regular && file.size == 14 && file.mode & 0o170000 == 0o100000)
        #expect(try tree.getattr(["h", "sub"]).kind == .directory)
        #expect(try tree.getattr(["h", "link"]).kind == .symlink)
        let fifo = try tree.getattr(["h", "fifo"])
        #expect(fifo.kind == .regular && fifo.size == 0)
        #expect(try tree.readlink(["h", "link"]) == "../elsewhere")

        let handle = try tree.open(["h", "f"])
        defer { tree.release(handle: handle) }
        #expect(try tree.read(handle: handle, offset: 0, count: 8) == Array("contents".utf8))
        #expect(try tree.read(handle: handle, offset: 9, count: 100) == Array("of f\n".utf8))
        #expect(try tree.read(handle: handle, offset: 14, count: 100) == [])
    }

    @Test func localDirectoryTreeRefusesEscapesAndUnknownHosts() throws {
        let root = try Self.makeFixture()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tree = LocalDirectoryTree(directories: ["h": "\(root)/a"])
        #expect(throws: FileError.notFound) { try tree.getattr(["h", "..", "a"]) }
        #expect(throws: FileError.notFound) { try tree.getattr(["other", "f"]) }
        #expect(throws: FileError.notFound) { try tree.getattr(["h", "missing"]) }
        #expect(throws: FileError.invalid) { try tree.readlink(["h", "f"]) }
        #expect(throws: FileError.notDirectory) { try tree.readdir(["h", "f"]) }
    }

    @Test func overlayShowsLocalEntriesAsLinksAndSelfPerCaller() throws {
        let root = try Self.makeFixture()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let overlay = try ProcOverlay(
            realProc: "/proc", tree: LocalDirectoryTree(directories: ["nodeA": "\(root)/a"]), hosts: ["nodeA"])
        let pid = getpid()
        let caller = FuseCaller(tid: pid, uid: getuid(), gid: getgid())

        #expect(try overlay.linkTarget(of: ["self"], caller: caller) == "\(pid)")
        #expect(try overlay.linkTarget(of: ["thread-self"], caller: caller) == "\(pid)/task/\(pid)")
        #expect(try overlay.linkTarget(of: ["meminfo"], caller: caller) == "/proc/meminfo")
        #expect(try overlay.linkTarget(of: ["\(pid)"], caller: caller) == "/proc/\(pid)")
        #expect(try overlay.attributes(of: ["\(pid)"], caller: caller).kind == .symlink)
        #expect(try overlay.attributes(of: ["nodeA"], caller: caller).kind == .directory)
        #expect(try overlay.attributes(of: ["nodeA", "f"], caller: caller).size == 14)
        #expect(throws: FileError.notFound) { try overlay.attributes(of: ["no-such-entry"], caller: caller) }

        let entries = try overlay.entries(of: [], caller: caller)
        #expect(entries.contains(TreeEntry(name: "\(pid)", kind: .symlink)))
        #expect(entries.contains(TreeEntry(name: "self", kind: .symlink)))
        #expect(entries.contains(TreeEntry(name: "nodeA", kind: .directory)))
        #expect(try overlay.entries(of: ["nodeA"], caller: caller).contains(TreeEntry(name: "f", kind: .regular)))
    }

    @Test(arguments: ["1234", "self", "meminfo", "", "a/b", ".."])
    func overlayRejectsHostNamesThatClash(host: String) throws {
        let error = try #require(throws: NamespaceError.self) {
            try ProcOverlay(realProc: "/proc", tree: LocalDirectoryTree(directories: [:]), hosts: [host])
        }
        #expect(error.code == .invalidHostName)
    }

    @Test func realProcDirectoryIsPerUser() {
        #expect(PrivateNamespace.realProcDirectory(uid: 4242, environment: [:]) == "/tmp/cluster-proc-4242/realproc")
        // A runtime directory that is not the user's own is not used.
        #expect(
            PrivateNamespace.realProcDirectory(uid: 4242, environment: ["XDG_RUNTIME_DIR": "/"])
                == "/tmp/cluster-proc-4242/realproc")
        #expect(
            PrivateNamespace.realProcDirectory(uid: getuid(), environment: ["XDG_RUNTIME_DIR": "/tmp"])
                == (getuid() == 0 ? "/tmp/cluster-proc/realproc" : "/tmp/cluster-proc-\(getuid())/realproc"))
    }
}
