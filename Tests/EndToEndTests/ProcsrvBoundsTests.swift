import ClusterProcNode
import Foundation
import Glibc
import NineP
import Synchronization
import SystemPackage
import Testing

/// procsrv under hostile clients: what it holds stays within ``ProcServer/Limits``, and an
/// ordinary client is served throughout.
@Suite(.serialized) struct ProcsrvBoundsTests {
    /// One hostile client: authenticates, then opens and reads as many fids as procsrv lets it
    /// on the biggest files it can find, moving to a smaller file when one is refused.
    struct Hog: Sendable {
        let client: NinePClient
        let held: Int
        /// The errnos procsrv refused opens with.
        let refusals: [Errno]
    }

    /// The peaks of procsrv's RSS and descriptors, sampled while it is busy.
    final class Watch: Sendable {
        let pid: Int32
        private let state = Mutex((rss: 0, descriptors: 0, done: false))
        init(pid: Int32) { self.pid = pid }

        var peaks: (rss: Int, descriptors: Int) { state.withLock { ($0.rss, $0.descriptors) } }
        var done: Bool {
            get { state.withLock { $0.done } }
            set { state.withLock { $0.done = newValue } }
        }

        func sample() {
            let rss = statusField("VmRSS", of: pid) ?? 0
            let descriptors = descriptorCount(of: pid) ?? 0
            state.withLock { $0 = (max($0.rss, rss), max($0.descriptors, descriptors), $0.done) }
        }
    }

    /// A client attached over a connection of its own.
    static func attached(_ address: NinePAddress, key: SharedKey) async throws -> (NinePClient, RemoteFid) {
        let client = try NinePClient.connect(over: try address.connect(), msize: 128 * 1024 + 24, timeout: .seconds(10))
        let deadline = ContinuousClock.now + .seconds(10)
        let afid = try await SharedKeyAuthentication.authenticate(client: client, key: key, uname: "root", aname: "", deadline: deadline)
        return (client, try await client.attach(uname: "root", authFid: afid, deadline: deadline))
    }

    /// The errno of a refusal. A walk whose first step went and whose second was refused
    /// stops short, which the client reports as ENOENT: counted as the descriptor bound.
    static func refusal(_ error: any Error) -> Errno {
        let errno = (error as? NinePError)?.errno ?? .ioError
        return errno == .noSuchFileOrDirectory ? .tooManyOpenFilesInSystem : errno
    }

    static func hog(_ client: NinePClient, _ root: RemoteFid, targets: [[String]]) async -> Hog {
        var held = 0
        var refusals: [Errno] = []
        var target = 0
        var failuresInARow = 0
        // Two rounds of refusals on every target: nothing more is allowed.
        while failuresInARow < 2 * targets.count && held < 4096 {
            do {
                let fid = try await client.walk(root, targets[target % targets.count], deadline: .now + .seconds(30))
                do {
                    try await client.open(fid, deadline: .now + .seconds(30))
                    _ = try await client.read(fid, offset: 0, count: 64 * 1024, deadline: .now + .seconds(30))
                    held += 1
                    failuresInARow = 0
                    continue
                } catch {
                    try? await client.clunk(fid)
                    throw error
                }
            } catch {
                refusals.append(refusal(error))
                failuresInARow += 1
                target += 1
            }
        }
        // Then fids that are only walked, which hold a descriptor for every step.
        failuresInARow = 0
        while failuresInARow < 2 && held < 4096 {
            do {
                _ = try await client.walk(root, targets[held % targets.count], deadline: .now + .seconds(30))
                held += 1
                failuresInARow = 0
            } catch {
                refusals.append(refusal(error))
                failuresInARow += 1
            }
        }
        return Hog(client: client, held: held, refusals: refusals)
    }

    /// Reads a small file on a connection of its own, as any ordinary client does.
    static func ordinaryRead(_ address: NinePAddress, key: SharedKey, pid: Int32) async throws -> [UInt8] {
        let (client, root) = try await attached(address, key: key)
        defer { client.close() }
        return try await client.readFile(root, path: ["\(pid)", "stat"], deadline: .now + .seconds(10))
    }

    @Test(.clientsKeepUp) func sixtyFourHostileConnectionsStayWithinTheBoundsWhileOthersAreServed() async throws {
        let keyPath = NSTemporaryDirectory() + "procsrv-bounds-key-\(UUID().uuidString)"
        let keyBytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        #expect(FileManager.default.createFile(atPath: keyPath, contents: Data(keyBytes), attributes: [.posixPermissions: 0o600]))
        defer { unlink(keyPath) }
        let key = try SharedKey(bytes: keyBytes)
        let server = try ProcsrvProcess(["--listen", "tcp:127.0.0.1:0", "--key", keyPath])
        defer { server.kill() }
        let text = try #require(server.waitForErrors { text in
            text.split(separator: "\n").first { $0.hasPrefix("procsrv: listening on ") }.map { String($0.dropFirst("procsrv: listening on ".count)) }
        }, "procsrv said: \(server.errors)")
        let address = try NinePAddress(parsing: text)
        let limits = ProcServer.Limits.standard
        // What procsrv holds before any client (a test runner's stray descriptors included).
        let idle = try #require(descriptorCount(of: server.pid))

        // The biggest files there are: this process's pagemap (a snapshot's worth at every
        // open), kcore where it can be read, smaps and maps of this process and procsrv.
        var found: [[String]] = [["\(getpid())", "pagemap"]]
        let kcore = open("/proc/kcore", O_RDONLY | O_CLOEXEC)
        if kcore >= 0 {
            close(kcore)
            found.append(["kcore"])
        }
        let targets = found + [["\(getpid())", "smaps"], ["\(server.pid)", "maps"], ["\(server.pid)", "status"]]

        let watch = Watch(pid: server.pid)
        // Attached one after another (at once, most would be refused as not yet attached).
        var clients: [(NinePClient, RemoteFid)] = []
        for _ in 0..<64 { clients.append(try await Self.attached(address, key: key)) }
        let hogs = try await withThrowingTaskGroup(of: Hog?.self) { group in
            for (client, root) in clients {
                group.addTask { await Self.hog(client, root, targets: targets) }
            }
            // Meanwhile an ordinary client is served, again and again, within its deadline.
            group.addTask {
                var reads = 0
                while !watch.done || reads == 0 {
                    let stat = try await Self.ordinaryRead(address, key: key, pid: server.pid)
                    #expect(String(decoding: stat, as: UTF8.self).hasPrefix("\(server.pid) (procsrv) "))
                    reads += 1
                    watch.sample()
                }
                return nil
            }
            var hogs: [Hog] = []
            while let hog = try await group.next() {
                if let hog { hogs.append(hog) }
                if hogs.count == 64 { watch.done = true }
            }
            return hogs
        }
        watch.sample()
        defer { hogs.forEach { $0.client.close() } }

        // Every hostile client was stopped by a bound, and by nothing else.
        let allowed: Set<Errno> = [.noMemory, .tooManyOpenFiles, .tooManyOpenFilesInSystem]
        for hog in hogs {
            #expect(!hog.refusals.isEmpty)
            #expect(Set(hog.refusals).isSubset(of: allowed), "refused with \(Set(hog.refusals))")
        }
        let (rss, descriptors) = watch.peaks
        let held = hogs.reduce(0) { $0 + $1.held }
        print("procsrv under 64 hostile connections: \(held) fids held, peak RSS \(rss >> 20) MiB, peak \(descriptors) descriptors")
        #expect(rss <= limits.residentCeiling, "RSS \(rss >> 20) MiB, beyond \(limits.residentCeiling >> 20) MiB")
        #expect(descriptors <= limits.descriptorCeiling, "\(descriptors) descriptors, beyond \(limits.descriptorCeiling)")
        // Still holding everything, a new client is served.
        let stat = try await Self.ordinaryRead(address, key: key, pid: server.pid)
        #expect(String(decoding: stat, as: UTF8.self).hasPrefix("\(server.pid) (procsrv) "))
        #expect(server.errors.contains("refused"), "no bound was logged")

        // And everything goes back once the hostile clients leave.
        for hog in hogs { hog.client.close() }
        try await onOwnThread {
            let deadline = ContinuousClock.now + .seconds(30)
            while (descriptorCount(of: server.pid) ?? 0) > idle && ContinuousClock.now < deadline { usleep(20_000) }
        }
        #expect((descriptorCount(of: server.pid) ?? .max) <= idle, "descriptors left after the clients left: \(descriptorSummary(of: server.pid))")
    }
}
