import Glibc
import NineP
import Testing
@testable import ClusterProcNode

@Suite struct JobControlTests {
    @Test func parsesEveryForm() throws {
        #expect(try JobControlCommand.parse("signal 9") == [.signal(SIGKILL)])
        #expect(try JobControlCommand.parse("signal TERM\n") == [.signal(SIGTERM)])
        #expect(try JobControlCommand.parse("signal SIGUSR1") == [.signal(SIGUSR1)])
        #expect(try JobControlCommand.parse("signal hup") == [.signal(SIGHUP)])
        #expect(try JobControlCommand.parse("  signal   int  ") == [.signal(SIGINT)])
        #expect(try JobControlCommand.parse("signal RTMIN+2") == [.signal(36)])
        #expect(try JobControlCommand.parse("kill") == [.kill])
        #expect(try JobControlCommand.parse("interrupt") == [.interrupt])
        #expect(try JobControlCommand.parse("signal USR2\n\ninterrupt\r\nkill\n") == [.signal(SIGUSR2), .interrupt, .kill])
        #expect(try JobControlCommand.parse("") == [])
    }

    @Test(arguments: ["signal FOO", "signal 0", "signal 65", "signal", "signal 1 2", "kill now",
                      "frobnicate", "interrupt\nbogus"])
    func rejectsWhatItCannotUnderstand(line: String) throws {
        let error = try #require(throws: JobError.self) { try JobControlCommand.parse(line) }
        #expect(error.code == .badControlCommand)
        #expect(error.message.hasPrefix("ctl: "))
    }

    @Test func badLineIsNamedAndNothingRuns() throws {
        let job = try startJob(["sleep", "600"])
        defer { job.terminateFamily() }
        let error = try #require(throws: JobError.self) { try job.controlCommand("interrupt\nsignal NOPE") }
        #expect(error.message == "ctl: unknown signal 'NOPE'")
        // The valid first line must not have run either.
        #expect(job.wait(deadline: .now + .milliseconds(200)) == nil)
    }

    @Test func exitStatusTextRoundTrips() {
        for status in [ExitStatus.exited(0), .exited(3), .exited(255), .signaled(9), .signaled(15)] {
            #expect(ExitStatus(text: status.text) == status)
            #expect(ExitStatus(text: status.text + "\n") == status)
        }
        #expect(ExitStatus.exited(3).text == "exit 3")
        #expect(ExitStatus.signaled(9).text == "signal 9")
        #expect(ExitStatus.signaled(9).code == 137)
        #expect(ExitStatus(text: "exit") == nil)
        #expect(ExitStatus(text: "quit 3") == nil)
        #expect(ExitStatus(text: "exit -1") == nil)
        #expect(ExitStatus(waitStatus: 3 << 8) == .exited(3))
        #expect(ExitStatus(waitStatus: SIGKILL) == .signaled(SIGKILL))
        #expect(ExitStatus(waitStatus: SIGKILL | 0x80) == .signaled(SIGKILL))  // core dumped
        #expect(ExitStatus(waitStatus: (SIGSTOP << 8) | 0x7f) == nil)  // stopped
    }

    @Test func signalReachesATrappingJob() throws {
        let job = try startJob(["sh", "-c", "trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.05; done"])
        defer { job.terminateFamily() }
        let reader = JobStreamReader(job, .stdout)
        #expect(reader.line() == "ready")
        try job.controlCommand("signal USR1")
        #expect(reader.line() == "got USR1")
        try job.controlCommand("signal SIGUSR1\n")
        #expect(reader.line() == "got USR1")
        #expect(job.exitStatus == nil)
        // kill does not ask first: SIGKILL, at once.
        try job.controlCommand("kill")
        #expect(job.exitStatus == .signaled(SIGKILL))
        #expect(job.familyPIDs().isEmpty)
    }

    @Test func interruptEndsAJobLikeControlC() throws {
        let job = try startJob(["sleep", "600"])
        try job.controlCommand("interrupt")
        #expect(job.wait(deadline: jobTestDeadline()) == .signaled(SIGINT))
    }

    @Test func terminationSignalsRunTheHandler() throws {
        let seen = ConditionLock<[Int32]>([])
        try Job.onTerminationSignals([SIGUSR2], logger: jobTestLogger) { signo in
            seen.withLock(notify: true) { $0.append(signo) }
        }
        kill(getpid(), SIGUSR2)
        let signals = seen.wait(deadline: jobTestDeadline()) { $0.isEmpty ? nil : $0 }
        #expect(signals == [SIGUSR2])
    }
}
