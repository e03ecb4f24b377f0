import ArgumentParser
import ClusterProc
import Glibc

/// Runs a command in the family's private namespace with `/proc/<host>` directories served
/// from local directories.
struct NsExec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ns-exec",
        abstract: "Run a command with /proc/HOST directories served from local directories."
    )

    @Option(name: .customLong("dir"), help: "HOST=DIRECTORY: show DIRECTORY as /proc/HOST (repeatable).")
    var directories: [String] = []

    @Argument(parsing: .postTerminator, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give a command after --") }
        _ = try hostDirectories()
    }

    private func hostDirectories() throws -> (hosts: [String], directories: [String: String]) {
        var hosts: [String] = []
        var directories: [String: String] = [:]
        for item in self.directories {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("--dir expects HOST=DIRECTORY, got \(item)")
            }
            let host = String(item[..<equals])
            let directory = String(item[item.index(after: equals)...])
            guard directory.hasPrefix("/") else { throw ValidationError("\(directory) is not an absolute path") }
            guard directories[host] == nil else { throw ValidationError("host \(host) given twice") }
            hosts.append(host)
            directories[host] = directory
        }
        return (hosts, directories)
    }

    func run() throws {
        let (hosts, directories) = try hostDirectories()
        do {
            let status = try PrivateNamespace.run(
                command: command, tree: LocalDirectoryTree(directories: directories), hosts: hosts)
            Glibc.exit(status)
        } catch {
            let message = Array("ns-exec: \(error)\n".utf8)
            _ = message.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            Glibc.exit(125)
        }
    }
}
