import ClusterProcNode
import Foundation
import Testing

@Suite struct ProcessSnapshotTests {
    @Test func holdsTheNodeAndEveryProcessAsProcShowsThem() throws {
        let snapshot = try ProcessSnapshot.decode(ProcessSnapshot.capture())
        for name in ["uptime", "meminfo", "stat", "loadavg"] {
            #expect(snapshot.node[name]?.isEmpty == false, "\(name)")
        }
        let own = try #require(snapshot.processes.first { $0.pid == getpid() })
        let stat = String(decoding: own.files["stat"] ?? [], as: UTF8.self)
        #expect(stat.hasPrefix("\(getpid()) ("))
        let status = String(decoding: own.files["status"] ?? [], as: UTF8.self)
        #expect(status.contains("\nPid:\t\(getpid())\n"))
        let cmdline = try Data(contentsOf: URL(fileURLWithPath: "/proc/self/cmdline"))
        #expect(own.files["cmdline"] == Array(cmdline))
        let cgroup = try Data(contentsOf: URL(fileURLWithPath: "/proc/self/cgroup"))
        #expect(!cgroup.isEmpty && own.files["cgroup"] == Array(cgroup))
        // Every PID of /proc at that moment that still exists is there.
        let listed = Set(snapshot.processes.map(\.pid))
        #expect(listed.contains(1))
        #expect(snapshot.processes.map(\.pid) == snapshot.processes.map(\.pid).sorted())
    }

    @Test(arguments: [
        "uptime", "uptime 5\n12", "uptime x\n", "12/stat -1\n", "abc/stat 1\nx", "uptime 99999999999999999999\n",
    ])
    func malformedSnapshotsAreErrors(text: String) {
        #expect(throws: ProcessSnapshot.MalformedSnapshot.self) { try ProcessSnapshot.decode(Array(text.utf8)) }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? ProcessSnapshot.decode(bytes)
        }
        _ = try? ProcessSnapshot.decode(Array("1/stat 3\nabc".utf8))
    }

    @Test func aSnapshotOfTheNodeStaysWithinItsLimit() throws {
        let limit = 70 << 10
        let bytes = ProcessSnapshot.capture(family: [getpid()], limit: limit)
        #expect(bytes.count <= limit)
        let snapshot = try ProcessSnapshot.decode(bytes)
        #expect(snapshot.node["uptime"]?.isEmpty == false)
        #expect(snapshot.node["family"] == Array("\(getpid())\n".utf8))
        let omitted = try #require(snapshot.node["omitted"].flatMap { Int(String(decoding: $0, as: UTF8.self).dropLast()) })
        #expect(omitted > 0)
        #expect(snapshot.processes.count + omitted >= 3)
    }
}
