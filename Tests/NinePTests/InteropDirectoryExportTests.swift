import NineP
import SystemPackage
import Testing

/// ``DirectoryFileSystem`` checked against diod exporting the same directory: our client
/// asks both the same questions and must get the same answers.
@Suite(.serialized, .enabled(if: DiodPeer.isInstalled, "needs diod (Debian package diod)"))
struct InteropDirectoryExportTests {
    struct View: Equatable {
        var names: [String: UInt8]
        var attributes: [String: [UInt64]]
        var contents: [String: [UInt8]]
        var link: String
    }

    func view(of client: NinePClient, aname: String, export: ExportDirectory) async throws -> View {
        let root = try await client.attach(uname: "root", aname: aname, numericUser: 0)
        let dir = try await client.walk(root, [])
        try await client.open(dir)
        var names: [String: UInt8] = [:]
        for entry in try await client.readDirectory(dir) where entry.name != "." && entry.name != ".." {
            names[entry.name] = entry.type
        }
        try await client.clunk(dir)
        var attributes: [String: [UInt64]] = [:]
        var contents: [String: [UInt8]] = [:]
        for name in export.names {
            let fid = try await client.walk(root, [name])
            let a = try await client.getattr(fid)
            attributes[name] = [UInt64(a.mode), a.size, UInt64(a.uid), UInt64(a.gid), a.nlink, a.mtimeSec, a.qid.path, UInt64(a.qid.type.rawValue)]
            try await client.clunk(fid)
            if name != "sub" && name != "link" { contents[name] = try await client.readFile(root, path: [name]) }
        }
        contents["sub/inner"] = try await client.readFile(root, path: ["sub", "inner"])
        let link = try await client.walk(root, ["link"])
        let target = try await client.readlink(link)
        try await client.clunk(link)
        try await client.clunk(root)
        return View(names: names, attributes: attributes, contents: contents, link: target)
    }

    @Test func ourExportAnswersAsDiodDoes() async throws {
        let export = try ExportDirectory()
        defer { export.remove() }
        let diod = try DiodPeer(exporting: export.path)
        defer { diod.stop() }
        let listener = try NinePListener(.tcp(host: "127.0.0.1", port: 0))
        defer { listener.shutdown() }
        try listener.serve(try DirectoryFileSystem(root: export.path))

        let theirs = try NinePClient.connect(over: try diod.address.connect(), msize: 8192)
        defer { theirs.close() }
        let ours = try NinePClient.connect(over: try listener.address.connect(), msize: 8192)
        defer { ours.close() }
        let expected = try await view(of: theirs, aname: export.path, export: export)
        let seen = try await view(of: ours, aname: "", export: export)
        #expect(seen.names == expected.names)
        #expect(seen.attributes == expected.attributes)
        #expect(seen.link == expected.link)
        #expect(seen.contents.keys.sorted() == expected.contents.keys.sorted())
        let sameContents = seen.contents == expected.contents  // a Bool: no diff of 100 kB on failure
        #expect(sameContents)
        #expect(seen.contents["big"]?.count == export.big.count)
    }

    @Test func ourExportIsReadOnlyAndStaysInside() async throws {
        let export = try ExportDirectory()
        defer { export.remove() }
        let listener = try NinePListener(.tcp(host: "127.0.0.1", port: 0))
        defer { listener.shutdown() }
        try listener.serve(try DirectoryFileSystem(root: export.path + "/sub"))
        let client = try NinePClient.connect(over: try listener.address.connect(), msize: 8192)
        defer { client.close() }
        let root = try await client.attach(uname: "root")
        let up = try await client.walk(root, ["..", "..", ".."])
        #expect(up.qid == root.qid)
        let outside = await #expect(throws: NinePError.self) { try await client.walk(root, ["..", "hello"]) }
        #expect(outside?.errno == .noSuchFileOrDirectory)
        let inner = try await client.walk(root, ["inner"])
        let refused = await #expect(throws: NinePError.self) { try await client.open(inner, flags: LinuxOpenFlags.readWrite) }
        #expect(refused?.errno == .readOnlyFileSystem)
        let created = await #expect(throws: NinePError.self) {
            try await client.call(.tlcreate(Tlcreate(fid: root.number, name: "new", flags: 0, mode: 0o644, gid: 0)))
        }
        #expect(created?.errno == .readOnlyFileSystem)
        #expect(try await client.readFile(root, path: ["inner"]) == export.inner)
    }
}
