/// Looks at `condition` until it holds or `timeout` passes, pausing `interval` between looks:
/// for what a test can only observe from outside (a process gone, a descriptor closed).
/// - Returns: whether the condition held in time (it is looked at once more at the end).
public func eventually(
    within timeout: Duration, every interval: Duration = .milliseconds(10),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}
