import ClusterProcNode
import Foundation
import Glibc
import Logging
import NineP
import SystemPackage
import Testing

/// What a connection may hold of procsrv's bytes and descriptors, each connection's guarantee,
/// and ProcFS charging its walks, snapshots and listings to them.
@Suite struct ProcBudgetTests {
    static let logger = Logger(label: "test.budget")

    func pool(total: Int, perConnection: Int, guaranteed: Int, connections: Int) -> ResourcePool {
        ResourcePool(
            "descriptors", limits: .init(total: total, perConnection: perConnection, guaranteedPerConnection: guaranteed, connections: connections),
            perConnectionErrno: .tooManyOpenFiles, totalErrno: .tooManyOpenFilesInSystem, logger: Self.logger)
    }

    @Test func aConnectionKeepsItsGuaranteeWhateverTheOthersTake() throws {
        // 4 connections × 10 guaranteed leave 60 of 100 to share.
        let pool = pool(total: 100, perConnection: 60, guaranteed: 10, connections: 4)
        let greedy = ResourceAccount(pool, owner: "greedy")
        let other = ResourceAccount(pool, owner: "other")
        let late = ResourceAccount(pool, owner: "late")
        try greedy.charge(60)
        #expect(pool.sharedInUse == 50)
        let beyond = #expect(throws: NinePError.self) { try greedy.charge(1) }
        #expect(beyond?.errno == .tooManyOpenFiles)
        try other.charge(20)
        #expect(pool.sharedInUse == 60)
        let shared = #expect(throws: NinePError.self) { try late.charge(11) }
        #expect(shared?.errno == .tooManyOpenFilesInSystem)
        #expect(late.used == 0, "a refused charge takes nothing")
        try late.charge(10)
        greedy.release(30)
        #expect(pool.sharedInUse == 30)
        try late.charge(5)
        #expect(pool.sharedInUse == 35)
        for account in [greedy, other, late] { account.release(account.used) }
        #expect(pool.sharedInUse == 0)
    }

    /// ProcFS on a socket pair with `budget`.
    func connect(_ budget: ProcBudget) throws -> (NinePClient, ServerConnection<ProcFS>) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw Errno(rawValue: errno) }
        let a = try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[0]))
        let b = try FileDescriptorStream(socket: FileDescriptor(rawValue: fds[1]))
        let server = try ServerConnection.serve(try ProcFS().serving(budget), over: a)
        return (try NinePClient.connect(over: b), server)
    }

    func pools(bytes: Int, descriptors: Int, snapshot: Int) -> ProcBudget.Pools {
        ProcBudget.Pools(
            bytes: .init(total: bytes, perConnection: bytes, guaranteedPerConnection: 0, connections: 1),
            descriptors: .init(total: descriptors, perConnection: descriptors, guaranteedPerConnection: 0, connections: 1),
            snapshotLimit: snapshot, logger: Self.logger)
    }

    @Test func snapshotsAreChargedAndRefusedBeyondTheConnectionsBytes() async throws {
        let budget = pools(bytes: 256 << 10, descriptors: 64, snapshot: 64 << 10).budget(for: "test")
        let (client, server) = try connect(budget)
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        var open: [RemoteFid] = []
        // pagemap is longer than any snapshot: each open holds a whole one.
        for _ in 0..<4 {
            let fid = try await client.walk(root, ["\(getpid())", "pagemap"])
            try await client.open(fid)
            #expect(try await client.read(fid, offset: 0, count: 8).count == 8)
            // Beyond the snapshot, reads go to the kernel.
            #expect(try await client.read(fid, offset: 64 << 10, count: 8).count == 8)
            open.append(fid)
        }
        #expect(budget.bytes.used == 256 << 10)
        let fid = try await client.walk(root, ["\(getpid())", "status"])
        let refused = await #expect(throws: NinePError.self) { try await client.open(fid) }
        #expect(refused?.errno == .noMemory)
        try await client.clunk(open.removeLast())
        try await client.open(fid)
        #expect(String(decoding: try await client.readAll(fid), as: UTF8.self).contains("Pid:\t\(getpid())\n"))
        for fid in open + [fid] { try await client.clunk(fid) }
        #expect(budget.bytes.used == 0)
        #expect(budget.descriptors.used == 0)
    }

    @Test func walksHoldDescriptorsUpToTheConnectionsBound() async throws {
        let budget = pools(bytes: 1 << 20, descriptors: 9, snapshot: 64 << 10).budget(for: "test")
        let (client, server) = try connect(budget)
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        var walked: [RemoteFid] = []
        for _ in 0..<9 { walked.append(try await client.walk(root, ["\(getpid())"])) }
        #expect(budget.descriptors.used == 9)
        let refused = await #expect(throws: NinePError.self) { try await client.walk(root, ["\(getpid())"]) }
        #expect(refused?.errno == .tooManyOpenFiles)
        // A clone walk shares the entry, and `..` walks back to one already held.
        let clone = try await client.walk(walked[0], [])
        let parent = try await client.walk(walked[0], [".."])
        #expect(budget.descriptors.used == 9)
        for fid in walked + [clone, parent] { try await client.clunk(fid) }
        #expect(budget.descriptors.used == 0)
    }

    @Test func aDirectoryListingIsChargedWhileTheFidHoldsIt() async throws {
        let budget = pools(bytes: 1 << 20, descriptors: 16, snapshot: 64 << 10).budget(for: "test")
        let (client, server) = try connect(budget)
        defer { client.close(); server.close() }
        let root = try await client.attach(uname: "root")
        let directory = try await client.walk(root, [])
        try await client.open(directory)
        let entries = try await client.readDirectory(directory)
        #expect(entries.count > 10)
        #expect(budget.bytes.used >= entries.count * MemoryLayout<DirectoryItem>.stride)
        #expect(budget.descriptors.used == 1)
        try await client.clunk(directory)
        #expect(budget.bytes.used == 0)
        #expect(budget.descriptors.used == 0)
    }

    @Test(arguments: [20000, 9152, 4096, 1024, 512])
    func theLimitsShrinkToFitTheDescriptorsThereAre(available: Int) throws {
        let standard = ProcServer.Limits.standard
        let fitted = try #require(standard.fitting(descriptors: available))
        if available >= standard.descriptorCeiling {
            #expect(fitted == standard)
        } else {
            #expect(fitted.descriptorCeiling <= available)
            #expect(fitted.connections.connections < standard.connections.connections)
            #expect(fitted.connections.unattached <= fitted.connections.connections)
            // Every connection keeps its guaranteed share of what is left.
            #expect(fitted.descriptors.total >= fitted.connections.connections * fitted.descriptors.guaranteedPerConnection)
            #expect(fitted.bytes.connections == fitted.connections.connections)
        }
    }

    @Test func tooFewDescriptorsToServeAnyoneAreRefused() {
        #expect(ProcServer.Limits.standard.fitting(descriptors: 256) == nil)
    }
}
