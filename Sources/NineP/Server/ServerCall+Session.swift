// Tauth, Tattach and Twalk: where fids come from (attach(5), walk(5)).
extension ServerCall {
    func auth(_ m: Tauth, _ fs: FS) throws -> Outcome {
        try unused(m.afid)
        let attach = AttachRequest(uname: m.uname, aname: m.aname, numericUser: m.nUname == Tattach.noUname ? nil : m.nUname)
        let file = try fs.authenticate(attach, context: context)
        return .reply(
            .rauth(Rauth(aqid: Qid(type: .auth, path: UInt64(m.afid)))),
            .store(Fid(m.afid), ServerFid(kind: .auth(file), user: attach, path: []), replacing: false))
    }

    func attach(_ m: Tattach, _ fs: FS) throws -> Outcome {
        try unused(m.fid)
        let attach = AttachRequest(uname: m.uname, aname: m.aname, numericUser: m.nUname == Tattach.noUname ? nil : m.nUname)
        if m.afid == Tattach.noFid {
            guard fs.allowsUnauthenticatedAttach else { throw NinePError(.permissionDenied, "authentication required") }
        } else {
            let auth = try entry(m.afid)
            guard case .auth(let file) = auth.kind, file.isAuthenticated else {
                throw NinePError(.permissionDenied, "fid \(m.afid) is not an authenticated fid")
            }
            guard file.user == m.uname else { throw NinePError(.permissionDenied, "authenticated as \(file.user), not \(m.uname)") }
        }
        let root = HeldNode(try fs.attach(attach, context: context), fs)
        return .reply(
            .rattach(Rattach(qid: fs.qid(of: root.node))),
            .store(Fid(m.fid), ServerFid(kind: .node(root), user: attach, path: []), replacing: false))
    }

    /// walk(5): the fid must not be open to walk it in place (a walk from an open fid to a
    /// new fid is allowed: Linux's v9fs client does it); an invalid first name is an error,
    /// an invalid later one ends the walk there (a short Rwalk); newfid is made only when
    /// every name was walked.
    func walk(_ m: Twalk, _ fs: FS) throws -> Outcome {
        guard m.wnames.count <= Twalk.maxNames else {
            throw NinePError(.invalidArgument, "walk of \(m.wnames.count) names (at most \(Twalk.maxNames))")
        }
        let (start, entry) = try node(m.fid)
        if m.newfid == m.fid {
            if entry.open != nil { throw NinePError(.badFileDescriptor, "cannot walk open fid \(m.fid) in place") }
        } else {
            try unused(m.newfid)
        }
        let valid = Array(m.wnames.prefix(while: Self.isValidName))
        if valid.isEmpty, let first = m.wnames.first { try Self.validate(name: first) }
        var nodes = valid.isEmpty ? [] : try fs.walk(from: start.node, names: valid, context: context)
        if nodes.count > valid.count {
            // A file system that answers more steps than it was asked for is not believed.
            for node in nodes[valid.count...] { fs.release(node) }
            nodes.removeLast(nodes.count - valid.count)
        }
        let qids = nodes.map { fs.qid(of: $0) }
        guard nodes.count == m.wnames.count else {
            for node in nodes { fs.release(node) }
            return .reply(.rwalk(Rwalk(qids: qids)))
        }
        for node in nodes.dropLast() { fs.release(node) }
        // A clone shares the node; a walk holds the node it reached.
        let target = nodes.last.map { HeldNode($0, fs) } ?? start
        let walked = ServerFid(kind: .node(target), user: entry.user, path: entry.path(after: m.wnames))
        return .reply(.rwalk(Rwalk(qids: qids)), .store(Fid(m.newfid), walked, replacing: m.newfid == m.fid))
    }

    /// Tclunk: the fid is gone whatever happens; what it held is closed before the reply.
    func clunk(_ m: Tclunk, _ fs: FS) throws -> Outcome {
        guard let removed else { throw NinePError(.badFileDescriptor, "unknown fid \(m.fid)") }
        removed.close(fs)
        return .reply(.rclunk(Rclunk()))
    }

    /// remove(5): removes the file and clunks the fid, even when the remove fails; a fid
    /// opened ORCLOSE is removed once, not a second time on close.
    func remove(_ m: Tremove, _ fs: FS) throws -> Outcome {
        guard var removed else { throw NinePError(.badFileDescriptor, "unknown fid \(m.fid)") }
        removed.removeOnClose = false
        defer { removed.close(fs) }
        guard case .node(let held) = removed.kind else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is not a file's fid") }
        try fs.remove(held.node, context: context)
        return .reply(.rremove(Rremove()))
    }
}
