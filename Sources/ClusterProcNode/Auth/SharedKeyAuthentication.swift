import NineP
import SystemPackage

/// Shared-key authentication over 9P's Tauth, version 1: both sides prove they hold the same
/// ``SharedKey``, bound to fresh nonces, the user and the attach name. `docs/auth.md` says the
/// same at more length.
///
/// The exchange, on the auth fid `afid` (reads and writes straight on it, without an open):
///
/// 1. Client: `Tauth(afid, uname, aname)`. The server makes a fresh 32-byte server nonce
///    `Ns` (getrandom(2)) for this fid alone.
/// 2. Client: `Tread(afid, 0, 32)` → `Ns`.
/// 3. Client: one `Twrite(afid, 0, Nc | Mc)` of exactly 64 bytes: its own fresh 32-byte
///    nonce `Nc`, then `Mc = HMAC-SHA256(key, "cluster-proc-auth-v1 client" | Ns | Nc | s(uname) | s(aname))`.
///    The server checks `Mc` in constant time. On success the fid is authenticated for
///    `uname` and `aname`; on failure (a wrong MAC, fewer or more than 64 bytes, a second
///    write) the write fails with EACCES and the fid is dead for good.
/// 4. Client: `Tread(afid, 0, 32)` → `Ms = HMAC-SHA256(key, "cluster-proc-auth-v1 server" | Ns | Nc | s(uname) | s(aname))`,
///    which the client checks in constant time: only a holder of the key could make it for
///    the client's fresh `Nc`, so the server is proven too (mutual authentication).
/// 5. Client: `Tattach(fid, afid, uname, aname)`, with the same uname and aname.
///
/// `s(x)` is a string as 9P writes one: its UTF-8 length as 2 bytes little-endian, then the
/// bytes, so no two (uname, aname) pairs give the same input. The two labels differ, so a
/// server's proof can never pass for a client's. Reads are at offsets within the message the
/// server holds at that step (the nonce, then the proof); write offsets are ignored.
///
/// A connection gets at most ``maximumFailures`` failed exchanges and ``maximumExchanges``
/// Tauth in all; after that Tauth fails with EACCES.
///
/// What this does not do: encrypt or protect the integrity of the traffic after the attach.
public enum SharedKeyAuthentication {
    /// The protocol's name and version, the prefix of both MAC labels.
    public static let version = "cluster-proc-auth-v1"
    /// Bytes in a nonce (server's or client's).
    public static let nonceLength = 32
    /// Bytes in a MAC (HMAC-SHA256).
    public static let macLength = 32
    /// Bytes in the client's one write: its nonce and its MAC.
    public static let clientMessageLength = nonceLength + macLength
    /// Failed exchanges one connection may make before Tauth is refused.
    public static let maximumFailures = 3
    /// Tauth requests one connection may make, failed or not.
    public static let maximumExchanges = 32

    static let clientLabel = Array("\(version) client".utf8)
    static let serverLabel = Array("\(version) server".utf8)

    // MARK: - Client

    /// Runs the exchange as a client and returns the authenticated afid, for
    /// `client.attach(uname: uname, aname: aname, authFid: afid)` with the same uname and aname.
    /// Clunk the afid once attached (or keep it for later attaches of the same tree).
    ///
    /// - Parameters:
    ///   - client: a connected client (any dialect).
    ///   - key: the key the server was started with.
    ///   - uname: the user to attach as.
    ///   - aname: the tree to attach ("" for /proc on procsrv).
    ///   - deadline: for every call of the exchange.
    /// - Throws: ``AuthenticationError`` (`rejected` when the server refused our proof,
    ///   `serverNotProven` when its proof was wrong, `malformedExchange`), or the
    ///   `NinePError` of the connection (e.g. ENOENT from a server that needs no authentication).
    public static func authenticate(
        client: NinePClient, key: SharedKey, uname: String, aname: String = "", deadline: ContinuousClock.Instant? = nil
    ) async throws -> UInt32 {
        let afid = client.allocateFid()
        do {
            guard case .rauth = try await client.call(.tauth(Tauth(afid: afid, uname: uname, aname: aname)), deadline: deadline) else {
                throw AuthenticationError(.malformedExchange, "unexpected answer to Tauth")
            }
        } catch {
            client.releaseFid(afid)
            throw error
        }
        do {
            let serverNonce = try await readMessage(client: client, afid: afid, count: nonceLength, deadline: deadline, what: "server nonce")
            let clientNonce = try randomBytes(nonceLength)
            let proof = clientMAC(key: key, serverNonce: serverNonce, clientNonce: clientNonce, uname: uname, aname: aname)
            do {
                let reply = try await client.call(.twrite(Twrite(fid: afid, offset: 0, data: clientNonce + proof)), deadline: deadline)
                guard case .rwrite(let written) = reply, written.count == UInt32(clientMessageLength) else {
                    throw AuthenticationError(.malformedExchange, "the server took only part of the client's proof")
                }
            } catch let error as NinePError where error.errno == .permissionDenied {
                throw AuthenticationError(.rejected, "the server refused the key: \(error.message)", errno: error.errno)
            }
            let serverProof = try await readMessage(client: client, afid: afid, count: macLength, deadline: deadline, what: "server proof")
            guard isValid(serverProof, for: serverLabel, key: key, serverNonce: serverNonce, clientNonce: clientNonce, uname: uname, aname: aname) else {
                throw AuthenticationError(.serverNotProven, "the server's proof is wrong: it does not hold our key")
            }
            return afid
        } catch {
            _ = try? await client.call(.tclunk(Tclunk(fid: afid)), deadline: deadline)
            client.releaseFid(afid)
            throw error
        }
    }

    /// Reads exactly `count` bytes of the server's current message from offset 0.
    private static func readMessage(
        client: NinePClient, afid: UInt32, count: Int, deadline: ContinuousClock.Instant?, what: String
    ) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let request = Tread(fid: afid, offset: UInt64(bytes.count), count: UInt32(count - bytes.count))
            guard case .rread(let reply) = try await client.call(.tread(request), deadline: deadline) else {
                throw AuthenticationError(.malformedExchange, "unexpected answer to Tread of the \(what)")
            }
            guard !reply.data.isEmpty, reply.data.count <= count - bytes.count else {
                throw AuthenticationError(.malformedExchange, "the \(what) has \(bytes.count + reply.data.count) bytes, not \(count)")
            }
            bytes += reply.data
        }
        return bytes
    }

    // MARK: - Both sides

    /// The client's proof for one exchange.
    static func clientMAC(key: SharedKey, serverNonce: [UInt8], clientNonce: [UInt8], uname: String, aname: String) -> [UInt8] {
        mac(clientLabel, key: key, serverNonce: serverNonce, clientNonce: clientNonce, uname: uname, aname: aname)
    }

    /// The server's proof for one exchange.
    static func serverMAC(key: SharedKey, serverNonce: [UInt8], clientNonce: [UInt8], uname: String, aname: String) -> [UInt8] {
        mac(serverLabel, key: key, serverNonce: serverNonce, clientNonce: clientNonce, uname: uname, aname: aname)
    }

    /// Checks a proof in constant time.
    static func isValid(
        _ proof: [UInt8], for label: [UInt8], key: SharedKey, serverNonce: [UInt8], clientNonce: [UInt8], uname: String, aname: String
    ) -> Bool {
        guard proof.count == macLength else { return false }
        let input = macInput(label, serverNonce: serverNonce, clientNonce: clientNonce, uname: uname, aname: aname)
        return HMACSHA256.isValid(proof, key: key.bytes, message: input)
    }

    private static func mac(_ label: [UInt8], key: SharedKey, serverNonce: [UInt8], clientNonce: [UInt8], uname: String, aname: String) -> [UInt8] {
        let input = macInput(label, serverNonce: serverNonce, clientNonce: clientNonce, uname: uname, aname: aname)
        return HMACSHA256.code(key: key.bytes, message: input)
    }

    /// label | Ns | Nc | s(uname) | s(aname), strings as 9P writes them.
    static func macInput(_ label: [UInt8], serverNonce: [UInt8], clientNonce: [UInt8], uname: String, aname: String) -> [UInt8] {
        var input = label + serverNonce + clientNonce
        for text in [uname, aname] {
            // 9P strings are at most 65535 bytes; Tauth could not carry a longer one.
            let bytes = Array(text.utf8.prefix(Int(UInt16.max)))
            input.append(UInt8(truncatingIfNeeded: bytes.count))
            input.append(UInt8(truncatingIfNeeded: bytes.count >> 8))
            input += bytes
        }
        return input
    }

    /// Fresh random bytes from the kernel's generator (/dev/urandom; seeded at boot).
    /// - Throws: `Errno` when /dev/urandom cannot be read.
    static func randomBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return bytes }
        let random = try FileDescriptor.open("/dev/urandom", .readOnly, options: [.closeOnExec])
        defer { try? random.close() }
        var filled = 0
        while filled < count {
            let got = try bytes.withUnsafeMutableBytes { buffer in
                try random.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), retryOnInterrupt: true)
            }
            guard got > 0 else { throw Errno.ioError }
            filled += got
        }
        return bytes
    }
}
