import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--shell`: the user's shell on the terminal, in the family's namespace, while the job runs.
extension LaunchTests {
    @Test(.enabled(if: namespaceTestsPossible, "needs root and /dev/fuse for the namespace"),
          .enabled(if: access("/usr/bin/script", X_OK) == 0, "needs script(1) (util-linux) for a terminal"))
    func shellTakesTheTerminalWhileTheJobRuns() async throws {
        let cluster = try await SimCluster.shared()
        let base = "/tmp/cluster-proc-shell-\(getpid())"
        let driver = "\(base).sh"
        defer { for path in [driver, "\(base).ready", "\(base).after", "\(base).ls", "\(base).done"] { unlink(path) } }
        // The job ends once the shell has said so (the nodes share /tmp).
        let job = "until [ -e \(base).done ]; do sleep 0.1; done; echo job-ended"
        // What the user types, through script(1)'s terminal, each step once the shell has done
        // the one before (a ^C discards what was typed ahead): a first line the shell runs
        // once it holds the terminal, a ^C (the shell's, not the job's), a look at a node's
        // /proc from inside the namespace. The typing stays until the job is told to end, and
        // `timeout` ends it all if anything hangs.
        let typed = """
            wait_for() { i=0; until [ -e "$1" ] || [ $i -gt 300 ]; do i=$((i+1)); [ -n "$2" ] && printf "$2"; sleep 0.1; done; }
            printf 'touch \(base).ready\\n'; wait_for \(base).ready
            printf '\\003'
            wait_for \(base).after 'touch \(base).after\\n'
            printf 'ls /proc/node01 > \(base).ls; touch \(base).done; exit\\n'; wait_for \(base).done
            """
        let launch = "\(Self.binaries)/cluster-launch run -F \(cluster.sshConfig) --shell -w node01 -- sh -c '\(job)'"
        try "#!/bin/sh\n(\(typed)) | SHELL=/bin/sh timeout -s KILL 60 script -qec \"\(launch)\" /dev/null\n"
            .write(toFile: driver, atomically: true, encoding: .utf8)
        let launcher = try Spawned(["/bin/sh", driver])
        let (outcome, _) = try await Self.finish(launcher, limit: .seconds(90))
        #expect(outcome.status == 0, "\(outcome.output) \(outcome.errors)")
        #expect(outcome.output.contains("node01: job-ended"), "the job ran while the shell did: \(outcome.output)")
        #expect(!outcome.output.contains("interrupt sent"), "the ^C went to the shell, not the job: \(outcome.output)")
        #expect(outcome.output.contains("the shell ended"), "\(outcome.output)")
        let listing = (try? String(contentsOfFile: "\(base).ls", encoding: .utf8)) ?? ""
        #expect(listing.split(separator: "\n").contains("1"), "the shell saw node01's /proc: \(listing)")
    }

    /// The shell's prompt says it is in the family's namespace, as a virtualenv's does: bash
    /// (whose /etc/bash.bashrc sets PS1) and dash alike, unless the user opts out.
    @Test(.enabled(if: namespaceTestsPossible, "needs root and /dev/fuse for the namespace"),
          .enabled(if: access("/usr/bin/script", X_OK) == 0, "needs script(1) (util-linux) for a terminal"),
          arguments: [("/bin/bash", false), ("/bin/dash", false), ("/bin/bash", true)])
    func shellPromptNamesTheFamily(shell: String, optedOut: Bool) async throws {
        let cluster = try await SimCluster.shared()
        let launcher = try await Self.startJob(cluster, hosts: "node01", count: 1, command: "sleep", ["sleep", "600"])
        defer {
            launcher.signal(SIGINT)
            _ = launcher.finish()
        }
        let base = "/tmp/cluster-proc-prompt-\(getpid())-\(shell.split(separator: "/").last ?? "")-\(optedOut)"
        let driver = "\(base).sh"
        defer { for path in [driver, "\(base).done"] { unlink(path) } }
        // The typing stays until the shell has run the line, so script(1) sees no early end of file.
        let typed = """
            printf 'echo ran-$((6*7)); touch \(base).done; exit\\n'
            i=0; until [ -e \(base).done ] || [ $i -gt 300 ]; do i=$((i+1)); sleep 0.1; done
            """
        let optOut = optedOut ? "CLUSTER_PROC_DISABLE_PROMPT=1 " : ""
        let command = "\(Self.binaries)/cluster-launch shell -j \(launcher.pid)"
        try "#!/bin/sh\n(\(typed)) | \(optOut)SHELL=\(shell) timeout -s KILL 30 script -qec \"\(command)\" /dev/null\n"
            .write(toFile: driver, atomically: true, encoding: .utf8)
        let outcome = try await Spawned.run(["/bin/sh", driver])
        #expect(outcome.output.contains("ran-42"), "the shell ran what was typed: \(outcome.output) \(outcome.errors)")
        let prefix = "(cluster-proc \(launcher.pid)) "
        if optedOut {
            #expect(!outcome.output.contains("(cluster-proc"), "\(outcome.output)")
        } else {
            #expect(outcome.output.contains(prefix), "\(outcome.output)")
        }
    }
}
