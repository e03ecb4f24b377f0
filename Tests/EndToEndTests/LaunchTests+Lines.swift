import Foundation
import Testing

/// How nodes' lines are labelled: whole however long, as clush prints them, and by host name.
extension LaunchTests {
    /// A 200 KiB line from each of two nodes comes out whole, one prefix each, never mixed.
    @Test func aLongLineIsKeptWholeWithOnePrefix() async throws {
        let cluster = try await SimCluster.shared()
        let length = 200 * 1024
        let script = "head -c \(length) /dev/zero | tr '\\0' x; echo; echo short"
        let outcome = try await Self.launch(cluster, ["-w", "node[01-02]", "--", "sh", "-c", script])
        #expect(outcome.status == 0, "\(outcome.errors)")
        let lines = outcome.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 4, "two lines per node: \(lines.map(\.count))")
        let long = String(repeating: "x", count: length)
        for host in ["node01", "node02"] {
            #expect(lines.filter { $0 == "\(host): \(long)" }.count == 1, "\(host)'s long line whole with one prefix")
            #expect(lines.contains("\(host): short"))
        }
    }

    /// `user@host` logs in as user and is named by the host alone, as pdsh and clush do.
    @Test func userAtHostIsPrefixedByTheHostAlone() async throws {
        let cluster = try await SimCluster.shared()
        let user = try cluster.user(withLoginShell: "/bin/dash")
        let outcome = try await Self.launch(cluster, ["-w", "\(user)@node01,node02", "--", "sh", "-c", "echo $CLUSTER_PROC_NODELIST $(id -un)"])
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.output.contains("node01: node[01-02] \(user)\n"), "\(outcome.output)")
        #expect(outcome.output.contains("node02: node[01-02] root\n"), "\(outcome.output)")
        #expect(!outcome.output.contains("@"), "\(outcome.output)")
        let twice = try await Self.launch(cluster, ["-w", "\(user)@node01,root@node01", "--", "true"])
        #expect(twice.status != 0)
        #expect(twice.errors.contains("node01 is named with two users"), "\(twice.errors)")
    }
}
