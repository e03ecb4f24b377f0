import Synchronization

/// What a ``FileSystem`` call knows of the request it serves: who asked, and whether the
/// request was flushed or its connection closed meanwhile.
public final class RequestContext: Sendable {
    /// The user of the fid the request came through (from Tattach).
    public let user: AttachRequest?
    private let state = Mutex<State>(State())

    private struct State {
        var cancelled = false
        var handlers: [@Sendable () -> Void] = []
    }

    public init(user: AttachRequest?) {
        self.user = user
    }

    /// True once the request was flushed or the connection closed.
    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Runs `handler` when the request is cancelled (at once if it already is). A call that
    /// blocks uses it to wake itself.
    public func onCancel(_ handler: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.handlers.append(handler)
            return false
        }
        if runNow { handler() }
    }

    func cancel() {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.cancelled else { return [] }
            state.cancelled = true
            defer { state.handlers = [] }
            return state.handlers
        }
        for handler in handlers { handler() }
    }
}
