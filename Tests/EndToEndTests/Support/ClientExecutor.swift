import Foundation
import Testing

/// A task executor on a thread of its own, for tests whose clients must keep up with a
/// server's deadline (an attach within its timeout): the shared concurrency pool has two
/// threads here, which tests that block (waiting for a process, a namespace) can hold for
/// seconds while the whole suite runs.
final class ClientExecutor: TaskExecutor, @unchecked Sendable {
    /// One for all such tests: their clients only wait for the network, never block.
    static let shared = ClientExecutor()

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init() {
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "test-clients"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs a test's tasks (and their child tasks) on ``ClientExecutor``.
struct OnClientExecutor: TestTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await withTaskExecutorPreference(ClientExecutor.shared) { try await function() }
    }
}

extension Trait where Self == OnClientExecutor {
    /// The test's clients run on a thread of their own, so that they keep up with a server's
    /// deadline however long other tests hold the shared pool.
    static var clientsKeepUp: Self { OnClientExecutor() }
}
