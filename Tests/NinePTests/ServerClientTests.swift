import NineP
import SystemPackage
import Testing

/// Our client against our server over a socket pair: the engine's rules, each in a test.
@Suite struct ServerClientTests {
    static let tree: [String: MemoryFileSystem.Entry] = [
        "hello": .file(Array("hello, world\n".utf8)),
        "big": .file((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }),
        "dir": .directory(["a": .file([1, 2, 3]), "b": .directory([:]), "link": .symlink("../hello")]),
        "slow": .blocking,
    ]

    func connect(_ dialect: Dialect = .linux, msize: UInt32 = 8192) throws -> (NinePClient, ServerConnection<MemoryFileSystem>, MemoryFileSystem) {
        let fileSystem = MemoryFileSystem(Self.tree)
        let (a, b) = try socketPair()
        let server = try ServerConnection.serve(fileSystem, over: a)
        let client = try NinePClient.connect(over: b, msize: msize, dialect: dialect)
        return (client, server, fileSystem)
    }

    @Test(arguments: Dialect.allCases)
    func readsFilesAndDirectories(dialect: Dialect) async throws {
        let (client, server, _) = try connect(dialect)
        defer { client.close(); server.close() }
        #expect(client.dialect == dialect)
        let root = try await client.attach(uname: "root")
        #expect(root.qid.type.contains(.directory))
        let hello = try await client.readFile(root, path: ["hello"])
        #expect(hello == Array("hello, world\n".utf8))
        let big = try await client.readFile(root, path: ["big"])
        #expect(big == (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let dir = try await client.walk(root, ["dir"])
        try await client.open(dir)
        let names = try await client.readDirectory(dir).map(\.name)
        #expect(names == ["a", "b", "link"])
        if dialect != .plain {
            let link = try await client.walk(root, ["dir", "link"])
            #expect(try await client.readlink(link) == "../hello")
        }
    }

    @Test func walkStopsShortAndErrorsKeepTheirErrno() async throws {
        let (client, server, _) = try connect()
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let missing = await #expect(throws: NinePError.self) { try await client.walk(root, ["nope"]) }
        #expect(missing?.errno == .noSuchFileOrDirectory)
        let reply = try await client.call(.twalk(Twalk(fid: root.number, newfid: 99, wnames: ["dir", "missing"])))
        guard case .rwalk(let partial) = reply else { Issue.record("expected Rwalk"); return }
        #expect(partial.qids.count == 1)
        // The new fid was not created by a partial walk.
        await #expect(throws: NinePError.self) { try await client.call(.tclunk(Tclunk(fid: 99))) }
        // Writes are refused as on a read-only file system.
        let hello = try await client.walk(root, ["hello"])
        let refused = await #expect(throws: NinePError.self) { try await client.open(hello, flags: LinuxOpenFlags.writeOnly) }
        #expect(refused?.errno == .readOnlyFileSystem)
    }

    @Test func hostileNamesAndCountsAreRefused() async throws {
        let (client, server, _) = try connect()
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        for name in ["", "a/b", ".", "x\0y", String(repeating: "n", count: 300)] {
            await #expect(throws: NinePError.self, "name \(name.debugDescription)") {
                try await client.call(.twalk(Twalk(fid: root.number, newfid: 50, wnames: [name])))
            }
        }
        await #expect(throws: NinePError.self) {
            try await client.call(.twalk(Twalk(fid: root.number, newfid: 51, wnames: Array(repeating: "dir", count: 17))))
        }
        // `..` at the root stays at the root.
        let up = try await client.walk(root, ["..", ".."])
        #expect(up.qid == root.qid)
        // Fid reuse before clunk is refused.
        await #expect(throws: NinePError.self) {
            try await client.call(.tattach(Tattach(fid: root.number, afid: Tattach.noFid, uname: "x", aname: "")))
        }
    }

    @Test func flushEndsABlockedRead() async throws {
        let (client, server, _) = try connect()
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let slow = try await client.walk(root, ["slow"])
        try await client.open(slow)
        let reading = Task { try await client.read(slow, offset: 0, count: 10) }
        // A later request on another fid is served while the read blocks.
        #expect(try await client.readFile(root, path: ["hello"]).count == 13)
        reading.cancel()
        await #expect(throws: NinePError.self) { try await reading.value }
        // After the flush the connection still works.
        #expect(try await client.readFile(root, path: ["hello"]).count == 13)
    }

    @Test func deadlineFailsTheCallAndFlushes() async throws {
        let (client, server, _) = try connect()
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let slow = try await client.walk(root, ["slow"])
        try await client.open(slow)
        let started = ContinuousClock.now
        let error = await #expect(throws: NinePError.self) {
            try await client.read(slow, offset: 0, count: 10, deadline: .now + .milliseconds(100))
        }
        #expect(error?.code == .timedOut)
        #expect(error?.errno == .timedOut)
        // Not a timing assertion: only that the deadline, not some fallback, ended the call.
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(try await client.readFile(root, path: ["hello"]).count == 13)
    }

    @Test func pipelinedWalkOpenAndReadAnswerInOrder() throws {
        let (client, server, _) = try connect()
        defer { client.close(); server.close() }
        _ = try client.callBlocking(.tattach(Tattach(fid: 1, afid: Tattach.noFid, uname: "root", aname: "")))
        let results = client.pipelineBlocking([
            .twalk(Twalk(fid: 1, newfid: 2, wnames: ["dir", "a"])),
            .tlopen(Tlopen(fid: 2, flags: LinuxOpenFlags.readOnly)),
            .tread(Tread(fid: 2, offset: 0, count: 100)),
        ])
        guard results.count == 3, case .rwalk(let walk) = try results[0].get(), case .rlopen = try results[1].get(),
            case .rread(let read) = try results[2].get()
        else {
            Issue.record("unexpected replies: \(results)")
            return
        }
        #expect(walk.qids.count == 2)
        #expect(read.data == [1, 2, 3])
        // A walk that fails takes the rest of the chain with it, each with its own error.
        let failed = client.pipelineBlocking([
            .twalk(Twalk(fid: 1, newfid: 3, wnames: ["nope"])),
            .tlopen(Tlopen(fid: 3, flags: LinuxOpenFlags.readOnly)),
        ])
        #expect(throws: NinePError.self) { try failed[0].get() }
        #expect(throws: NinePError.self) { try failed[1].get() }
    }

    @Test func pipelinedCallsEndAtTheirDeadlineWhileTheCallerReads() throws {
        let (client, server, _) = try connect()
        defer { client.close(); server.close() }
        _ = try client.callBlocking(.tattach(Tattach(fid: 1, afid: Tattach.noFid, uname: "root", aname: "")))
        let results = client.pipelineBlocking(
            [
                .twalk(Twalk(fid: 1, newfid: 2, wnames: ["slow"])),
                .tlopen(Tlopen(fid: 2, flags: LinuxOpenFlags.readOnly)),
                .tread(Tread(fid: 2, offset: 0, count: 10)),
            ], deadline: .now + .milliseconds(200))
        #expect(throws: Never.self) { try results[0].get() }
        #expect(throws: Never.self) { try results[1].get() }
        let error = #expect(throws: NinePError.self) { try results[2].get() }
        #expect(error?.code == .timedOut)
        // The blocked read was flushed; the connection goes on.
        guard case .rwalk = try client.callBlocking(.twalk(Twalk(fid: 1, newfid: 3, wnames: ["hello"]))) else {
            Issue.record("expected Rwalk")
            return
        }
    }

    @Test func closingFailsPendingCallsAndReleasesFids() async throws {
        let (client, server, fileSystem) = try connect()
        let root = try await client.attach(uname: "root")
        let slow = try await client.walk(root, ["slow"])
        try await client.open(slow)
        let reading = Task { try await client.read(slow, offset: 0, count: 10) }
        _ = try await client.walk(root, ["dir"])
        server.close()
        await #expect(throws: NinePError.self) { try await reading.value }
        #expect(server.waitUntilClosed(deadline: .now + .seconds(5)))
        #expect(fileSystem.released.load(ordering: .relaxed) >= 3)
        await #expect(throws: NinePError.self) { try await client.attach(uname: "again") }
    }

    @Test func versionNegotiation() throws {
        let (client, server, _) = try connect(.unix, msize: 1 << 30)
        defer { client.close(); server.close() }
        #expect(client.msize == ServerConfiguration().maxMessageSize)
        #expect(client.dialect == .unix)
    }
}
