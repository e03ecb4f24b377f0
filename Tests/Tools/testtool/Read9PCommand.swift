import ArgumentParser
import ClusterProcNode
import Glibc
import NineP

/// A 9P client in a process of its own, so that a test can run it as another user: connects,
/// attaches (after the shared-key exchange with --key), and prints a file or a listing.
///
/// Synchronous like the tool's other commands: an async main would start threads before
/// `ns-exec` could enter its user namespace, which a single-threaded process alone may do.
struct Read9PCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read9p",
        abstract: "Read a file (or list a directory) from a 9P server; exit 1 with the error on stderr.")

    @Option(help: "unix:PATH or tcp:HOST:PORT.")
    var address: String

    @Option(help: "A shared key file to authenticate with.")
    var key: String?

    @Option(help: "The tree to attach.")
    var aname = ""

    @Flag(help: "List the directory instead of reading a file.")
    var list = false

    @Argument(help: "The path below the tree's root, e.g. 1/status; empty for the root.")
    var path = ""

    func run() throws {
        let outcome = ConditionLock<Bool?>(nil)
        Task { [self] in
            let succeeded = await read()
            outcome.withLock(notify: true) { $0 = succeeded }
        }
        guard outcome.wait(until: { $0 != nil }, { $0! }) == true else { throw ExitCode(1) }
    }

    private func read() async -> Bool {
        do {
            let address = try NinePAddress(parsing: address)
            let client = try NinePClient.connect(over: try address.connect(), timeout: .seconds(20))
            defer { client.close() }
            let uname = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "\(geteuid())"
            var authFid = Tattach.noFid
            if let key {
                authFid = try await SharedKeyAuthentication.authenticate(
                    client: client, key: try SharedKey.load(path: key), uname: uname, aname: aname)
            }
            let deadline = ContinuousClock.now + .seconds(20)
            let root = try await client.attach(uname: uname, aname: aname, authFid: authFid, deadline: deadline)
            let names = path.split(separator: "/").map(String.init)
            let output: [UInt8]
            if list {
                let directory = try await client.walk(root, names, deadline: deadline)
                try await client.open(directory, deadline: deadline)
                output = Array(try await client.readDirectory(directory, deadline: deadline).map { $0.name + "\n" }.joined().utf8)
            } else {
                output = try await client.readFile(root, path: names, deadline: deadline)
            }
            _ = output.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            return true
        } catch {
            let message = Array("read9p: \(error)\n".utf8)
            _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            return false
        }
    }
}
