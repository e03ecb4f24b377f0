/// How to reach one node over SSH, in the terms of OpenSSH's `ssh(1)` and `ssh_config(5)`.
///
/// Whatever is left `nil` comes from the SSH client configuration: the file named by
/// `configFile` (like `ssh -F`), else `~/.ssh/config` and `/etc/ssh/ssh_config` as OpenSSH
/// reads them. Values set here win over the configuration, as command-line options do.
public struct SSHOptions: Sendable, Hashable {
    /// What OpenSSH does with a host key that `known_hosts` does not vouch for; the raw
    /// values are OpenSSH's spellings.
    public enum StrictHostKeyChecking: String, Sendable, Hashable {
        /// Refuse unknown and changed host keys (OpenSSH's `yes`; also its batch-mode default).
        case yes
        /// Add unknown host keys to `known_hosts`, refuse changed ones (`accept-new`).
        case acceptNew = "accept-new"
        /// Add unknown host keys, and only warn about changed ones (`no`).
        case no
    }

    /// The host as the user typed it (a `Host` alias in the configuration, a name or an address).
    public var host: String
    /// The remote user; `nil` takes the configuration's `User`, else the local user name.
    public var user: String?
    /// The remote port; `nil` takes the configuration's `Port`, else 22.
    public var port: Int?
    /// The client configuration file (`ssh -F`); `nil` reads the user's and the system's.
    public var configFile: String?
    /// Identity files tried in addition to those the configuration names (`ssh -i`).
    public var identityFiles: [String]
    /// How long connecting, key exchange and authentication may take together; also the
    /// limit for each later request (opening a channel, starting a command).
    public var connectTimeout: Duration
    /// What to do with unknown or changed host keys.
    public var strictHostKeyChecking: StrictHostKeyChecking
    /// The `known_hosts` file to check and update; `nil` takes the configuration's
    /// `UserKnownHostsFile`, else `~/.ssh/known_hosts`.
    public var knownHostsFile: String?

    /// - Parameters:
    ///   - host: the host as typed: a configuration alias, a name or an address.
    ///   - user: the remote user, or `nil` for the configuration's or the local one.
    ///   - port: the remote port, or `nil` for the configuration's or 22.
    ///   - configFile: the client configuration (`-F`), or `nil` for `~/.ssh/config`.
    ///   - identityFiles: extra private keys to offer.
    ///   - connectTimeout: the deadline for connecting and for each later request.
    ///   - strictHostKeyChecking: what to do with unknown or changed host keys.
    ///   - knownHostsFile: the `known_hosts` file, or `nil` for the configuration's.
    public init(
        host: String, user: String? = nil, port: Int? = nil, configFile: String? = nil,
        identityFiles: [String] = [], connectTimeout: Duration = .seconds(10),
        strictHostKeyChecking: StrictHostKeyChecking = .yes, knownHostsFile: String? = nil
    ) {
        self.host = host
        self.user = user
        self.port = port
        self.configFile = configFile
        self.identityFiles = identityFiles
        self.connectTimeout = connectTimeout
        self.strictHostKeyChecking = strictHostKeyChecking
        self.knownHostsFile = knownHostsFile
    }
}
