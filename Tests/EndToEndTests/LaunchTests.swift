import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// cluster-launch, cps and the namespace on the simulated cluster's 8 real sshd nodes.
@Suite(.serialized, .enabled(if: SimCluster.canRun, "\(SimCluster.whyNot)"), .takesTurnsOnTheCluster)
struct LaunchTests {
    /// Where `swift build` put the executables: beside the test bundle.
    static let binaries: String = {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    }()

    static func launch(_ cluster: SimCluster, _ arguments: [String]) async throws -> Spawned.Outcome {
        try await Spawned.run(["\(binaries)/cluster-launch", "run", "-F", cluster.sshConfig] + arguments)
    }

    /// Starts a job in the background and waits (with a deadline) until cps sees
    /// `count` processes named `command` in it.
    static func startJob(_ cluster: SimCluster, hosts: String, count: Int, command: String, _ job: [String]) async throws -> Spawned {
        let launcher = try Spawned(["\(binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "-w", hosts, "--"] + job, discardOutput: true)
        let deadline = ContinuousClock.now + .seconds(30)
        var seen = 0
        while ContinuousClock.now < deadline {
            let cps = try await Spawned.run(["\(binaries)/cps", "-j", "\(launcher.pid)", "--no-headers", "-o", "comm"])
            seen = cps.output.split(separator: "\n").filter({ $0.hasSuffix(" \(command)") }).count
            if seen >= count { return launcher }
            try await Task.sleep(for: .milliseconds(100))
        }
        // The launcher's end takes the job down on every node.
        launcher.signal(SIGKILL)
        _ = try await onOwnThread { launcher.finish() }
        throw SimClusterError("cps showed \(seen) of \(count) \(command) processes on \(hosts) within 30 s")
    }

    @Test func prefixesOutputAndExitsWithTheHighestCode() async throws {
        let cluster = try await SimCluster.shared()
        let script = "echo out $(hostname); echo err >&2; case $CLUSTER_PROC_NODEID in 0) exit 0;; 7) exit 7;; *) exit 3;; esac"
        let outcome = try await Self.launch(cluster, ["-w", "node[01-08]", "--", "sh", "-c", script])
        #expect(outcome.status == 7)
        for n in 1...8 {
            #expect(outcome.output.contains("node0\(n): out node0\(n)\n"))
            #expect(outcome.errors.contains("node0\(n): err\n"))
        }
        #expect(!outcome.output.contains(": err"), "stderr stays apart from stdout")
        #expect(outcome.errors.contains("node[02-07]: exited with status 3"), "the summary folds the failed nodes: \(outcome.errors)")
        #expect(outcome.errors.contains("node08: exited with status 7"))
    }

    @Test func noPrefixAndGather() async throws {
        let cluster = try await SimCluster.shared()
        let plain = try await Self.launch(cluster, ["-N", "-w", "node[01-03]", "--", "echo", "same"])
        #expect(plain.output == "same\nsame\nsame\n")
        let gathered = try await Self.launch(cluster, ["-b", "-w", "node[01-04]", "--", "sh", "-c", "if [ $(hostname) = node04 ]; then echo other; else echo same; fi"])
        #expect(gathered.output.contains("node[01-03]\n"))
        #expect(gathered.output.contains("node04\n"))
        #expect(gathered.status == 0)
    }

    @Test func stageCopiesProcsrvForTheJobAndRemovesIt() async throws {
        let cluster = try await SimCluster.shared()
        let outcome = try await Self.launch(cluster, ["--stage", "-w", "node[01-02]", "--", "sh", "-c", "readlink /proc/$PPID/exe"])
        #expect(outcome.status == 0, "\(outcome.errors)")
        let paths = outcome.output.split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(paths.count == 2)
        for path in paths {
            #expect(path.hasSuffix("/procsrv") && path != "\(Self.binaries)/procsrv", "the job's parent ran from the staged copy: \(path)")
            #expect(access(path, F_OK) != 0, "the staged copy is gone after the job")
        }
    }

    @Test func badHostListFailsBeforeAnythingStarts() async throws {
        let cluster = try await SimCluster.shared()
        let outcome = try await Self.launch(cluster, ["-w", "node[05-01]", "--", "true"])
        #expect(outcome.status != 0)
        #expect(outcome.errors.contains("05-01"), "\(outcome.errors)")
    }

    @Test func unknownHostIsUnreachableAndTheOthersRun() async throws {
        let cluster = try await SimCluster.shared()
        let outcome = try await Self.launch(cluster, ["-w", "node01,nosuchnode", "-t", "3", "--", "hostname"])
        #expect(outcome.status == 255)
        #expect(outcome.output.contains("node01: node01"))
        #expect(outcome.errors.contains("nosuchnode"))
    }

    @Test func missingWorkingDirectoryIsNamed() async throws {
        let cluster = try await SimCluster.shared()
        // A tmpfs mounted here after the nodes started is not in their (private) mount
        // namespaces: a directory that exists here and not on the nodes.
        let mountpoint = "/tmp/cluster-proc-local-\(getpid())"
        mkdir(mountpoint, 0o755)
        defer { rmdir(mountpoint) }
        guard mount("tmpfs", mountpoint, "tmpfs", 0, nil) == 0 else {
            Issue.record("cannot mount a tmpfs at \(mountpoint)")
            return
        }
        defer { umount(mountpoint) }
        let directory = "\(mountpoint)/work"
        mkdir(directory, 0o755)
        let outcome = try Spawned(["/bin/sh", "-c", "cd \(directory) && exec \(Self.binaries)/cluster-launch run -F \(cluster.sshConfig) -w node01 -- true"]).finish()
        #expect(outcome.status == 255)
        #expect(outcome.errors.contains("node01"), "\(outcome.errors)")
        #expect(outcome.errors.contains(directory), "the missing directory is named: \(outcome.errors)")
    }

    @Test func cpsAndTheNamespaceSeeTheJob() async throws {
        let cluster = try await SimCluster.shared()
        let launcher = try await Self.startJob(cluster, hosts: "node[01-08]", count: 8, command: "sleep", ["sleep", "600"])
        defer {
            launcher.signal(SIGINT)
            _ = launcher.finish()
        }
        let id = "\(launcher.pid)"
        let rows = try await Spawned.run(["\(Self.binaries)/cps", "-j", id, "--no-headers", "-o", "pid,comm"])
        let sleeps = rows.output.split(separator: "\n").filter { $0.hasSuffix(" sleep") }
        #expect(sleeps.count == 8, "cps shows the job on every node: \(rows.output)")
        // Only the family: no sshd in the default view.
        #expect(!rows.output.contains("sshd"))
        guard let row = sleeps.first(where: { $0.hasPrefix("node02") }) else { return }
        let pid = String(row.split(separator: " ", omittingEmptySubsequences: true)[1])

        // cps agrees with ps run on the node itself.
        let columns = "pid,ppid,user,stat,comm,args"
        let ps = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, "node02", "ps", "-o", columns, "-p", pid, "--no-headers"])
        let cps = try await Spawned.run(["\(Self.binaries)/cps", "-j", id, "-w", "node02", "--no-headers", "--no-host", "-o", columns, "-p", pid])
        let words = { (text: String) in text.split(whereSeparator: \.isWhitespace) }
        #expect(!words(cps.output).isEmpty)
        #expect(words(cps.output) == words(ps.output))

        // An unmodified cat inside the namespace reads node02's /proc.
        let inside = try await Spawned.run(["\(Self.binaries)/cluster-launch", "exec", "-j", id, "--", "cat", "/proc/node02/\(pid)/status"])
        #expect(inside.status == 0, "\(inside.errors)")
        let direct = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, "node02", "cat", "/proc/\(pid)/status"])
        let stable = { (text: String) in
            text.split(separator: "\n").filter { ["Name:", "Pid:", "PPid:", "Uid:", "Gid:"].contains(where: $0.hasPrefix) }
        }
        #expect(stable(inside.output).count == 5)
        #expect(stable(inside.output) == stable(direct.output))
        // node03's directory lists node03's PIDs, not this machine's.
        let listing = try await Spawned.run(["\(Self.binaries)/cluster-launch", "exec", "-j", id, "--", "ls", "/proc/node03"])
        let pids = listing.output.split(separator: "\n").compactMap { Int($0) }
        #expect(pids.contains(1))
        #expect(!pids.contains(Int(getpid())) || pids.count < 50, "a node's table is small and its own")
        // Outside, nothing changed.
        #expect(access("/proc/node02", F_OK) != 0)

        // A file of many messages comes whole through the union, which reads a /proc file's
        // first message with its open and the rest when asked.
        let large = try await Spawned.run(["\(Self.binaries)/cluster-launch", "cat", "-j", id, "node02/kallsyms"])
        let reference = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, "node02", "cat", "/proc/kallsyms"])
        #expect(large.status == 0, "\(large.errors)")
        #expect(large.output.utf8.count > 1 << 20, "kallsyms is several messages long")
        #expect(large.output == reference.output)
    }

    /// What scripts rely on in ps: `-o pid=` prints values alone, nothing matched exits 1,
    /// `k -rss` and `--sort -rss` sort, `-C` selects by name.
    @Test func cpsAnswersScriptsAsPsDoes() async throws {
        let cluster = try await SimCluster.shared()
        // Beside the sleep, a process of four threads for -L. sh starts it with SIGINT ignored;
        // it takes SIGINT back so that interrupting the job ends it.
        let threads = "import signal, threading, time\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\nfor n in range(3):\n    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\ntime.sleep(600)\n"
        let launcher = try await Self.startJob(cluster, hosts: "node[01-02]", count: 2, command: "sleep", ["sh", "-c", "python3 -c '\(threads)' & exec sleep 600"])
        defer {
            launcher.signal(SIGINT)
            _ = launcher.finish()
        }
        let cps = { (arguments: [String]) in try await Spawned.run(["\(Self.binaries)/cps", "-j", "\(launcher.pid)"] + arguments) }
        let threadColumns = "pid,lwp,nlwp,stat,comm"
        var perThread = try await cps(["-w", "node02", "--no-host", "-L", "-C", "python3", "-o", threadColumns])
        let started = ContinuousClock.now + .seconds(30)
        while perThread.output.split(separator: "\n").count < 5, ContinuousClock.now < started {
            try await Task.sleep(for: .milliseconds(100))
            perThread = try await cps(["-w", "node02", "--no-host", "-L", "-C", "python3", "-o", threadColumns])
        }
        let psThreads = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, "node02", "ps", "-L", "-C", "python3", "-o", threadColumns])
        #expect(perThread.output.split(separator: "\n").count == 5, "a row per thread: \(perThread.output)")
        let rowWords = { (text: String) in text.split(whereSeparator: \.isWhitespace) }
        #expect(rowWords(perThread.output) == rowWords(psThreads.output), "\(perThread.output)\n\(psThreads.output)")
        let bare = try await cps(["-o", "pid=", "--no-host"])
        #expect(bare.status == 0, "\(bare.errors)")
        #expect(!bare.output.isEmpty && bare.output.split(separator: "\n").allSatisfy { Int32($0.trimmingCharacters(in: .whitespaces)) != nil }, "\(bare.output)")
        let withHost = try await cps(["-o", "pid="])
        #expect(withHost.output.split(separator: "\n").allSatisfy { $0.hasPrefix("node0") }, "no header line: \(withHost.output)")

        let byName = try await cps(["-C", "sleep", "-o", "comm="])
        #expect(byName.status == 0, "\(byName.errors)")
        #expect(byName.output.split(separator: "\n").filter { $0.hasSuffix(" sleep") }.count == 2, "\(byName.output)")
        let noName = try await cps(["-C", "no-such-command"])
        #expect(noName.status == 1)
        #expect(noName.output.hasPrefix("HOST"), "the header alone: \(noName.output)")
        let notInFamily = try await cps(["-w", "node01,node09"])
        #expect(notInFamily.status == 1)
        #expect(notInFamily.errors.contains("node09 is not in the family"), "\(notInFamily.errors)")

        // Columns that need more of the node's snapshot than ps's defaults, as ps on the node prints them.
        // cps aligns rather than cuts: a wide wchan keeps ps from cutting it.
        let columns = "pid,lwp,min_flt,maj_flt,rtprio,policy,psr,wchan:64,cgroup"
        let onNode = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, "node02", "ps", "-C", "sleep", "-o", columns])
        let fromCps = try await cps(["-w", "node02", "--no-host", "-C", "sleep", "-o", columns])
        #expect(fromCps.output.split(separator: "\n").count == 2, "\(fromCps.output)")
        let words = { (text: String) in text.split(whereSeparator: \.isWhitespace) }
        #expect(words(fromCps.output) == words(onNode.output))

        for arguments in [["-e", "--sort", "-rss", "-o", "rss="], ["ax", "k", "-rss", "-o", "rss="], ["-x", "--sort=-rss", "-o", "rss="]] {
            let sorted = try await cps(arguments + ["--no-host"])
            #expect(sorted.status == 0, "\(arguments): \(sorted.errors)")
            let values = sorted.output.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            #expect(values.count > 4 && values == values.sorted(by: >), "\(arguments): \(sorted.output)")
        }
    }

    @Test func aDeadNodeIsReportedAndTheOthersFinish() async throws {
        let cluster = try await SimCluster.shared()
        // The job ends once the test says so (the nodes share /tmp), not after a time a
        // loaded machine may need just to start it.
        let done = "/tmp/cluster-proc-dead-node-\(getpid())"
        unlink(done)
        defer { unlink(done) }
        let launcher = try await Self.startJob(cluster, hosts: "node[01-03]", count: 3, command: "sleep",
                                               ["sh", "-c", "until [ -e \(done) ]; do sleep 1; done; echo finished"])
        // Kill node02's sshd and everything under it (its whole namespace).
        let sshd = try await Self.sshd(cluster, "node02")
        let cps = try await Spawned.run(["\(Self.binaries)/cps", "-j", "\(launcher.pid)", "--timeout", "2"])
        #expect(cps.status == 0, "before the kill every node answers: \(cps.output)")
        kill(sshd, SIGKILL)
        close(open(done, O_CREAT | O_WRONLY, 0o644))
        let outcome = launcher.finish()
        #expect(outcome.status == 255)
        #expect(outcome.errors.contains("node02"))
        // The cluster's node02 is gone now; bring it back for the other tests.
        try await cluster.revive()
    }

    @Test func aHungOrDeadNodeFailsOnlyItsOwnFiles() async throws {
        let cluster = try await SimCluster.shared()
        try await cluster.revive()
        let launcher = try Spawned(["\(Self.binaries)/cluster-launch", "run", "-F", cluster.sshConfig, "--timeout", "2", "-w", "node[01-03]", "--", "sleep", "600"], discardOutput: true)
        defer {
            launcher.signal(SIGINT)
            launcher.signal(SIGINT)
            _ = launcher.finish()
        }
        let id = "\(launcher.pid)"
        let started = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < started {
            let cps = try await Spawned.run(["\(Self.binaries)/cps", "-j", id, "--no-headers", "-o", "comm"])
            if cps.output.split(separator: "\n").filter({ $0.hasSuffix(" sleep") }).count == 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let probe = "cat /proc/node02/1/status > /dev/null; echo node02=$?; head -1 /proc/node03/1/status"

        // A hung node: every process of it stopped. Its files time out; node03 answers.
        let sshd = try await Self.sshd(cluster, "node02")
        let frozen = Self.processes(inNamespaceOf: sshd)
        #expect(frozen.count >= 3, "sshd, its session and procsrv at least")
        for pid in frozen { kill(pid, SIGSTOP) }
        let hung = try await Spawned.run(["\(Self.binaries)/cluster-launch", "exec", "-j", id, "--", "sh", "-c", probe])
        for pid in frozen { kill(pid, SIGCONT) }
        #expect(hung.output.contains("node02=1"), "\(hung.output) \(hung.errors)")
        #expect(hung.errors.contains("timed out") || hung.errors.contains("Input/output error"), "\(hung.errors)")
        #expect(hung.output.contains("Name:\tsshd"), "node03 still answers: \(hung.output)")

        // A dead node: its namespace killed. Its files fail with EIO; cps shows it DOWN.
        kill(sshd, SIGKILL)
        let dead = try await Spawned.run(["\(Self.binaries)/cluster-launch", "exec", "-j", id, "--", "sh", "-c", probe])
        #expect(dead.output.contains("node02=1"))
        #expect(dead.errors.contains("Input/output error") || dead.errors.contains("timed out"), "\(dead.errors)")
        #expect(dead.output.contains("Name:\tsshd"))
        let cps = try await Spawned.run(["\(Self.binaries)/cps", "-j", id, "--timeout", "2"])
        #expect(cps.status == 1, "cps says some nodes were missing")
        #expect(cps.output.split(separator: "\n").contains { $0.hasPrefix("node02") && $0.contains("DOWN") }, "\(cps.output)")
        #expect(cps.output.contains("node03"))
        // With --json, the dead node is one object that parses, with its reason.
        let json = try await Spawned.run(["\(Self.binaries)/cps", "-j", id, "--timeout", "2", "--json"])
        #expect(json.status == 1)
        let objects = json.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == json.output.split(separator: "\n").count, "every line is a JSON object: \(json.output)")
        let down = objects.first { $0["host"] as? String == "node02" && $0["down"] as? Bool == true }
        #expect((down?["reason"] as? String)?.isEmpty == false, "\(json.output)")
        try await cluster.revive()
    }

    /// A node's sshd, waiting (with a deadline) for a node that is being started again.
    static func sshd(_ cluster: SimCluster, _ node: String) async throws -> pid_t {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                return try cluster.sshdPID(of: node)
            } catch {
                if ContinuousClock.now > deadline { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Every process in the PID namespace of `pid` (a node's whole process table).
    static func processes(inNamespaceOf pid: pid_t) -> [pid_t] {
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")) ?? "?"
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return all.compactMap { pid_t($0) }.filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/pid")) == target
        }
    }

    @Test func interruptLeavesNothingOnTheNodes() async throws {
        let cluster = try await SimCluster.shared()
        let launcher = try await Self.startJob(cluster, hosts: "node[01-04]", count: 8, command: "sleep", ["sh", "-c", "trap '' TERM INT; sleep 1000 & sleep 1001"])
        launcher.signal(SIGINT)
        try await Task.sleep(for: .milliseconds(100))
        launcher.signal(SIGINT)
        let outcome = launcher.finish()
        #expect(outcome.status != 0)
        for n in 1...4 {
            var remaining = ""
            let deadline = ContinuousClock.now + .seconds(5)
            repeat {
                let ps = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, "node0\(n)", "ps", "-e", "-o", "args="])
                remaining = ps.output.split(separator: "\n").filter { $0.contains("sleep 100") }.joined(separator: ",")
                if remaining.isEmpty { break }
                try await Task.sleep(for: .milliseconds(100))
            } while ContinuousClock.now < deadline
            #expect(remaining.isEmpty, "node0\(n) still runs \(remaining)")
        }
    }
}

/// The same tools as an ordinary user: no root anywhere, a user namespace for the mount.
@Suite(.serialized, .enabled(if: SimCluster.canRun, "\(SimCluster.whyNot)"), .takesTurnsOnTheCluster)
struct LaunchAsUserTests {
    static func asUser(_ cluster: SimCluster, _ arguments: [String]) -> [String] {
        ["/usr/sbin/runuser", "-u", cluster.user, "--", "/usr/bin/env", "HOME=/home/\(cluster.user)"] + arguments
    }

    @Test func anOrdinaryUserLaunchesSeesAndEntersTheFamily() async throws {
        let cluster = try await SimCluster.shared()
        // Distributions ship /dev/fuse 0666; this machine's is 0600.
        #expect(chmod("/dev/fuse", 0o666) == 0)
        let bin = LaunchTests.binaries
        let quick = try await Spawned.run(Self.asUser(cluster, ["\(bin)/cluster-launch", "run", "-F", cluster.userSSHConfig, "-w", "node[01-02]", "--", "id", "-un"]))
        #expect(quick.status == 0, "\(quick.errors)")
        #expect(quick.output.contains("node01: \(cluster.user)\n"))
        #expect(quick.output.contains("node02: \(cluster.user)\n"))

        let launcher = try Spawned(Self.asUser(cluster, ["\(bin)/cluster-launch", "run", "-F", cluster.userSSHConfig, "-w", "node[01-04]", "--", "sleep", "600"]), discardOutput: true)
        defer {
            // runuser does not pass signals on: interrupt the launcher itself (its PID is the
            // family's id), twice, to kill the job.
            if let list = try? Spawned(Self.asUser(cluster, ["\(bin)/cluster-launch", "list"])).finish(),
                let row = list.output.split(separator: "\n").first(where: { $0.contains("sleep 600") }),
                let id = row.split(separator: " ").first.flatMap({ pid_t($0) })
            {
                kill(id, SIGINT)
                usleep(100_000)
                kill(id, SIGINT)
            }
            _ = launcher.finish()
        }
        var rows: [Substring] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let cps = try await Spawned.run(Self.asUser(cluster, ["\(bin)/cps", "--no-headers", "-o", "pid,user,comm"]))
            rows = cps.output.split(separator: "\n").filter { $0.hasSuffix(" sleep") }
            if rows.count == 4 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(rows.count == 4, "cps as \(cluster.user) sees the job on four nodes")
        #expect(rows.allSatisfy { $0.contains(" \(cluster.user) ") })
        guard let row = rows.first(where: { $0.hasPrefix("node03") }) else { return }
        let pid = String(row.split(separator: " ", omittingEmptySubsequences: true)[1])
        let inside = try await Spawned.run(Self.asUser(cluster, ["\(bin)/cluster-launch", "exec", "--", "sh", "-c", "id -un; grep ^Pid: /proc/node03/\(pid)/status; grep ^Pid: /proc/self/status"]))
        #expect(inside.status == 0, "\(inside.errors)")
        let lines = inside.output.split(separator: "\n")
        #expect(lines.first.map(String.init) == cluster.user, "the user stays themselves inside")
        #expect(lines.contains("Pid:\t\(pid)"))
        #expect(lines.count == 3)
        // Root sees no family of this user: the registry is per user. (Other root families,
        // of other suites, may be listed: compare by the user's family id.)
        let usersView = try await Spawned.run(Self.asUser(cluster, ["\(bin)/cluster-launch", "list"]))
        let ids = usersView.output.split(separator: "\n").filter { $0.contains("sleep 600") }.compactMap { $0.split(separator: " ").first }
        #expect(!ids.isEmpty, "the user lists their family: \(usersView.output)")
        let rootsView = try await Spawned.run(["\(bin)/cluster-launch", "list"])
        let rootsIDs = Set(rootsView.output.split(separator: "\n").compactMap { $0.split(separator: " ").first })
        #expect(ids.allSatisfy { !rootsIDs.contains($0) }, "\(rootsView.output)")
    }
}
