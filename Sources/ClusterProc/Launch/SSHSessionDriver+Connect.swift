import CLibSSH
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Connecting a session: TCP and key exchange, the host key as OpenSSH checks it, and
/// authentication, each failure said with what was tried.
extension SSHSessionDriver {
    // MARK: Connect

    func connect(_ options: SSHOptions) throws {
        let deadline = ContinuousClock.now + options.connectTimeout
        timeout = options.connectTimeout
        guard let session = ssh_new() else {
            throw SSHError(.connectFailed, host: host, "cannot create an SSH session")
        }
        self.session = session
        var verbosity: Int32 = 0
        ssh_options_set(session, SSH_OPTIONS_LOG_VERBOSITY, &verbosity)
        guard ssh_options_set(session, SSH_OPTIONS_HOST, options.host) == SSH_OK else {
            throw SSHError(.config, host: host, "bad host name", libsshMessage: libsshError())
        }
        // 9P is request and reply: small packets must leave at once, not wait for Nagle.
        var noDelay: Int32 = 1
        ssh_options_set(session, SSH_OPTIONS_NODELAY, &noDelay)
        // Before the configuration, so that a KexAlgorithms line there still wins.
        if ssh_options_set(session, SSH_OPTIONS_KEY_EXCHANGE, Self.preferredKex) != SSH_OK {
            logger.debug("libssh refused our key exchange preference", metadata: ["host": "\(host)"])
        }
        let parsed = options.configFile.map { ssh_options_parse_config(session, $0) }
            ?? ssh_options_parse_config(session, nil)
        guard parsed == SSH_OK else {
            throw SSHError(.config, host: host, "cannot read the SSH configuration \(options.configFile ?? "~/.ssh/config")",
                           libsshMessage: libsshError())
        }
        // The configuration's LogLevel would have libssh print to our stderr.
        ssh_options_set(session, SSH_OPTIONS_LOG_VERBOSITY, &verbosity)
        try set(SSH_OPTIONS_USER, options.user, "user")
        if let port = options.port {
            var value = UInt32(clamping: port)
            ssh_options_set(session, SSH_OPTIONS_PORT, &value)
        }
        for identity in options.identityFiles {
            try set(SSH_OPTIONS_ADD_IDENTITY, identity, "identity file")
        }
        try set(SSH_OPTIONS_KNOWNHOSTS, options.knownHostsFile, "known_hosts file")
        try set(SSH_OPTIONS_COMPRESSION, "no", "compression")

        setTimeout(deadline)
        guard ssh_connect(session) == SSH_OK else {
            let message = libsshError()
            let timedOut = deadline <= .now || message.lowercased().contains("timeout")
            let how = timedOut ? "timed out after \(options.connectTimeout)"
                : message.lowercased().contains("refused") ? "refused (nothing listens there)" : "failed"
            let account = "connecting to \(target()) \(how): \(message.isEmpty ? "libssh gave no reason" : message)"
            if timedOut {
                throw SSHError(.timeout, host: host, "connection timed out after \(options.connectTimeout)",
                               libsshMessage: message, account: account)
            }
            throw SSHError(.connectFailed, host: host, "cannot connect", libsshMessage: message, account: account)
        }
        do {
            try verifyHostKey(options)
        } catch let error as SSHError {
            let file = option(SSH_OPTIONS_KNOWNHOSTS) ?? "~/.ssh/known_hosts"
            throw SSHError(error.code, host: error.host, error.message, libsshMessage: error.libsshMessage,
                           account: "host key of \(target()) refused: checked against \(file) with StrictHostKeyChecking \(options.strictHostKeyChecking.rawValue)")
        }
        setTimeout(deadline)
        let auth = ssh_userauth_publickey_auto(session, nil, nil)
        switch auth {
        case SSH_AUTH_SUCCESS.rawValue:
            break
        case SSH_AUTH_DENIED.rawValue, SSH_AUTH_PARTIAL.rawValue:
            let user = currentUser() ?? "?"
            throw SSHError(.authDenied, host: host, "\(user)@\(options.host): Permission denied (publickey).",
                           libsshMessage: libsshError(),
                           account: "authentication at \(target()) denied: no identity offered was accepted (the server takes \(acceptedMethods()))")
        default:
            if deadline <= .now {
                throw SSHError(.timeout, host: host, "authentication timed out after \(options.connectTimeout)",
                               libsshMessage: libsshError(), account: "authentication at \(target()) timed out after \(options.connectTimeout)")
            }
            throw SSHError(.authDenied, host: host, "authentication failed", libsshMessage: libsshError(),
                           account: "authentication at \(target()) failed: \(libsshError())")
        }
        // Later requests (channels, commands) each get the whole timeout again.
        setTimeout(.now + options.connectTimeout)

        guard let event = ssh_event_new() else {
            throw SSHError(.system, host: host, "cannot create the session's event loop")
        }
        self.event = event
        ssh_event_add_session(event, session)
        ssh_event_add_fd(event, core.wakeFD, Int16(POLLIN), { fd, _, _ in
            drainWake(fd)
            return 0
        }, nil)
        logger.debug("connected", metadata: ["host": "\(host)", "user": "\(currentUser() ?? "?")"])
    }

    private func set(_ option: ssh_options_e, _ value: String?, _ what: String) throws {
        guard let value, let session else { return }
        guard ssh_options_set(session, option, value) == SSH_OK else {
            throw SSHError(.config, host: host, "bad \(what) '\(value)'", libsshMessage: libsshError())
        }
    }

    /// Makes each blocking libssh call give up at `deadline` (at least 1 ms: 0 means default).
    func setTimeout(_ deadline: ContinuousClock.Instant) {
        guard let session else { return }
        let (wholeSeconds, attoseconds) = max(ContinuousClock.now.duration(to: deadline), .milliseconds(1)).components
        var seconds = Int(clamping: wholeSeconds)
        var microseconds = Int(attoseconds / 1_000_000_000_000)
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &seconds)
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT_USEC, &microseconds)
    }

    func currentUser() -> String? { option(SSH_OPTIONS_USER) }

    private func option(_ which: ssh_options_e) -> String? {
        guard let session else { return nil }
        var value: UnsafeMutablePointer<CChar>?
        guard ssh_options_get(session, which, &value) == SSH_OK, let value else { return nil }
        defer { ssh_string_free_char(value) }
        return String(cString: value)
    }

    /// The user, address and port tried (after the configuration's `HostName` and `Port`).
    private func target() -> String {
        var port: UInt32 = 22
        if let session { _ = ssh_options_get_port(session, &port) }
        return "\(currentUser() ?? "?")@\(option(SSH_OPTIONS_HOST) ?? host) port \(port)"
    }

    /// The authentication methods the server named after refusing ours.
    private func acceptedMethods() -> String {
        guard let session else { return "?" }
        let mask = ssh_userauth_list(session, nil)
        let names = [(SSH_AUTH_METHOD_PUBLICKEY, "publickey"), (SSH_AUTH_METHOD_PASSWORD, "password"),
                     (SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive"), (SSH_AUTH_METHOD_HOSTBASED, "hostbased"),
                     (SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic")]
            .filter { mask & Int32($0.0) != 0 }.map(\.1)
        return names.isEmpty ? "none we know" : names.joined(separator: ",")
    }

    func libsshError() -> String {
        guard let session, let message = ssh_get_error(UnsafeMutableRawPointer(session)) else { return "" }
        return String(cString: message)
    }

    // MARK: Host key

    /// Checks the server's key against known_hosts as OpenSSH does, in OpenSSH's words.
    private func verifyHostKey(_ options: SSHOptions) throws {
        guard let session else { return }
        var key: ssh_key?
        guard ssh_get_server_publickey(session, &key) == SSH_OK, let key else {
            throw SSHError(.hostKey, host: host, "cannot get the server's host key", libsshMessage: libsshError())
        }
        defer { ssh_key_free(key) }
        let type = Self.openSSHKeyTypeName(ssh_key_type(key))
        var fingerprint = "?"
        var hash: UnsafeMutablePointer<UInt8>?
        var hashLength = 0
        if ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hashLength) == SSH_OK, let hash {
            if let text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hashLength) {
                fingerprint = String(cString: text)
                ssh_string_free_char(text)
            }
            var owned: UnsafeMutablePointer<UInt8>? = hash
            ssh_clean_pubkey_hash(&owned)
        }
        let name = options.host
        let state = ssh_session_is_known_server(session)
        switch state {
        case SSH_KNOWN_HOSTS_OK:
            return
        case SSH_KNOWN_HOSTS_CHANGED, SSH_KNOWN_HOSTS_OTHER:
            let changed = """
                @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
                @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
                @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
                IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
                Someone could be eavesdropping on you right now (man-in-the-middle attack)!
                It is also possible that a host key has just been changed.
                The fingerprint for the \(type) key sent by the remote host is
                \(fingerprint).
                """
            if options.strictHostKeyChecking == .no {
                logger.warning("\(changed)\nContinuing because StrictHostKeyChecking is no.",
                               metadata: ["host": "\(name)"])
                return
            }
            let what = state == SSH_KNOWN_HOSTS_OTHER
                ? "A host key of another type is known for \(name)" : "Host key for \(name) has changed"
            throw SSHError(.hostKey, host: name,
                           "\(changed)\n\(what) and you have requested strict checking.\nHost key verification failed.")
        case SSH_KNOWN_HOSTS_UNKNOWN, SSH_KNOWN_HOSTS_NOT_FOUND:
            guard options.strictHostKeyChecking != .yes else {
                throw SSHError(.hostKey, host: name,
                               "No \(type) host key is known for \(name) and you have requested strict checking.\nHost key verification failed.")
            }
            guard ssh_session_update_known_hosts(session) == SSH_OK else {
                throw SSHError(.hostKey, host: name, "cannot add the host key to known_hosts",
                               libsshMessage: libsshError())
            }
            logger.info("Warning: Permanently added '\(name)' (\(type)) to the list of known hosts.")
        default:
            throw SSHError(.hostKey, host: name, "cannot check the host key against known_hosts",
                           libsshMessage: libsshError())
        }
    }

    static func openSSHKeyTypeName(_ type: ssh_keytypes_e) -> String {
        switch type {
        case SSH_KEYTYPE_ED25519, SSH_KEYTYPE_ED25519_CERT01: "ED25519"
        case SSH_KEYTYPE_RSA, SSH_KEYTYPE_RSA_CERT01: "RSA"
        case SSH_KEYTYPE_ECDSA, SSH_KEYTYPE_ECDSA_P256, SSH_KEYTYPE_ECDSA_P384, SSH_KEYTYPE_ECDSA_P521,
             SSH_KEYTYPE_ECDSA_P256_CERT01, SSH_KEYTYPE_ECDSA_P384_CERT01, SSH_KEYTYPE_ECDSA_P521_CERT01: "ECDSA"
        case SSH_KEYTYPE_SK_ED25519, SSH_KEYTYPE_SK_ED25519_CERT01: "ED25519-SK"
        case SSH_KEYTYPE_SK_ECDSA, SSH_KEYTYPE_SK_ECDSA_CERT01: "ECDSA-SK"
        case SSH_KEYTYPE_DSS, SSH_KEYTYPE_DSS_CERT01: "DSA"
        default: ssh_key_type_to_char(type).map { String(cString: $0).uppercased() } ?? "UNKNOWN"
        }
    }
}
