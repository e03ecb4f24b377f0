import Logging
#if canImport(Glibc)
import Glibc
#endif
import NineP
import Synchronization
import SystemPackage

/// The family's 9P session with one node: the connection to its procsrv, the fids of the
/// node's /proc and job trees, and whether the node is up.
///
/// A node that fails turns into an error on its own files (EIO, or ETIMEDOUT for a call that
/// ran out of time), with the reason and the time it went down; other nodes never wait on it.
public final class NodeLink: Sendable {
    public let host: String
    /// Deadline for one remote call.
    public let timeout: Duration
    private let state = Mutex<State>(State())

    public enum Status: Sendable, Equatable {
        case connecting
        case up
        case down(reason: String, since: ContinuousClock.Instant, wallClock: Int)
    }

    struct State {
        var client: NinePClient?
        var procRoot: RemoteFid?
        var jobRoot: RemoteFid?
        var status: Status = .connecting
    }

    public init(host: String, timeout: Duration = .seconds(5)) {
        self.host = host
        self.timeout = timeout
    }

    /// Binds the link to a connected client and attaches the node's trees.
    /// - Throws: ``NinePError`` when the attach fails; the link is then down.
    public func attach(_ client: NinePClient, user: String) async throws(NinePError) {
        do throws(NinePError) {
            let deadline = ContinuousClock.now + timeout
            let proc = try await client.attach(uname: user, aname: "", deadline: deadline)
            let job = try? await client.attach(uname: user, aname: "job", deadline: deadline)
            state.withLock { state in
                state.client = client
                state.procRoot = proc
                state.jobRoot = job
                state.status = .up
            }
        } catch {
            markDown("attach failed: \(error)")
            throw error
        }
    }

    /// Records that the node is gone, once; later calls fail at once.
    public func markDown(_ reason: String) {
        let client = state.withLock { state -> NinePClient? in
            if case .down = state.status { return nil }
            state.status = .down(reason: reason, since: .now, wallClock: Int(time(nil)))
            return state.client
        }
        client?.close()
    }

    public var status: Status { state.withLock { $0.status } }

    public var isUp: Bool { if case .up = status { true } else { false } }

    /// The client and the root of the requested tree, or the error that stands for the node
    /// being unusable.
    public func root(job: Bool) throws(NinePError) -> (NinePClient, RemoteFid) {
        let (client, root, status) = state.withLock { ($0.client, job ? $0.jobRoot : $0.procRoot, $0.status) }
        if case .down(let reason, _, _) = status {
            throw NinePError(.connectionClosed, errno: .ioError, "\(host): node is down (\(reason))")
        }
        if let client, client.isClosed {
            markDown("connection lost")
            throw NinePError(.connectionClosed, errno: .ioError, "\(host): connection lost")
        }
        guard let client, let root else {
            throw NinePError(.connectionClosed, errno: job ? .noSuchFileOrDirectory : .ioError, "\(host): \(job ? "no job tree" : "not connected")")
        }
        return (client, root)
    }

    /// One remote call with the link's deadline. A timeout or closed connection marks the
    /// node down when the connection is gone.
    public func call(_ message: Message, deadline: ContinuousClock.Instant? = nil) throws(NinePError) -> Message {
        let (client, _) = try root(job: false)
        do {
            return try client.callBlocking(message, deadline: deadline ?? .now + timeout)
        } catch {
            throw failure(error)
        }
    }

    /// Requests sent back to back on the link, with its deadline; one round trip for all.
    /// A timeout or closed connection is handled as in ``call(_:deadline:)``, per result.
    public func pipeline(_ messages: [Message], deadline: ContinuousClock.Instant? = nil) throws(NinePError) -> [Result<Message, NinePError>] {
        let (client, _) = try root(job: false)
        return client.pipelineBlocking(messages, deadline: deadline ?? .now + timeout).map { result in
            result.mapError(failure)
        }
    }

    /// A call's error as the family passes it on: a closed connection marks the node down,
    /// a timeout names the node, and the node's errno goes on only when it is one of
    /// Linux's; any other, and a reply that breaks the protocol, is `EIO`.
    public func failure(_ error: NinePError) -> NinePError {
        if error.code == .connectionClosed { markDown("connection lost: \(error.message)") }
        if error.code == .timedOut { return NinePError(.timedOut, errno: .timedOut, "\(host): no answer within \(timeout)") }
        var checked = error
        switch error.code {
        case .malformedMessage, .protocolViolation, .unknownMessageType: checked.errno = .ioError
        default: checked.errno = Errno(rawValue: FileError.kernelErrno(error.errno.rawValue))
        }
        return checked
    }

    /// The error for a reply of the node that makes no sense (`EIO`).
    public static func nonsense(_ message: String) -> NinePError {
        NinePError(.protocolViolation, errno: .ioError, message)
    }

    /// The client of this link, for callers that manage their own requests.
    public var client: NinePClient? { state.withLock { $0.client } }

    /// Closes the connection.
    public func close() {
        state.withLock { $0.client }?.close()
    }
}
