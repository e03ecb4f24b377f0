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
}
