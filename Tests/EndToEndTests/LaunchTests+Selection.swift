import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Host selection, `--export` and the family commands as pdsh, clush and srun users write them.
extension LaunchTests {
    /// The hosts that answered, from `host: host` lines.
    static func answered(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            return parts.count == 2 && parts[0] == parts[1] + ":" ? String(parts[1]) : nil
        }.sorted()
    }

    /// `-x /regex/` is pdsh's: the same hosts answer as under pdsh itself.
    @Test func regexExclusionsMatchPdsh() async throws {
        let cluster = try await SimCluster.shared()
        let ours = try await Self.launch(cluster, ["-w", "node0[1-4]", "-x", "/node0[13]/", "hostname"])
        #expect(ours.status == 0, "\(ours.errors)")
        #expect(Self.answered(ours.output) == ["node02", "node04"], "\(ours.output)")
        let pdsh = try await Spawned.run(["/usr/bin/pdsh", "-R", "ssh", "-w", "node0[1-4]", "-x", "/node0[13]/", "hostname"],
                                         environment: ["PDSH_SSH_ARGS_APPEND": "-F \(cluster.sshConfig)"])
        #expect(Self.answered(pdsh.output) == Self.answered(ours.output), "pdsh: \(pdsh.output) \(pdsh.errors)")
    }

    @Test func anExclusionThatMatchesNothingIsWarnedAbout() async throws {
        let cluster = try await SimCluster.shared()
        let outcome = try await Self.launch(cluster, ["-w", "node0[1-2]", "-x", "node0*", "hostname"])
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(Self.answered(outcome.output) == ["node01", "node02"])
        #expect(outcome.errors.contains("cluster-launch: -x node0* matches none of the selected hosts"), "\(outcome.errors)")
    }

    @Test func anErrorNamesItsHostOnce() async throws {
        let cluster = try await SimCluster.shared()
        let host = "nosuch-\(getpid()).invalid"
        let outcome = try await Self.launch(cluster, ["-t", "5", "-w", host, "hostname"])
        #expect(outcome.status == 255)
        #expect(outcome.errors.contains("cluster-launch: \(host): cannot connect"), "\(outcome.errors)")
        #expect(!outcome.errors.contains("\(host): \(host):"), "\(outcome.errors)")
    }

    /// srun's `-n 2 -x node05` in `node[05-08]` runs on two nodes; clush's `@group` from its
    /// groups file format.
    @Test func countsAfterExclusionsAndGroups() async throws {
        let cluster = try await SimCluster.shared()
        let directory = NSTemporaryDirectory() + "selection-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "node[05-08]\n".write(toFile: directory + "/hosts", atomically: true, encoding: .utf8)
        try "io: node[03-04]\nall: @io node07\n".write(toFile: directory + "/groups", atomically: true, encoding: .utf8)
        let environment = ["CLUSTER_PROC_HOSTFILE": directory + "/hosts", "CLUSTER_PROC_GROUPS": directory + "/groups"]
        let binary = "\(Self.binaries)/cluster-launch"
        let counted = try await Spawned.run([binary, "-F", cluster.sshConfig, "-n", "2", "-x", "node05", "hostname"], environment: environment)
        #expect(counted.status == 0, "\(counted.errors)")
        #expect(Self.answered(counted.output) == ["node06", "node07"], "\(counted.output)")
        let grouped = try await Spawned.run([binary, "-F", cluster.sshConfig, "-w", "@all", "-x", "@io,node09", "hostname"], environment: environment)
        #expect(Self.answered(grouped.output) == ["node07"], "\(grouped.output) \(grouped.errors)")
        let unknown = try await Spawned.run([binary, "-F", cluster.sshConfig, "-w", "@gpu", "hostname"], environment: environment)
        #expect(unknown.status == 64)
        #expect(unknown.errors.contains("no group @gpu in \(directory)/groups"), "\(unknown.errors)")
    }

    @Test func exportAllWithNamesKeepsBoth() async throws {
        let cluster = try await SimCluster.shared()
        let outcome = try await Spawned.run(
            ["\(Self.binaries)/cluster-launch", "-F", cluster.sshConfig, "-w", "node01", "--export", "ALL,EXTRA=2",
             "--", "sh", "-c", "echo \"$KEPT $EXTRA\""],
            environment: ["KEPT": "1", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"])
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.output == "node01: 1 2\n")
    }

    /// Options may come before a subcommand, `-j` names the family everywhere, and words
    /// that are a command for the nodes stay one (`-w node01 ls /`).
    @Test func optionsBeforeSubcommandsAndJEverywhere() async throws {
        let cluster = try await SimCluster.shared()
        let launcher = try await Self.startJob(cluster, hosts: "node[01-02]", count: 2, command: "sleep", ["sleep", "600"])
        defer {
            launcher.signal(SIGINT)
            _ = launcher.finish()
        }
        let id = "\(launcher.pid)"
        let binary = "\(Self.binaries)/cluster-launch"
        let listed = try await Spawned.run([binary, "-v", "list", "-j", id])
        #expect(listed.status == 0, "\(listed.errors)")
        #expect(listed.output.split(separator: "\n").dropFirst().map { $0.split(separator: " ").first } == [Substring(id)], "\(listed.output)")
        // The row gives the date and the time elapsed, as a ps etime: "1796169713" is no date.
        var today = tm()
        var now = time(nil)
        localtime_r(&now, &today)
        let fields = listed.output.split(separator: "\n").last?.split(separator: " ", omittingEmptySubsequences: true) ?? []
        #expect(fields.count > 4 && fields[2] == "\(today.tm_year + 1900)-\(today.tm_mon < 9 ? "0" : "")\(today.tm_mon + 1)-\(today.tm_mday < 10 ? "0" : "")\(today.tm_mday)", "\(listed.output)")
        #expect(fields.count > 4 && fields[4].contains(":"), "\(listed.output)")
        let cat = try await Spawned.run([binary, "-j", id, "cat", "node02/sys/kernel/hostname"])
        #expect(cat.status == 0, "\(cat.errors)")
        #expect(cat.output == "node02\n")
        let exec = try await Spawned.run([binary, "-j", id, "exec", "--", "cat", "/proc/node01/sys/kernel/hostname"])
        #expect(exec.status == 0, "\(exec.errors)")
        #expect(exec.output == "node01\n")
        let missing = try await Spawned.run([binary, "exec", "-j", id, "--", "nosuchcmd-\(getpid())"])
        #expect(missing.status == 127, "\(missing.errors)")
        #expect(missing.errors.contains("nosuchcmd-\(getpid())") && !missing.errors.contains("without the namespace"), "\(missing.errors)")
        let misplaced = try await Spawned.run([binary, "-F", cluster.sshConfig, "exec", "--", "true"])
        #expect(misplaced.status == 64)
        #expect(misplaced.errors.contains("Unknown option '-F'"), "exec's own parser answers: \(misplaced.errors)")
        let remote = try await Spawned.run([binary, "-F", cluster.sshConfig, "-w", "node01", "ls", "-d", "/proc/1"])
        #expect(remote.output == "node01: /proc/1\n", "\(remote.errors)")
        let version = try await Spawned.run([binary, "--version"])
        #expect(version.status == 0 && !version.output.isEmpty)
        let help = try await Spawned.run([binary, "--help"])
        #expect(help.output.contains("--export") && help.output.contains("SUBCOMMANDS"), "\(help.output)")
    }
}
