extension LaunchOptions {
    /// Takes `user@host` apart, as pdsh and clush do: the host is named by its name alone (in
    /// the output's prefix, the namespace and `CLUSTER_PROC_NODELIST`) and logged into as `user`.
    /// - Parameter targets: the selected hosts, some perhaps `user@host`.
    /// - Returns: the host names in order, and the login user of each host that named one.
    /// - Throws: ``LaunchError`` for an empty user or host, or a host named with two users.
    public static func splittingLogins(_ targets: [String]) throws(LaunchError) -> (hosts: [String], logins: [String: String]) {
        var hosts: [String] = []
        var logins: [String: String] = [:]
        var seen: Set<String> = []
        for target in targets {
            guard let at = target.lastIndex(of: "@") else {
                if seen.insert(target).inserted { hosts.append(target) }
                continue
            }
            let user = String(target[..<at])
            let host = String(target[target.index(after: at)...])
            guard !user.isEmpty, !host.isEmpty else {
                throw LaunchError("\(target.debugDescription): user@host needs both a user and a host")
            }
            if let other = logins[host], other != user {
                throw LaunchError("\(host) is named with two users, \(other) and \(user)")
            }
            logins[host] = user
            if seen.insert(host).inserted { hosts.append(host) }
        }
        return (hosts, logins)
    }
}
