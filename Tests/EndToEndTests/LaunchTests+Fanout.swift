import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `-f` bounds the nodes being set up at once, never the copies of the job running at once.
extension LaunchTests {
    @Test func fanoutBoundsConnectingNotRunning() async throws {
        let cluster = try await SimCluster.shared()
        // The nodes share this directory (their mount namespaces copied this machine's): each
        // copy leaves its name there and waits for all four, which only copies running
        // together can do. A copy that waits in vain gives up after 20 s with status 9.
        let meeting = "/tmp/cluster-proc-meeting-\(getpid())"
        mkdir(meeting, 0o777)
        defer {
            for node in 1...4 { unlink("\(meeting)/node0\(node)") }
            rmdir(meeting)
        }
        let script = """
            touch \(meeting)/$(hostname); i=0
            while [ $(ls \(meeting) | wc -l) -lt 4 ]; do i=$((i+1)); [ $i -gt 200 ] && exit 9; sleep 0.1; done
            echo met
            """
        let outcome = try await Self.launch(cluster, ["-f", "2", "-w", "node[01-04]", "--", "sh", "-c", script])
        #expect(outcome.status == 0, "every copy saw the other three: \(outcome.errors)")
        for node in 1...4 {
            #expect(outcome.output.contains("node0\(node): met\n"), "\(outcome.output)")
        }
    }
}
