import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The terminal the watch is driven in.
private let tmux = "/usr/bin/tmux"

/// `cps --watch` on a real terminal (tmux) over 16 real sshd nodes of the test's own.
@Suite(.serialized, .enabled(if: SimCluster.canRun && FileManager.default.isExecutableFile(atPath: tmux),
                             "\(SimCluster.whyNot), and tmux (scripts/install-deps --test) to be the terminal"))
struct CpsWatchTests {
    /// A tmux server of the test's own with one 100×30 window.
    struct Terminal {
        /// A socket path of the test's own, removed with the server.
        let socket = "/tmp/cluster-proc-tmux-\(getpid())"

        func start(_ command: [String]) async throws {
            let line = command.map { "'\($0)'" }.joined(separator: " ")
            let started = try await run(["new-session", "-d", "-x", "100", "-y", "30", line])
            #expect(started.status == 0, "\(started.errors)")
        }

        func run(_ arguments: [String]) async throws -> Spawned.Outcome {
            try await Spawned.run([tmux, "-S", socket] + arguments)
        }

        /// The screen, as text (`colours`: with tmux's escape sequences for attributes).
        func screen(colours: Bool = false) async throws -> [String] {
            var lines = try await run(["capture-pane", "-p"] + (colours ? ["-e"] : [])).output
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }  // the newline that ends the last row
            return lines
        }

        /// Waits until the screen shows what `condition` looks for; the last screen either way.
        func waitFor(seconds: Double, _ condition: ([String]) -> Bool) async throws -> (Bool, [String]) {
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            var lines = try await screen()
            while !condition(lines) {
                if ContinuousClock.now > deadline { return (false, lines) }
                try await Task.sleep(for: .milliseconds(100))
                lines = try await screen()
            }
            return (true, lines)
        }

        func stop() {
            _ = try? Spawned([tmux, "-S", socket, "kill-server"], discardOutput: true).finish()
            unlink(socket)
        }
    }

    @Test func aTopOfSixteenNodesOnARealTerminal() async throws {
        let cluster = try await SimCluster.own("watch", nodeCount: 16)
        defer { cluster.down() }
        // node03 starts burning a core when the test says so (the nodes share /tmp), after
        // long enough asleep that its lifetime average stays low.
        let flag = "/tmp/cluster-proc-burn-\(getpid())"
        unlink(flag)
        defer { unlink(flag) }
        // sh starts the burner with SIGINT ignored; it takes SIGINT back so that ^C ends the job.
        let burn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\nwhile True: pass\n"
        let burner = "if [ \"$(hostname)\" = node03 ]; then (until [ -e \(flag) ]; do sleep 0.1; done; exec /usr/bin/python3 -c '\(burn)') & fi; exec sleep 600"
        let launcher = try await LaunchTests.startJob(cluster, hosts: "node[01-16]", count: 16, command: "sleep", ["sh", "-c", burner])
        defer {
            launcher.signal(SIGINT)
            _ = launcher.finish()
        }
        let terminal = Terminal()
        defer { terminal.stop() }
        try await terminal.start(["\(LaunchTests.binaries)/cps", "-j", "\(launcher.pid)", "--watch", "1", "--timeout", "3"])

        // The header, a line per node and a table that fits.
        let nodeLine = { (line: String) in line.hasPrefix("node") && line.contains("  load ") }
        let (drawn, first) = try await terminal.waitFor(seconds: 30) { lines in
            lines.first?.contains("nodes 16 up, 0 down") == true && lines.filter(nodeLine).count == 16
        }
        #expect(drawn, "\(first.joined(separator: "\n"))")
        #expect(first.count <= 30 && first.allSatisfy { $0.count <= 100 }, "\(first.joined(separator: "\n"))")
        #expect(first[0].hasPrefix("cps ") && first[0].contains("family \(launcher.pid)"))
        #expect(first.contains { $0.hasPrefix("total  %CPU ") && $0.contains("min/med/max") })
        #expect(first.contains { $0.hasPrefix("HOST") && $0.contains("%CPU") })
        #expect(first.filter { $0.hasPrefix("node") && $0.hasSuffix(" sleep 600") }.count >= 5, "rows fill the rest")

        // A process that starts burning a core shows what top shows within two refreshes
        // (~100 %CPU on a quiet machine, its share of the cores on a loaded one), though its
        // first eight seconds asleep keep its lifetime average (ps's) low.
        let (aged, _) = try await terminal.waitFor(seconds: 30) { lines in
            lines.contains { $0.hasSuffix(" sleep 600") && $0.split(separator: " ")[6] >= "00:08" }
        }
        #expect(aged)
        close(open(flag, O_CREAT | O_WRONLY, 0o644))
        let burning = { (lines: [String]) -> Double? in
            lines.lazy.compactMap { line -> Double? in
                let words = line.split(separator: " ")
                guard words.count >= 8, words[0] == "node03", words[7] == "/usr/bin/python3" else { return nil }
                return Double(words[4])
            }.first
        }
        let flagged = ContinuousClock.now
        let (busy, seen) = try await terminal.waitFor(seconds: 2 * 1 + 3) { (burning($0) ?? 0) >= 25 }
        #expect(busy, "within two refreshes (and a read each) of \(ContinuousClock.now - flagged): \(seen.joined(separator: "\n"))")
        let cpsFigure = burning(seen) ?? 0
        let pid = try #require(seen.first { $0.hasPrefix("node03") && $0.contains(" /usr/bin/python3 -c ") }?.split(separator: " ")[1])
        let top = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, "node03", "top", "-b", "-n", "2", "-d", "1", "-p", String(pid)])
        let topFigure = top.output.split(separator: "\n").filter { $0.split(separator: " ").first == pid }.last
            .flatMap { Double($0.split(separator: " ")[8]) } ?? 0
        let ps = try await Spawned.run(["/usr/bin/ssh", "-F", cluster.sshConfig, "node03", "ps", "-o", "pcpu=", "-p", String(pid)])
        let lifetime = Double(ps.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 100
        #expect(abs(cpsFigure - topFigure) < 35, "cps \(cpsFigure), top \(topFigure) (ps's lifetime average \(lifetime))")
        #expect(lifetime < cpsFigure - 10, "the interval, not the lifetime: cps \(cpsFigure), ps \(lifetime)")

        // A node killed shows DOWN, in red, and the others keep updating.
        kill(try cluster.sshdPID(of: "node05"), SIGKILL)
        let (down, afterKill) = try await terminal.waitFor(seconds: 15) { lines in
            lines.first?.contains("nodes 15 up, 1 down") == true && lines.contains { $0.hasPrefix("node05") && $0.contains("DOWN  (") && $0.contains(") since ") }
        }
        #expect(down, "\(afterKill.joined(separator: "\n"))")
        let coloured = try await terminal.screen(colours: true)
        #expect(coloured.contains { $0.contains("node05") && $0.contains("31m") }, "red: \(coloured.filter { $0.contains("node05") })")
        let clock = afterKill[0].split(separator: " ")[1]
        let (ticking, _) = try await terminal.waitFor(seconds: 10) { $0.first?.split(separator: " ").dropFirst().first.map { $0 != clock } == true }
        #expect(ticking, "the header's time moves on")

        // Keys: M sorts by memory, 1 hides the node lines, q quits.
        _ = try await terminal.run(["send-keys", "1"])
        let (hidden, _) = try await terminal.waitFor(seconds: 5) { $0.filter(nodeLine).isEmpty && $0.contains { $0.hasPrefix("DOWN node05") } }
        #expect(hidden)
        _ = try await terminal.run(["send-keys", "M"])
        let (byMemory, _) = try await terminal.waitFor(seconds: 5) { $0.first?.contains("sort RSS") == true }
        #expect(byMemory)
        _ = try await terminal.run(["send-keys", "q"])
        let quitBy = ContinuousClock.now + .seconds(5)
        var alive = true
        while alive, ContinuousClock.now < quitBy {
            alive = try await terminal.run(["has-session"]).status == 0
            if alive { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(!alive, "q ends cps and with it the window")

        // Not on a terminal: plain snapshots, no escape sequence; --json lines with their time.
        let cps = ["/usr/bin/timeout", "3", "\(LaunchTests.binaries)/cps", "-j", "\(launcher.pid)", "--watch", "0.5", "--timeout", "2"]
        let plain = try await Spawned.run(cps)
        #expect(!plain.outputBytes.contains(0x1B) && !plain.outputBytes.isEmpty)
        #expect(plain.output.components(separatedBy: "\ncps ").count >= 2, "a snapshot per interval: \(plain.output)")
        let json = try await Spawned.run(cps + ["--json"])
        let objects = json.output.split(separator: "\n")
        #expect(objects.count >= 16 && objects.allSatisfy { $0.hasPrefix("{\"time\":") && $0.hasSuffix("}") }, "\(json.output)")
        #expect(objects.contains { $0.contains("\"host\":\"node05\",\"down\":true") })
    }
}
