import Foundation
import Glibc
import TestSupport
import Testing

// MARK: - Support shared by the Namespace*Tests files

/// Whether the machine can run the namespace end-to-end tests: root (to create the test
/// user and open /dev/fuse to it, as distributions ship it) and a FUSE device.
let namespaceTestsPossible = getuid() == 0 && access("/dev/fuse", F_OK) == 0

/// The ordinary user the tests run the namespace as.
let namespaceTestUser = "cpuser"

/// The test tool built beside the test bundle (`.build/<triple>/debug/cluster-proc-testtool`).
func namespaceTestToolPath() throws -> String {
    var candidates: [String] = []
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var directory = exe
    while !directory.isEmpty && directory != "/" {
        directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
        candidates.append("\(directory)/cluster-proc-testtool")
        if directory.hasSuffix("/debug") || directory.hasSuffix("/release") { break }
    }
    candidates.append(FileManager.default.currentDirectoryPath + "/.build/debug/cluster-proc-testtool")
    let found = candidates.first { access($0, X_OK) == 0 }
    return try #require(found, "cluster-proc-testtool not built; looked in \(candidates) (run swift build)")
}


/// Creates the test user and opens /dev/fuse to everyone, as distributions ship it.
func namespacePrepareMachine() throws {
    if try runToCompletion(["id", "-u", namespaceTestUser]).status != 0 {
        try #require(try runToCompletion(["useradd", "-m", namespaceTestUser]).status == 0)
    }
    try #require(chmod("/dev/fuse", 0o666) == 0)
}

/// The uid of a user.
func namespaceUID(of user: String) throws -> String {
    try runToCompletion(["id", "-u", user]).output.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A directory everyone may read, removed by the caller.
func namespaceFixture() throws -> String {
    var template = Array("/tmp/cluster-proc-ns-XXXXXX".utf8CString)
    let directory = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) })
    let root = String(cString: directory)
    chmod(root, 0o777)
    return root
}

/// Waits for a condition, polling it until a deadline.
func namespaceWait(seconds: Double = 30, for condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// Opens a FIFO for writing as soon as it has a reader (without blocking on it).
func namespaceOpenFIFOForWriting(_ path: String) -> Int32? {
    var fd: Int32 = -1
    _ = namespaceWait { fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC); return fd >= 0 }
    return fd >= 0 ? fd : nil
}

/// Whether any mount of our FUSE file system is visible to a fresh process outside.
func namespaceFuseMountVisible() throws -> Bool {
    let mountinfo = try runToCompletion(["cat", "/proc/self/mountinfo"]).output
    return mountinfo.contains("fuse.cluster-proc") || mountinfo.contains("/realproc")
}

/// Processes whose command line mentions `marker`, other than ourselves.
func namespaceProcesses(mentioning marker: String) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return names.filter { name in
        guard Int32(name) != nil, Int32(name) != getpid(),
            let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline")
        else { return false }
        return String(decoding: data, as: UTF8.self).contains(marker)
    }
}

// MARK: - Tests

/// Real commands run in the private namespace through `cluster-proc-testtool ns-exec`, as
/// root and as an ordinary user.
@Suite(.serialized, .enabled(if: namespaceTestsPossible, "needs root (to set up the test user) and /dev/fuse"))
struct NamespaceExecTests {
    /// Runs a shell script in the namespace as `user`, with hostA and hostB from the fixture.
    private func startNamespace(user: String, fixture: String, script: String) throws -> Process {
        let tool = try namespaceTestToolPath()
        var arguments = ["timeout", "120"]
        if user != "root" { arguments += ["runuser", "-u", user, "--"] }
        arguments += [
            tool, "ns-exec", "--dir", "hostA=\(fixture)/a", "--dir", "hostB=\(fixture)/b", "--", "sh", "-c", script,
        ]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: "\(fixture)/out/stdout")
        process.standardError = FileHandle(forWritingAtPath: "\(fixture)/out/stderr")
        try process.run()
        return process
    }

    private func makeHosts(in fixture: String) throws -> String {
        let manager = FileManager.default
        for directory in ["a/sub", "b", "out"] {
            try manager.createDirectory(atPath: "\(fixture)/\(directory)", withIntermediateDirectories: true)
        }
        chmod("\(fixture)/out", 0o777)
        let secret = "bytes of hostA \(UUID().uuidString)\n"
        try Data(secret.utf8).write(to: URL(fileURLWithPath: "\(fixture)/a/somefile"))
        try manager.createSymbolicLink(atPath: "\(fixture)/a/link", withDestinationPath: "target-\(getpid())")
        try Data("b\n".utf8).write(to: URL(fileURLWithPath: "\(fixture)/b/other"))
        for name in ["stdout", "stderr"] {
            #expect(manager.createFile(atPath: "\(fixture)/out/\(name)", contents: nil))
            chmod("\(fixture)/out/\(name)", 0o666)
        }
        #expect(mkfifo("\(fixture)/out/hold", 0o666) == 0)
        chmod("\(fixture)/out/hold", 0o666)
        return secret
    }

    @Test(arguments: ["root", namespaceTestUser])
    func commandsSeeHostsAndAnUnchangedLocalProc(user: String) throws {
        try namespacePrepareMachine()
        let fixture = try namespaceFixture()
        defer { try? FileManager.default.removeItem(atPath: fixture) }
        let secret = try makeHosts(in: fixture)
        let outside = try runToCompletion(["ps", "-e"]).output.split(separator: "\n").count

        let script = """
            echo @id; id -u
            echo @cat; cat /proc/hostA/somefile
            echo @readlink; readlink /proc/hostA/link
            echo @ls; ls /proc/hostA
            echo @self; sh -c 'echo $$; exec readlink /proc/self'
            echo @status; sh -c 'echo $$; exec cat /proc/self/status'
            echo @fd; ls -l /proc/self/fd; echo "rc=$?"
            echo @exe; readlink /proc/self/exe
            echo @ps; ps -e -o pid= | wc -l; ps -e -o pid= | grep -qx " *\(getpid())" && echo runner
            echo @top; top -bn1 | head -3; echo "rc=$?"
            echo ready > \(fixture)/out/ready
            read x < \(fixture)/out/hold
            echo @end
            """
        let process = try startNamespace(user: user, fixture: fixture, script: script)
        let ready = namespaceWait { FileManager.default.fileExists(atPath: "\(fixture)/out/ready") }
        // While the command runs, nothing of the namespace shows outside.
        #expect(ready, "the command never got ready")
        #expect(access("/proc/hostA", F_OK) != 0)
        #expect(try !namespaceFuseMountVisible())
        if let fd = namespaceOpenFIFOForWriting("\(fixture)/out/hold") {
            _ = write(fd, "go\n", 3)
            close(fd)
        }
        process.waitUntilExit()
        let output = try String(contentsOfFile: "\(fixture)/out/stdout", encoding: .utf8)
        let errors = try String(contentsOfFile: "\(fixture)/out/stderr", encoding: .utf8)
        #expect(process.terminationStatus == 0, "stderr: \(errors)")
        let parts = sections(output)

        #expect(parts["id"] == (try namespaceUID(of: user)))
        #expect(parts["cat"].map { $0 + "\n" } == secret)
        #expect(parts["readlink"] == "target-\(getpid())")
        #expect(parts["ls"] == "link\nsomefile\nsub")
        let selfLines = parts["self"]?.split(separator: "\n") ?? []
        #expect(selfLines.count == 2 && selfLines.first == selfLines.last, "readlink /proc/self: \(selfLines)")
        let statusLines = parts["status"]?.split(separator: "\n") ?? []
        let shellPid = try #require(statusLines.first)
        #expect(statusLines.contains { $0 == "Pid:\t\(shellPid)" }, "\(statusLines.prefix(8))")
        #expect(parts["fd"]?.contains(" 0 -> ") == true && parts["fd"]?.hasSuffix("rc=0") == true, "\(parts["fd"] ?? "")")
        #expect(parts["exe"]?.hasSuffix("/readlink") == true, "\(parts["exe"] ?? "")")
        // ps inside sees this machine's processes: this test runner among them, and about as many
        // as outside (other tests start and end processes meanwhile, so only roughly).
        let psLines = parts["ps"]?.split(separator: "\n") ?? []
        let inside = psLines.first.flatMap { Int($0) } ?? 0
        #expect(psLines.contains("runner"), "ps -e inside lists this test runner (\(getpid()))")
        #expect(inside >= outside / 2 && inside <= outside * 2 + 20, "ps -e inside \(inside), outside \(outside)")
        #expect(parts["top"]?.contains("Tasks:") == true, "\(parts["top"] ?? "")")
        #expect(parts["end"] != nil)

        // Afterwards no mount, no path and no process of the namespace remains.
        #expect(access("/proc/hostA", F_OK) != 0)
        #expect(try !namespaceFuseMountVisible())
        #expect(namespaceWait { namespaceProcesses(mentioning: fixture).isEmpty }, "\(namespaceProcesses(mentioning: fixture))")
    }

    /// root's namespace lets every process in (a command may switch users), and the kernel
    /// checks each access against the modes and owners the hosts report.
    @Test func anotherUserInRootsNamespaceIsRefusedWhatRootMayRead() throws {
        try namespacePrepareMachine()
        let fixture = try namespaceFixture()
        defer { try? FileManager.default.removeItem(atPath: fixture) }
        _ = try makeHosts(in: fixture)
        try Data("root's secret\n".utf8).write(to: URL(fileURLWithPath: "\(fixture)/a/secret"))
        #expect(chmod("\(fixture)/a/secret", 0o400) == 0)

        let script = """
            echo @other; setpriv --reuid=nobody --regid=nogroup --clear-groups cat /proc/hostA/secret 2>&1; echo "rc=$?"
            echo @otherls; setpriv --reuid=nobody --regid=nogroup --clear-groups ls /proc/hostA 2>&1; echo "rc=$?"
            echo @root; cat /proc/hostA/secret; echo "rc=$?"
            """
        let process = try startNamespace(user: "root", fixture: fixture, script: script)
        process.waitUntilExit()
        let output = try String(contentsOfFile: "\(fixture)/out/stdout", encoding: .utf8)
        #expect(process.terminationStatus == 0)
        let parts = sections(output)
        #expect(parts["other"]?.contains("Permission denied") == true && parts["other"]?.hasSuffix("rc=1") == true, "\(parts["other"] ?? "")")
        #expect(parts["otherls"]?.hasSuffix("rc=0") == true && parts["otherls"]?.contains("secret") == true, "what others may read they still read")
        #expect(parts["root"] == "root's secret\nrc=0")
    }

    @Test func blockedBackendCallDoesNotBlockAnotherHost() throws {
        try namespacePrepareMachine()
        let fixture = try namespaceFixture()
        defer { try? FileManager.default.removeItem(atPath: fixture) }
        let secret = try makeHosts(in: fixture)
        // hostB's "stuck" is a FIFO: the backend's open and read of it block.
        #expect(mkfifo("\(fixture)/b/stuck", 0o666) == 0)

        let script = """
            cat /proc/hostB/stuck > \(fixture)/out/stuck.txt &
            read x < \(fixture)/out/hold
            cat /proc/hostA/somefile > \(fixture)/out/a.tmp && mv \(fixture)/out/a.tmp \(fixture)/out/a.txt
            wait
            """
        let process = try startNamespace(user: "root", fixture: fixture, script: script)
        // Once the FIFO has a reader the backend is inside its open; holding the write end
        // open without writing keeps it blocked in read.
        let stuck = try #require(namespaceOpenFIFOForWriting("\(fixture)/b/stuck"), "the backend never opened the FIFO")
        let hold = try #require(namespaceOpenFIFOForWriting("\(fixture)/out/hold"))
        _ = write(hold, "go\n", 3)
        close(hold)

        let readHostA = namespaceWait { FileManager.default.fileExists(atPath: "\(fixture)/out/a.txt") }
        #expect(readHostA, "reading hostA waited for the blocked hostB call")
        #expect(try String(contentsOfFile: "\(fixture)/out/a.txt", encoding: .utf8) == secret)
        #expect(try String(contentsOfFile: "\(fixture)/out/stuck.txt", encoding: .utf8) == "")

        _ = write(stuck, "released\n", 9)
        close(stuck)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try String(contentsOfFile: "\(fixture)/out/stuck.txt", encoding: .utf8) == "released\n")
        #expect(try !namespaceFuseMountVisible())
    }
}
