import ClusterProc
import Foundation
import NineP
import Testing

/// The family's union never stops answering: reads parked on a job's streams hold no thread
/// that a /proc read or a Tflush needs.
extension LaunchTests {
    /// 64 reads of node01's `stdout` (a job that prints nothing) parked on the family's
    /// socket, then a /proc file of the same node and a Tflush of one parked read: both are
    /// answered at once (flush(5): "The server should answer the flush message immediately").
    @Test func sixtyFourParkedStreamReadsStallNothing() async throws {
        let cluster = try await SimCluster.shared()
        let launcher = try await Self.startJob(cluster, hosts: "node01", count: 1, command: "sleep", ["sleep", "600"])
        defer {
            launcher.signal(SIGINT)
            _ = launcher.finish()
        }
        let record = try FamilyRegistry.find("\(launcher.pid)", environment: ProcessInfo.processInfo.environment)
        let client = try NinePClient.connect(over: try NinePAddress.unix(path: record.socket).connect())
        defer { client.close() }
        let jobs = try await client.attach(uname: "root", aname: "job")
        var tags: [UInt16] = []
        for _ in 0..<64 {
            let stdout = try await client.walk(jobs, ["node01", "stdout"], deadline: .now + .seconds(10))
            try await client.open(stdout, deadline: .now + .seconds(10))
            if let tag = client.send(.tread(Tread(fid: stdout.number, offset: 0, count: 4096)), completion: { _ in }) {
                tags.append(tag)
            }
        }
        #expect(tags.count == 64)

        let proc = try await client.attach(uname: "root", aname: "")
        let started = ContinuousClock.now
        let loadavg = try await client.readFile(proc, path: ["node01", "loadavg"], deadline: .now + .seconds(10))
        #expect(String(decoding: loadavg, as: UTF8.self).split(separator: " ").count >= 5)
        let flushed = try await client.call(.tflush(Tflush(oldtag: tags[0])), deadline: .now + .seconds(10))
        guard case .rflush = flushed else {
            Issue.record("Tflush answered with \(flushed)")
            return
        }
        print("LaunchTests: /proc read and Tflush past 64 parked reads in \(ContinuousClock.now - started)")
    }
}
