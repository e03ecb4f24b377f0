import ArgumentParser
import Glibc
import NineP

/// A directory served by ``NinePListener`` in a process of its own, with as few descriptors
/// as a test asks for, so that the test can watch the listener run out of them.
struct ServeDirectoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-directory",
        abstract: "Serve DIRECTORY over 9P on ADDRESS; print 'listening on ADDRESS' on stderr.")

    @Option(help: "Lower RLIMIT_NOFILE to this many descriptors first.")
    var descriptors: Int?

    @Argument(help: "tcp:127.0.0.1:0 or unix:PATH.")
    var address: String

    @Argument(help: "The directory to serve.")
    var directory: String

    func run() throws {
        if let descriptors {
            // Descriptors a test runner let leak into this process would count against the
            // limit: only standard input, output and error are kept.
            var current = rlimit()
            _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &current)
            for fd in 3..<Int32(clamping: current.rlim_cur) { close(fd) }
            var limit = rlimit(rlim_cur: rlim_t(descriptors), rlim_max: rlim_t(descriptors))
            guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { throw ExitCode(2) }
        }
        let listener = try NinePListener(try NinePAddress(parsing: address))
        try listener.serve(try DirectoryFileSystem(root: directory))
        let line = Array("listening on \(listener.address)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        while true { pause() }
    }
}
