import Glibc
import Logging
import Testing
@testable import ClusterProcNode

// MARK: - Support shared by the Job*Tests files

/// The test tool built beside the test bundle (`.build/<triple>/debug/cluster-proc-testtool`).
func jobTestToolPath() throws -> String {
    var candidates: [String] = []
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if length > 0 {
        let exe = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var directory = exe
        // The bundle may be a directory (…/X.xctest/…) or the executable itself.
        while !directory.isEmpty && directory != "/" {
            directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
            candidates.append("\(directory)/cluster-proc-testtool")
            if directory.hasSuffix("/debug") || directory.hasSuffix("/release") { break }
        }
    }
    if let cwd = getcwd(nil, 0) {
        candidates.append("\(String(cString: cwd))/.build/debug/cluster-proc-testtool")
        free(cwd)
    }
    let found = candidates.first { access($0, X_OK) == 0 }
    return try #require(found, "cluster-proc-testtool not built; looked in \(candidates) (run swift build)")
}

let jobTestLogger = Logger(label: "cluster-proc.job-tests")

/// A deadline a few seconds ahead: long enough for a loaded two-core machine, and a test
/// that fails still ends.
func jobTestDeadline(seconds: Int = 20) -> ContinuousClock.Instant {
    .now + .seconds(seconds)
}

func startJob(_ argv: [String], environment: [String: String]? = nil, workingDirectory: String? = nil,
              outputBufferSize: Int = 1 << 20) throws -> Job {
    let env = environment ?? ["PATH": "/usr/local/bin:/usr/bin:/bin"]
    return try Job.start(argv: argv, environment: env, workingDirectory: workingDirectory,
                         outputBufferSize: outputBufferSize, logger: jobTestLogger)
}

/// Reads one of a job's streams line by line or to its end, keeping what a chunk held beyond a line.
final class JobStreamReader {
    let job: Job
    let stream: Job.Output
    private var pending: [UInt8] = []

    init(_ job: Job, _ stream: Job.Output) {
        self.job = job
        self.stream = stream
    }

    /// The next line without its newline; nil at EOF or the deadline.
    func line(deadline: ContinuousClock.Instant = jobTestDeadline()) -> String? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeFirst(newline + 1)
                return line
            }
            guard case .chunk(let bytes) = job.readOutput(stream, maxBytes: 4096, deadline: deadline) else { return nil }
            pending += bytes
        }
    }

    /// Everything up to EOF; nil when the deadline passes first.
    func rest(deadline: ContinuousClock.Instant = jobTestDeadline()) -> [UInt8]? {
        while true {
            switch job.readOutput(stream, maxBytes: 1 << 16, deadline: deadline) {
            case .chunk(let bytes): pending += bytes
            case .eof:
                defer { pending = [] }
                return pending
            case .timedOut: return nil
            }
        }
    }

    func restText(deadline: ContinuousClock.Instant = jobTestDeadline()) -> String? {
        rest(deadline: deadline).map { String(decoding: $0, as: UTF8.self) }
    }
}

// MARK: - Starting, streams, exit

@Suite struct JobTests {
    @Test func stdoutAndStderrStayApart() throws {
        let job = try startJob(["sh", "-c", "echo out; echo err >&2; echo out2; exit 3"])
        #expect(JobStreamReader(job, .stdout).restText() == "out\nout2\n")
        #expect(JobStreamReader(job, .stderr).restText() == "err\n")
        #expect(job.wait(deadline: jobTestDeadline()) == .exited(3))
        #expect(job.exitStatus == .exited(3))
    }

    @Test(arguments: [0, 1, 42, 255])
    func exitCodes(code: Int32) throws {
        let job = try startJob(["sh", "-c", "exit \(code)"])
        let status = try #require(job.wait(deadline: jobTestDeadline()))
        #expect(status == .exited(code))
        #expect(status.code == code)
        #expect(status.text == "exit \(code)")
    }

    @Test(arguments: [SIGKILL, SIGTERM, SIGUSR1])
    func signalDeathIsReported(signo: Int32) throws {
        let job = try startJob(["sh", "-c", "kill -\(signo) $$; sleep 5"])
        let status = try #require(job.wait(deadline: jobTestDeadline()))
        #expect(status == .signaled(signo))
        #expect(status.code == 128 + signo)
        #expect(status.text == "signal \(signo)")
    }

    @Test func missingCommandIsNamed() throws {
        let error = try #require(throws: JobError.self) {
            try startJob(["no-such-command-for-job-tests", "x"])
        }
        #expect(error.code == .commandNotFound)
        #expect(error.message == "no-such-command-for-job-tests: command not found")

        let pathError = try #require(throws: JobError.self) { try startJob(["/nonexistent/bin/tool"]) }
        #expect(pathError.code == .commandNotFound)
        #expect(pathError.message == "/nonexistent/bin/tool: No such file or directory")
    }

    @Test func badWorkingDirectoryIsNamed() throws {
        let error = try #require(throws: JobError.self) {
            try startJob(["true"], workingDirectory: "/nonexistent-job-dir")
        }
        #expect(error.code == .badWorkingDirectory)
        #expect(error.message == "cd /nonexistent-job-dir: No such file or directory")

        let fileError = try #require(throws: JobError.self) { try startJob(["true"], workingDirectory: "/etc/hostname") }
        #expect(fileError.message == "cd /etc/hostname: Not a directory")
    }

    @Test func workingDirectoryEnvironmentAndPathSearch() throws {
        let job = try startJob(["sh", "-c", "pwd; echo \"$GREETING\"; echo \"$\(Job.markerVariable)\""],
                               environment: ["PATH": "/bin", "GREETING": "hello there"], workingDirectory: "/usr/share")
        let reader = JobStreamReader(job, .stdout)
        #expect(reader.line() == "/usr/share")
        #expect(reader.line() == "hello there")
        #expect(reader.line() == job.marker)
        #expect(job.wait(deadline: jobTestDeadline()) == .exited(0))
    }

    @Test func childStartsCleanInANewSession() throws {
        // A descriptor without close-on-exec in this process must not leak into the job.
        let leaked = dup(2)
        #expect(leaked > 2)
        defer { close(leaked) }
        let job = try startJob(["sh", "-c",
                                "grep -E '^(SigIgn|SigBlk)' /proc/self/status; ls /proc/$$/fd; read _ || true"])
        let entry = try #require(JobProcessTable.entry(pid: job.rootPID))
        #expect(entry.session == job.rootPID)
        #expect(entry.processGroup == job.rootPID)
        job.closeInput()
        let lines = (JobStreamReader(job, .stdout).restText() ?? "").split(separator: "\n").map(String.init)
        #expect(lines.contains("SigIgn:\t0000000000000000"))
        #expect(lines.contains("SigBlk:\t0000000000000000"))
        let fds = Set(lines.compactMap { Int32($0) })
        #expect(fds.isSuperset(of: [0, 1, 2]))
        #expect(!fds.contains(leaked))
        #expect(job.wait(deadline: jobTestDeadline()) == .exited(0))
    }

    @Test func outputArrivesBeforeExit() throws {
        let job = try startJob(["sh", "-c", "echo first; read line; echo \"got $line\"; exit 7"])
        let reader = JobStreamReader(job, .stdout)
        #expect(reader.line() == "first")
        #expect(job.exitStatus == nil)
        #expect(job.readOutput(.stdout, maxBytes: 10, deadline: .now + .milliseconds(50)) == .timedOut)
        try job.writeInput(Array("hello\n".utf8))
        #expect(reader.line() == "got hello")
        #expect(reader.rest() == [])
        #expect(job.wait(deadline: jobTestDeadline()) == .exited(7))
    }

    @Test func closeInputEndsTheJobsInput() throws {
        let job = try startJob(["cat"])
        try job.writeInput(Array("abc".utf8))
        try job.writeInput(Array("def".utf8))
        job.closeInput()
        job.closeInput()
        #expect(JobStreamReader(job, .stdout).restText() == "abcdef")
        #expect(job.wait(deadline: jobTestDeadline()) == .exited(0))
        let error = try #require(throws: JobError.self) { try job.writeInput([1]) }
        #expect(error.code == .inputClosed)
    }

    @Test func writingToAJobThatStoppedReadingIsAClearError() throws {
        let job = try startJob(["true"])
        #expect(job.wait(deadline: jobTestDeadline()) == .exited(0))
        let error = try #require(throws: JobError.self) { try job.writeInput(Array(repeating: 0, count: 1 << 17)) }
        #expect(error.code == .inputClosed)
        #expect(error.errno == .brokenPipe)
    }

    @Test func largeOutputReadSlowlyIsCompleteAndBounded() throws {
        let total = 20 << 20
        let capacity = 1 << 20
        let job = try startJob([try jobTestToolPath(), "print-bytes", "\(total)"], outputBufferSize: capacity)

        // Nobody reads yet: the buffer fills to its bound and the job is held back, not finished.
        let deadline = jobTestDeadline()
        while job.bufferedOutput(.stdout) < capacity && ContinuousClock.now < deadline {
            JobSystemCalls.sleep(milliseconds: 5)
        }
        #expect(job.bufferedOutput(.stdout) == capacity)
        #expect(job.exitStatus == nil)

        var received = 0
        var mismatches = 0
        var checksum: UInt64 = 0
        var expectedChecksum: UInt64 = 0
        var largest = 0
        loop: while true {
            switch job.readOutput(.stdout, maxBytes: 48 * 1024, deadline: jobTestDeadline()) {
            case .chunk(let bytes):
                largest = max(largest, bytes.count)
                for byte in bytes {
                    let expected = jobTestPattern(received)
                    if byte != expected { mismatches += 1 }
                    checksum = checksum &* 1_099_511_628_211 ^ UInt64(byte)
                    expectedChecksum = expectedChecksum &* 1_099_511_628_211 ^ UInt64(expected)
                    received += 1
                }
                #expect(job.bufferedOutput(.stdout) <= capacity)
            case .eof: break loop
            case .timedOut:
                Issue.record("output stalled after \(received) bytes")
                break loop
            }
        }
        #expect(received == total)
        #expect(mismatches == 0)
        #expect(checksum == expectedChecksum)
        #expect(largest <= 48 * 1024)
        #expect(job.wait(deadline: jobTestDeadline()) == .exited(0))
    }
}

/// The pattern `cluster-proc-testtool print-bytes` writes (PrintBytesCommand.pattern).
func jobTestPattern(_ index: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: (index &* 131) ^ (index >> 11))
}

@Suite struct JobLifetimeTests {
    @Test func droppedJobIsNotHeldBackByUnreadOutput() throws {
        var job: Job? = try startJob([try jobTestToolPath(), "print-bytes", "\(4 << 20)"], outputBufferSize: 1 << 16)
        let root = try #require(job?.root)
        #expect(root.exists)
        job = nil
        // With nobody left to read, the output is drained and dropped, so the writer finishes.
        let deadline = jobTestDeadline()
        while root.exists && ContinuousClock.now < deadline {
            JobSystemCalls.sleep(milliseconds: 10)
        }
        #expect(!root.exists)
    }
}
