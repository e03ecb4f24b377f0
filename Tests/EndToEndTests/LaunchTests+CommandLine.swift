import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Commands as pdsh, clush and srun users write them: words without `--` are one command line
/// for the node user's login shell; after `--` they are argv, run exactly.
extension LaunchTests {
    @Test(arguments: ["/bin/bash", "/bin/dash"])
    func wordsWithoutTerminatorAreALineForTheLoginShell(shell: String) async throws {
        let cluster = try await SimCluster.shared()
        let user = try cluster.user(withLoginShell: shell)
        // `$0` is the shell that runs the line: the node user's, though the launcher sends `sh`.
        let arguments = ["-F", cluster.sshConfig, "-l", user, "-w", "node02", "cd", "/", "&&", "pwd", "&&", "echo", "$0", "two  spaces"]
        let outcome = try await Spawned.run(bytes: (["\(Self.binaries)/cluster-launch"] + arguments).map { Array($0.utf8) },
                                            workingDirectory: Array("/tmp".utf8))
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.output == "node02: /\nnode02: \(shell) two spaces\n", "words are joined into one line the shell splits again")
    }

    @Test func wordsWithoutTerminatorNeedNoSubcommand() async throws {
        let cluster = try await SimCluster.shared()
        let outcome = try await Spawned.run(["\(Self.binaries)/cluster-launch", "-F", cluster.sshConfig, "-w", "node[01-02]", "hostname"])
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.output.contains("node01: node01\n") && outcome.output.contains("node02: node02\n"), "\(outcome.output)")
    }

    @Test func aLineRunsInTheLoginShellAndArgvAfterTerminatorIsExact() async throws {
        let cluster = try await SimCluster.shared()
        let line = try await Self.launch(cluster, ["-w", "node01", "cd /tmp && pwd"])
        #expect(line.status == 0, "\(line.errors)")
        #expect(line.output == "node01: /tmp\n")
        // After -- the same word is a program's path (it holds a slash), which no node has.
        let argv = try await Self.launch(cluster, ["-w", "node01", "--", "cd /tmp && pwd"])
        #expect(argv.status == 127, "\(argv.errors)")
        #expect(argv.errors.contains("node01: cd /tmp && pwd: No such file or directory"), "\(argv.errors)")
        #expect(!argv.errors.contains("procsrv"), "procsrv started; the command is what is missing: \(argv.errors)")
    }

    @Test func aCommandNotFoundExits127AndNamesTheNode() async throws {
        let cluster = try await SimCluster.shared()
        let name = "nosuchcmd-\(getpid())"
        let exact = try await Self.launch(cluster, ["-w", "node01", "--", name, "x"])
        #expect(exact.status == 127, "\(exact.errors)")
        #expect(exact.errors.contains("node01: \(name): command not found"), "\(exact.errors)")
        let line = try await Self.launch(cluster, ["-w", "node01", name, "x"])
        #expect(line.status == 127, "\(line.errors)")
        let said = line.errors.split(separator: "\n").first { $0.hasPrefix("node01: ") && $0.contains(name) && $0.contains("not found") }
        #expect(said != nil, "the node's shell names the command: \(line.errors)")
        // Found but not a program: 126, as a shell says.
        let directory = try await Self.launch(cluster, ["-w", "node01", "--", "/tmp"])
        #expect(directory.status == 126, "\(directory.errors)")
        #expect(directory.errors.contains("node01: /tmp: "), "\(directory.errors)")
    }

    @Test func anOptionWhereTheCommandBeginsIsRefused() async throws {
        let cluster = try await SimCluster.shared()
        let outcome = try await Self.launch(cluster, ["-w", "node01", "--bogus", "hostname"])
        #expect(outcome.status == 64, "\(outcome.errors)")
        #expect(outcome.errors.contains("--bogus"), "\(outcome.errors)")
        let empty = try await Self.launch(cluster, ["-w", "node01", "--"])
        #expect(empty.status == 64)
        #expect(empty.errors.contains("no command"), "\(empty.errors)")
    }
}
