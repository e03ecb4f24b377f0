import Glibc
import Testing
@testable import ClusterProcNode

@Suite struct JobFamilyTests {
    @Test func familyHoldsTheRootAndItsDescendants() throws {
        let job = try startJob(["sh", "-c", "sleep 600 & sleep 600 & echo started; wait"])
        defer { job.terminateFamily() }
        #expect(JobStreamReader(job, .stdout).line() == "started")
        let pids = job.familyPIDs()
        #expect(pids.contains(job.rootPID))
        #expect(pids.count == 3)
        let table = JobProcessTable.snapshot()
        for pid in pids where pid != job.rootPID {
            #expect(table[pid]?.parentPID == job.rootPID)
        }
        #expect(!pids.contains(getpid()))
    }

    @Test func terminateEndsAPoliteFamilyQuicklyAndIsIdempotent() throws {
        try Job.becomeSubreaper()
        let job = try startJob(["sh", "-c", "sleep 600 & echo started; wait"])
        #expect(JobStreamReader(job, .stdout).line() == "started")
        let members = job.familyMembers()
        #expect(members.count == 2)
        let clock = ContinuousClock()
        let elapsed = clock.measure { job.terminateFamily(grace: .seconds(1)) }
        // About 1 s on an idle machine (the grace, then SIGKILL); the bound only guards against
        // a hang, since a loaded test machine stretches any timing.
        #expect(elapsed < .seconds(15))
        #expect(job.exitStatus == .signaled(SIGTERM))
        #expect(members.allSatisfy { !$0.exists })
        // A second call finds nothing to end and returns.
        job.terminateFamily()
        #expect(job.familyPIDs().isEmpty)
    }

    @Test func orphansAndStubbornMembersLeaveNothingBehind() throws {
        try Job.becomeSubreaper()
        #expect(Job.isSubreaper)
        let tool = try jobTestToolPath()
        // The root starts a child that ignores SIGTERM and a grandchild that double-forks a
        // SIGTERM-ignoring process into a session of its own, which then re-parents here.
        let job = try startJob(["sh", "-c", "\"$0\" ignore-term & \"$0\" orphan; wait", tool])
        let reader = JobStreamReader(job, .stdout)
        var ready: [Int32] = []
        while ready.count < 2, let line = reader.line() {
            if line.hasPrefix("ready "), let pid = Int32(line.dropFirst(6)) { ready.append(pid) }
        }
        #expect(ready.count == 2)

        let members = job.familyMembers()
        let memberPIDs = Set(members.map(\.pid))
        #expect(memberPIDs.isSuperset(of: ready))
        #expect(memberPIDs.contains(job.rootPID))
        // The double-forked process says "ready" as soon as it runs, which can be before its
        // parent has exited: it re-parents here only then, so wait for that (10 s at most).
        var table = JobProcessTable.snapshot()
        var orphans = ready.filter { table[$0]?.parentPID == getpid() }
        let patience = ContinuousClock.now + .seconds(10)
        while orphans.isEmpty, ContinuousClock.now < patience {
            usleep(5_000)  // the process table has no event to wait on
            table = JobProcessTable.snapshot()
            orphans = ready.filter { table[$0]?.parentPID == getpid() }
        }
        #expect(orphans.count == 1, "the double-forked process re-parents to this subreaper")
        for pid in orphans { #expect(table[pid]?.session == pid) }

        let clock = ContinuousClock()
        let elapsed = clock.measure { job.terminateFamily(grace: .seconds(1)) }
        // About 1 s on an idle machine (the grace, then SIGKILL); the bound only guards against
        // a hang, since a loaded test machine stretches any timing.
        #expect(elapsed < .seconds(15))

        // Nothing of the recorded family remains anywhere in the process table, not even a zombie.
        let after = JobProcessTable.snapshot()
        let survivors = members.filter { after[$0.pid]?.startTime == $0.startTime }
        #expect(survivors.isEmpty, "still there: \(survivors)")
        #expect(job.familyPIDs().isEmpty)
        #expect(job.exitStatus == .signaled(SIGTERM))
        // Every holder of the job's stdout is gone, so the stream ends.
        #expect(reader.rest() != nil)
    }

    @Test func recordedMemberIsNotConfusedWithAReusedPID() throws {
        let job = try startJob(["sleep", "600"])
        defer { job.terminateFamily() }
        let root = job.root
        #expect(root.exists)
        let impostor = FamilyMember(pid: root.pid, startTime: root.startTime + 1)
        #expect(!impostor.exists)
        #expect(!Job.send(SIGKILL, to: impostor))
        #expect(job.wait(deadline: .now + .milliseconds(100)) == nil)
        #expect(Job.send(SIGKILL, to: root))
        #expect(job.wait(deadline: jobTestDeadline()) == .signaled(SIGKILL))
    }

    @Test func parsesStatLinesWithAwkwardNames() throws {
        let line = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0\n"
        let entry = try #require(JobProcessTable.parseStat(Array(line.utf8)))
        #expect(entry.pid == 4242)
        #expect(entry.state == "S")
        #expect(entry.parentPID == 1)
        #expect(entry.session == 4242)
        #expect(entry.startTime == 987654)
        #expect(JobProcessTable.parseStat(Array("12 (x) S 1".utf8)) == nil)
    }
}
