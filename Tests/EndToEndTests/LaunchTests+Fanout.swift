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

/// `-k` (srun's `-K`): any node that fails ends the job everywhere.
extension LaunchTests {
    @Test func killOnFailureEndsTheJobWhenANodeExitsNonZero() async throws {
        let cluster = try await SimCluster.shared()
        // node01 fails once every copy is running (each leaves its name in a shared directory).
        let meeting = "/tmp/cluster-proc-failing-\(getpid())"
        mkdir(meeting, 0o777)
        defer {
            for node in 1...4 { unlink("\(meeting)/node0\(node)") }
            rmdir(meeting)
        }
        let script = """
            touch \(meeting)/$(hostname); [ $CLUSTER_PROC_NODEID = 0 ] || exec sleep 60
            i=0; while [ $(ls \(meeting) | wc -l) -lt 4 ] && [ $i -lt 200 ]; do i=$((i+1)); sleep 0.1; done
            exit 3
            """
        let launcher = try Spawned(["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-k", "-w", "node[01-04]", "--", "sh", "-c", script])
        let (outcome, took) = try await Self.finish(launcher, limit: .seconds(90))
        #expect(took < .seconds(30), "the launcher ended long before the sleeps would: \(took)")
        #expect(outcome.status == 3, "the failing node's status is the launcher's: \(outcome.errors)")
        #expect(outcome.errors.contains("node01: exited with status 3"), "\(outcome.errors)")
        #expect(outcome.errors.contains("node[02-04]: killed by signal 9"), "the others were killed: \(outcome.errors)")
    }
}
