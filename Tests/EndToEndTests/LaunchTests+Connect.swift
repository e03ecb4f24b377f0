import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `-t` bounds the SSH connection, `--startup-timeout` procsrv's start-up behind it.
extension LaunchTests {
    @Test func aSlowLoginShellIsNotCutByTheConnectTimeout() async throws {
        let cluster = try await SimCluster.shared()
        let shell = "\(cluster.directory)/slowsh"
        try "#!/bin/sh\nsleep 3\nexec /bin/sh \"$@\"\n".write(toFile: shell, atomically: true, encoding: .utf8)
        chmod(shell, 0o755)
        let user = try cluster.user(withLoginShell: shell)
        let started = ContinuousClock.now
        let outcome = try await Self.launch(cluster, ["-l", user, "-t", "2", "-w", "node01", "--", "echo", "up"])
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.output == "node01: up\n", "\(outcome.errors)")
        #expect(ContinuousClock.now - started >= .seconds(3), "the shell's start-up was waited for")
        // The same shell beyond a start-up deadline shorter than its sleep: said as such.
        let cut = try await Self.launch(cluster, ["-l", user, "--startup-timeout", "1", "-w", "node01", "--", "echo", "up"])
        #expect(cut.status == 255, "\(cut.errors)")
        #expect(cut.errors.contains("node01: procsrv did not answer within 1.0 seconds"), "\(cut.errors)")
    }

    @Test func aProcsrvThatNeverAnswersIsReportedAsSuch() async throws {
        let cluster = try await SimCluster.shared()
        // Reads what the launcher sends and never answers; ends at end of file.
        let silent = "\(cluster.directory)/silent-procsrv"
        try "#!/bin/sh\nexec cat >/dev/null\n".write(toFile: silent, atomically: true, encoding: .utf8)
        chmod(silent, 0o755)
        let started = ContinuousClock.now
        let outcome = try await Self.launch(cluster, ["--procsrv", silent, "--startup-timeout", "1.5", "-w", "node[01-02]", "--", "true"])
        let elapsed = ContinuousClock.now - started
        #expect(outcome.status == 255, "\(outcome.errors)")
        for node in ["node01", "node02"] {
            #expect(outcome.errors.contains("\(node): procsrv did not answer within 1.5 seconds of its start"), "\(outcome.errors)")
        }
        #expect(!outcome.errors.contains("did not start"), "\(outcome.errors)")
        #expect(elapsed >= .milliseconds(1500) && elapsed < .seconds(10), "ended by the start-up deadline: \(elapsed)")
    }
}
