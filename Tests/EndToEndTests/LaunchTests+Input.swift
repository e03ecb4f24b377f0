import Foundation
import Testing

/// `--input`: the launcher's standard input to every node (clush), to one (srun's
/// `--input=task`), or to none (end of file, the default).
extension LaunchTests {
    /// Runs `cluster-launch ARGS` under bash with the output of the shell command `source` as
    /// its input; `source` is ended afterwards if it has not ended.
    static func launch(_ cluster: SimCluster, input source: String, _ arguments: [String]) async throws -> Spawned.Outcome {
        let quoted = (["\(binaries)/cluster-launch", "-F", cluster.sshConfig] + arguments)
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try await Spawned.run(["/usr/bin/timeout", "60", "/bin/bash", "-c", "exec 3< <(exec \(source)); p=$!; \(quoted) <&3; s=$?; kill $p 2>/dev/null; exit $s"])
    }

    @Test func inputGoesToEveryNodeOneNodeOrNone() async throws {
        let cluster = try await SimCluster.shared()
        let lines = "printf 'one\\ntwo\\n'"
        let all = try await Self.launch(cluster, input: lines, ["-w", "node[01-02]", "--input", "all", "--", "cat"])
        #expect(all.status == 0, "\(all.errors)")
        #expect(all.output.split(separator: "\n").sorted() == ["node01: one", "node01: two", "node02: one", "node02: two"], "\(all.output)")
        let one = try await Self.launch(cluster, input: lines, ["-w", "node[01-02]", "--input", "node02", "--", "cat"])
        #expect(one.status == 0, "\(one.errors)")
        #expect(one.output == "node02: one\nnode02: two\n")
        let none = try await Self.launch(cluster, input: lines, ["-w", "node[01-02]", "--", "cat"])
        #expect(none.status == 0 && none.output.isEmpty, "\(none.output) \(none.errors)")
        let large = try await Self.launch(cluster, input: "seq 200000", ["-w", "node01", "--input", "all", "--", "wc", "-l"])
        #expect(large.output == "node01: 200000\n", "input larger than a message arrives whole: \(large.errors)")
        let stranger = try await Self.launch(cluster, input: lines, ["-w", "node01", "--input", "node09", "--", "cat"])
        #expect(stranger.status == 64)
        #expect(stranger.errors.contains("--input node09: not one of the selected hosts"), "\(stranger.errors)")
    }

    /// A job that never reads its input ends, and so does the launcher, though the input
    /// never reaches its end.
    @Test func theJobEndsThoughTheInputDoesNot() async throws {
        let cluster = try await SimCluster.shared()
        let outcome = try await Self.launch(cluster, input: "sleep 300", ["-w", "node[01-02]", "--input", "all", "--", "echo", "done"])
        #expect(outcome.status == 0, "status \(outcome.status) (124: the launcher waited for the input): \(outcome.errors)")
        #expect(outcome.output.split(separator: "\n").sorted() == ["node01: done", "node02: done"])
    }
}
