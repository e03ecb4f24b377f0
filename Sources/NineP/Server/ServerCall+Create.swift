// Tcreate, Tlcreate, Tsymlink, Tmknod, Tmkdir, Tlink, Trename, Trenameat, Tunlinkat: changes
// to a directory (open(5), diod's protocol.md).
extension ServerCall {
    /// open(5)'s create: the fid must be a directory that is not open; the names `.` and
    /// `..` are illegal; the new file is opened with the mode given (ORCLOSE included) and
    /// the fid stands for it. 9P2000.u's special files (DMSYMLINK, DMLINK, DMDEVICE,
    /// DMNAMEDPIPE, DMSOCKET) take their detail from the extension and are not opened.
    func create(_ m: Tcreate, _ fs: FS) throws -> Outcome {
        try Self.validate(newName: m.name)
        let (directory, entry) = try node(m.fid)
        guard entry.open == nil else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is open") }
        guard fs.qid(of: directory.node).type.contains(.directory) else { throw NinePError(.notDirectory) }
        let special = DirMode.symlink | DirMode.link | DirMode.device | DirMode.namedPipe | DirMode.socket
        let path = entry.path(after: [m.name])
        if m.perm & special != 0 {
            guard dialect == .unix else { throw NinePError(.invalidArgument, "special files are created in 9P2000.u only") }
            try createSpecial(m, in: directory.node, fs)
            let created = HeldNode(try fs.walk(from: directory.node, name: m.name, context: context), fs)
            let fid = ServerFid<FS>(kind: .node(created), user: entry.user, path: path)
            return .reply(.rcreate(Rcreate(qid: fs.qid(of: created.node), iounit: 0)), .store(Fid(m.fid), fid, replacing: true))
        }
        let access = OpenAccess(accessBits: UInt32(m.mode))
        let removeOnClose = m.mode & OpenMode.removeOnClose != 0
        if m.perm & DirMode.directory != 0 {
            guard access == .read, m.mode & OpenMode.truncate == 0 else {
                throw NinePError(.isDirectory, "a new directory opens for reading only")
            }
            _ = try fs.makeDirectory(in: directory.node, name: m.name, mode: m.perm & 0o777, gid: ~0, context: context)
            let created = HeldNode(try fs.walk(from: directory.node, name: m.name, context: context), fs)
            let file = try fs.open(created.node, flags: LinuxOpenFlags.readOnly, context: context)
            var fid = ServerFid<FS>(kind: .node(created), user: entry.user, path: path, open: file, access: .read, isDirectory: true)
            fid.removeOnClose = removeOnClose
            return .reply(.rcreate(Rcreate(qid: fs.qid(of: created.node), iounit: file.iounit)), .store(Fid(m.fid), fid, replacing: true))
        }
        let flags = UInt32(m.mode & 3) | LinuxOpenFlags.create | (m.mode & OpenMode.truncate != 0 ? LinuxOpenFlags.truncate : 0)
        let (node, file) = try fs.create(in: directory.node, name: m.name, flags: flags, mode: m.perm & 0o777 | LinuxMode.regular, gid: ~0, context: context)
        let created = HeldNode(node, fs)
        var fid = ServerFid<FS>(kind: .node(created), user: entry.user, path: path, open: file, access: access)
        fid.removeOnClose = removeOnClose
        return .reply(.rcreate(Rcreate(qid: fs.qid(of: node), iounit: file.iounit)), .store(Fid(m.fid), fid, replacing: true))
    }

    private func createSpecial(_ m: Tcreate, in directory: FS.Node, _ fs: FS) throws {
        let permissions = m.perm & 0o777
        if m.perm & DirMode.symlink != 0 {
            _ = try fs.makeSymlink(in: directory, name: m.name, target: m.ext, gid: ~0, context: context)
        } else if m.perm & DirMode.link != 0 {
            guard let target = ServerSession<FS>.linkTarget(m) else {
                throw NinePError(.invalidArgument, "a hard link's extension names the fid to link to")
            }
            let (held, _) = try node(target.rawValue)
            try fs.link(held.node, into: directory, name: m.name, context: context)
        } else if m.perm & DirMode.device != 0 {
            let words = m.ext.split(separator: " ")
            guard words.count == 3, words[0] == "b" || words[0] == "c", let major = UInt32(words[1]), let minor = UInt32(words[2]) else {
                throw NinePError(.invalidArgument, "a device's extension is \"b MAJOR MINOR\" or \"c MAJOR MINOR\"")
            }
            let type = words[0] == "b" ? LinuxMode.blockDevice : LinuxMode.characterDevice
            _ = try fs.makeNode(in: directory, name: m.name, mode: type | permissions, major: major, minor: minor, gid: ~0, context: context)
        } else {
            let type = m.perm & DirMode.namedPipe != 0 ? LinuxMode.fifo : LinuxMode.socket
            _ = try fs.makeNode(in: directory, name: m.name, mode: type | permissions, major: 0, minor: 0, gid: ~0, context: context)
        }
    }

    func lcreate(_ m: Tlcreate, _ fs: FS) throws -> Outcome {
        try Self.validate(newName: m.name)
        let (directory, entry) = try node(m.fid)
        guard entry.open == nil else { throw NinePError(.badFileDescriptor, "fid \(m.fid) is open") }
        let (node, file) = try fs.create(in: directory.node, name: m.name, flags: m.flags, mode: m.mode, gid: m.gid, context: context)
        let fid = ServerFid<FS>(
            kind: .node(HeldNode(node, fs)), user: entry.user, path: entry.path(after: [m.name]), open: file,
            access: OpenAccess(accessBits: m.flags & LinuxOpenFlags.accessMask))
        return .reply(.rlcreate(Rlcreate(qid: fs.qid(of: node), iounit: file.iounit)), .store(Fid(m.fid), fid, replacing: true))
    }

    func symlink(_ m: Tsymlink, _ fs: FS) throws -> Outcome {
        try Self.validate(newName: m.name)
        let (directory, _) = try node(m.fid)
        return .reply(.rsymlink(Rsymlink(qid: try fs.makeSymlink(in: directory.node, name: m.name, target: m.target, gid: m.gid, context: context))))
    }

    func mknod(_ m: Tmknod, _ fs: FS) throws -> Outcome {
        try Self.validate(newName: m.name)
        let (directory, _) = try node(m.dfid)
        return .reply(.rmknod(Rmknod(qid: try fs.makeNode(in: directory.node, name: m.name, mode: m.mode, major: m.major, minor: m.minor, gid: m.gid, context: context))))
    }

    func mkdir(_ m: Tmkdir, _ fs: FS) throws -> Outcome {
        try Self.validate(newName: m.name)
        let (directory, _) = try node(m.dfid)
        return .reply(.rmkdir(Rmkdir(qid: try fs.makeDirectory(in: directory.node, name: m.name, mode: m.mode, gid: m.gid, context: context))))
    }

    func rename(_ m: Trename, _ fs: FS) throws -> Outcome {
        try Self.validate(newName: m.name)
        let (file, _) = try node(m.fid)
        let (directory, _) = try node(m.dfid)
        try fs.rename(file.node, into: directory.node, name: m.name, context: context)
        return .reply(.rrename(Rrename()))
    }

    func renameat(_ m: Trenameat, _ fs: FS) throws -> Outcome {
        try Self.validate(newName: m.oldname)
        try Self.validate(newName: m.newname)
        let (old, _) = try node(m.oldDirFid)
        let (new, _) = try node(m.newDirFid)
        try fs.rename(from: old.node, oldName: m.oldname, to: new.node, newName: m.newname, context: context)
        return .reply(.rrenameat(Rrenameat()))
    }

    func unlinkat(_ m: Tunlinkat, _ fs: FS) throws -> Outcome {
        try Self.validate(newName: m.name)
        let (directory, _) = try node(m.dirFid)
        try fs.unlink(in: directory.node, name: m.name, flags: m.flags, context: context)
        return .reply(.runlinkat(Runlinkat()))
    }

    func link(_ m: Tlink, _ fs: FS) throws -> Outcome {
        try Self.validate(newName: m.name)
        let (directory, _) = try node(m.dfid)
        let (file, _) = try node(m.fid)
        try fs.link(file.node, into: directory.node, name: m.name, context: context)
        return .reply(.rlink(Rlink()))
    }
}
