import NineP

/// `cluster-launch kill`: a signal to a running family's job on every node, from any terminal
/// of its user (or root), through the family's socket (as `scancel --signal` does for a step).
public enum FamilySignal {
    /// Sends `signal` to the job's whole family on every node (`hosts` limits it to some) that
    /// is up: each node's `ctl` is written `signal N` at once, each with the deadline. A node
    /// that is not up has no job left to signal (its job ended, or it was lost) and is passed over.
    /// - Returns: the nodes that were up but did not take the signal, with why.
    /// - Throws: ``NinePError`` when the family's socket cannot be reached at all, or
    ///   no node (of `hosts`) is up.
    public static func send(_ signal: Int32, socket: String, hosts: Set<String>? = nil,
                            timeout: Duration = .seconds(5)) async throws(NinePError) -> [(host: String, reason: String)] {
        let stream = try NinePAddress.unix(path: socket).connect()
        let client = try await offThePool { () throws(NinePError) -> NinePClient in try NinePClient.connect(over: stream, timeout: timeout) }
        defer { client.close() }
        let deadline = ContinuousClock.now + timeout
        let job = try await client.attach(uname: Launcher.currentUser(), aname: "job", deadline: deadline)
        let nodesFile = String(decoding: try await client.readFile(job, path: ["nodes"], limit: 1 << 20, deadline: deadline), as: UTF8.self)
        let targets = nodesFile.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ").map(String.init)
            guard words.count > 1, words[1] == "up", hosts?.contains(words[0]) ?? true else { return nil }
            return words[0]
        }
        guard !targets.isEmpty else {
            throw NinePError(.noSuchFileOrDirectory, "no node\(hosts == nil ? "" : " of those named") is running the job")
        }
        let command = Array("signal \(signal)\n".utf8)
        return await withTaskGroup(of: (String, String)?.self) { group in
            for host in targets {
                group.addTask {
                    do throws(NinePError) {
                        let ctl = try await client.walk(job, [host, "ctl"], deadline: deadline)
                        defer { client.clunkInBackground(ctl.number) }
                        _ = try await client.open(ctl, flags: LinuxOpenFlags.writeOnly, deadline: deadline)
                        _ = try await client.write(ctl, data: command, deadline: deadline)
                        return nil
                    } catch {
                        return (host, error.message)
                    }
                }
            }
            var unanswered: [(host: String, reason: String)] = []
            for await failure in group { if let failure { unanswered.append(failure) } }
            return unanswered.sorted { $0.host < $1.host }
        }
    }

}
