import Logging
import NineP
import Synchronization

/// The server's side of one ``SharedKeyAuthentication`` exchange: the file of one auth fid.
///
/// Its states: challenged (reads give the server nonce; one write is taken), then
/// authenticated (reads give the server's proof) or failed (everything fails with EACCES).
public final class SharedKeyAuthenticationFile: AuthenticationFile {
    public var ioDuration: CallDuration { .immediate }
    private enum Phase {
        case challenged
        case authenticated(serverProof: [UInt8])
        case failed(String)
    }

    private let key: SharedKey
    private let request: AttachRequest
    private let serverNonce: [UInt8]
    private let attempts: AuthenticationAttempts
    private let logger: Logger
    private let phase = Mutex(Phase.challenged)

    /// A new exchange with a fresh server nonce.
    /// - Throws: `Errno` when the kernel gives no random bytes.
    init(key: SharedKey, request: AttachRequest, attempts: AuthenticationAttempts, logger: Logger) throws {
        self.key = key
        self.request = request
        self.attempts = attempts
        self.logger = logger
        serverNonce = try SharedKeyAuthentication.randomBytes(SharedKeyAuthentication.nonceLength)
    }

    public var isAuthenticated: Bool {
        phase.withLock { if case .authenticated = $0 { true } else { false } }
    }

    public var user: String { request.uname }

    public func read(offset: UInt64, count: Int, context: RequestContext) throws -> [UInt8] {
        let message = try phase.withLock { phase -> [UInt8] in
            switch phase {
            case .challenged: return serverNonce
            case .authenticated(let proof): return proof
            case .failed(let reason): throw NinePError(.permissionDenied, reason)
            }
        }
        guard offset < UInt64(message.count), count > 0 else { return [] }
        let start = Int(offset)
        return Array(message[start..<min(message.count, start + count)])
    }

    public func write(offset: UInt64, data: [UInt8], context: RequestContext) throws -> Int {
        // A write to an exchange that is over is refused without counting as another attempt.
        let outcome = phase.withLock { phase -> Result<Void, NinePError>? in
            guard case .challenged = phase else { return nil }
            let failure: String
            if data.count != SharedKeyAuthentication.clientMessageLength {
                failure = "authentication failed: the client's message has \(data.count) bytes, not \(SharedKeyAuthentication.clientMessageLength) (nonce and HMAC-SHA256)"
            } else {
                let clientNonce = Array(data[0..<SharedKeyAuthentication.nonceLength])
                let proof = Array(data[SharedKeyAuthentication.nonceLength...])
                let valid = SharedKeyAuthentication.isValid(
                    proof, for: SharedKeyAuthentication.clientLabel, key: key, serverNonce: serverNonce, clientNonce: clientNonce,
                    uname: request.uname, aname: request.aname)
                if valid {
                    let serverProof = SharedKeyAuthentication.serverMAC(
                        key: key, serverNonce: serverNonce, clientNonce: clientNonce, uname: request.uname, aname: request.aname)
                    phase = .authenticated(serverProof: serverProof)
                    return .success(())
                }
                failure = "authentication failed: wrong key (the proof does not match)"
            }
            phase = .failed(failure + "; start again with a new Tauth")
            return .failure(NinePError(.permissionDenied, failure))
        }
        switch outcome {
        case nil:
            throw phase.withLock { phase in
                if case .failed(let reason) = phase { return NinePError(.permissionDenied, reason) }
                return NinePError(.permissionDenied, "already authenticated; the exchange takes one write")
            }
        case .success:
            attempts.succeeded(request)
            logger.debug("authenticated", metadata: ["uname": "\(request.uname)", "aname": "\(request.aname)"])
            return data.count
        case .failure(let error):
            attempts.failed()
            logger.info("authentication failed", metadata: ["uname": "\(request.uname)", "aname": "\(request.aname)", "reason": "\(error.message)"])
            throw error
        }
    }
}

/// What one connection has done with authentication: the exchanges and failures it used up,
/// and the (uname, aname) pairs it proved.
final class AuthenticationAttempts: Sendable {
    private struct Pair: Hashable {
        var uname: String
        var aname: String
    }

    private struct State {
        var exchanges = 0
        var failures = 0
        var proven: Set<Pair> = []
    }

    private let state = Mutex(State())

    /// Counts a new exchange, or refuses it when the connection has used up its allowance.
    func begin() throws(NinePError) {
        try state.withLock { state throws(NinePError) in
            guard state.failures < SharedKeyAuthentication.maximumFailures else {
                throw NinePError(.permissionDenied, "too many failed authentication attempts on this connection (\(state.failures))")
            }
            guard state.exchanges < SharedKeyAuthentication.maximumExchanges else {
                throw NinePError(.permissionDenied, "too many authentication exchanges on this connection (at most \(SharedKeyAuthentication.maximumExchanges))")
            }
            state.exchanges += 1
        }
    }

    func failed() {
        state.withLock { $0.failures += 1 }
    }

    func succeeded(_ request: AttachRequest) {
        _ = state.withLock { $0.proven.insert(Pair(uname: request.uname, aname: request.aname)) }
    }

    func hasProven(_ request: AttachRequest) -> Bool {
        state.withLock { $0.proven.contains(Pair(uname: request.uname, aname: request.aname)) }
    }
}
