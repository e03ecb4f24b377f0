/// `-o NAME=VALUE`: the few ssh options the launcher takes on its command line. Everything
/// else belongs in the ssh configuration file (`-F`), which libssh reads as OpenSSH does.
extension LaunchOptions {
    /// Applies one `-o` option. Names are case-insensitive, as in ssh; `NAME VALUE` (a space
    /// instead of `=`) is accepted, as ssh accepts it.
    ///
    /// - `StrictHostKeyChecking=yes|accept-new|no` (`off` is `no`)
    /// - `UserKnownHostsFile=FILE`, `IdentityFile=FILE` (repeatable), `Port=N`, `User=NAME`
    /// - Throws: ``LaunchError`` for a malformed option, an unsupported name or a bad value.
    public mutating func apply(sshOption option: String) throws(LaunchError) {
        guard let separator = option.firstIndex(where: { $0 == "=" || $0 == " " }) else {
            throw LaunchError("-o \(option): expected NAME=VALUE")
        }
        let name = option[..<separator].lowercased()
        let value = String(option[option.index(after: separator)...]).trimmingSpaces()
        guard !name.isEmpty, !value.isEmpty else { throw LaunchError("-o \(option): expected NAME=VALUE") }
        switch name {
        case "stricthostkeychecking":
            let spelling = value.lowercased() == "off" ? "no" : value.lowercased()
            guard let checking = SSHOptions.StrictHostKeyChecking(rawValue: spelling) else {
                throw LaunchError("-o StrictHostKeyChecking takes yes, accept-new or no")
            }
            strictHostKeyChecking = checking
        case "userknownhostsfile": knownHostsFile = value
        case "identityfile": identityFiles.append(value)
        case "port":
            guard let number = Int(value), (1...65535).contains(number) else {
                throw LaunchError("-o Port takes a number from 1 to 65535")
            }
            port = number
        case "user": user = value
        default:
            throw LaunchError("-o \(option[..<separator]) is not supported (put it in the ssh config file, -F)")
        }
    }
}
