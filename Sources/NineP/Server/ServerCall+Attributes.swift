// Tstat, Twstat, Tgetattr, Tsetattr, Tstatfs, Treadlink, Txattrwalk: what a file is.
extension ServerCall {
    func stat(_ m: Tstat, _ fs: FS) throws -> Outcome {
        let (held, entry) = try node(m.fid)
        return .reply(.rstat(Rstat(stat: try stat(of: held.node, name: entry.name, fs))))
    }

    func wstat(_ m: Twstat, _ fs: FS) throws -> Outcome {
        let (held, _) = try node(m.fid)
        try fs.writeStat(of: held.node, m.stat, context: context)
        return .reply(.rwstat(Rwstat()))
    }

    func getattr(_ m: Tgetattr, _ fs: FS) throws -> Outcome {
        let (held, _) = try node(m.fid)
        let attributes = try fs.attributes(of: held.node, context: context)
        return .reply(
            .rgetattr(
                Rgetattr(
                    valid: GetattrMask.basic.rawValue & m.requestMask | GetattrMask.basic.rawValue, qid: fs.qid(of: held.node),
                    mode: attributes.mode, uid: attributes.uid, gid: attributes.gid, nlink: attributes.nlink,
                    rdev: attributes.rdev, size: attributes.size, blksize: attributes.blockSize,
                    blocks: attributes.blocks, atimeSec: attributes.atime.seconds,
                    atimeNsec: attributes.atime.nanoseconds, mtimeSec: attributes.mtime.seconds,
                    mtimeNsec: attributes.mtime.nanoseconds, ctimeSec: attributes.ctime.seconds,
                    ctimeNsec: attributes.ctime.nanoseconds, btimeSec: 0, btimeNsec: 0, gen: 0, dataVersion: 0)))
    }

    func setattr(_ m: Tsetattr, _ fs: FS) throws -> Outcome {
        let (held, _) = try node(m.fid)
        try fs.setAttributes(of: held.node, m, context: context)
        return .reply(.rsetattr(Rsetattr()))
    }

    func statfs(_ m: Tstatfs, _ fs: FS) throws -> Outcome {
        let (held, _) = try node(m.fid)
        return .reply(.rstatfs(try fs.statistics(of: held.node, context: context)))
    }

    func readlink(_ m: Treadlink, _ fs: FS) throws -> Outcome {
        let (held, _) = try node(m.fid)
        return .reply(.rreadlink(Rreadlink(target: try fs.readlink(held.node, context: context))))
    }

    /// Txattrwalk (diod's protocol.md): an empty name lists the attributes' names, NUL
    /// separated; the engine's file systems have none, so the list is empty. A named
    /// attribute does not exist (ENODATA).
    func xattrwalk(_ m: Txattrwalk, _ fs: FS) throws -> Outcome {
        let (_, entry) = try node(m.fid)
        if m.newfid != m.fid { try unused(m.newfid) }
        guard m.name.isEmpty else { throw NinePError(.noData, "no extended attribute \(m.name)") }
        let list = ServerFid<FS>(kind: .xattr([]), user: entry.user, path: entry.path)
        return .reply(.rxattrwalk(Rxattrwalk(size: 0)), .store(Fid(m.newfid), list, replacing: m.newfid == m.fid))
    }

    /// The 9P2000 (and .u) stat of a node.
    func stat(of node: FS.Node, name: String, _ fs: FS) throws -> Stat {
        let attributes = try fs.attributes(of: node, context: context)
        var mode = attributes.mode & 0o777
        var ext = ""
        switch attributes.mode & LinuxMode.typeMask {
        case LinuxMode.directory: mode |= DirMode.directory
        case LinuxMode.symlink:
            mode |= DirMode.symlink
            if dialect == .unix { ext = (try? fs.readlink(node, context: context)) ?? "" }
        case LinuxMode.socket: mode |= DirMode.socket
        case LinuxMode.fifo: mode |= DirMode.namedPipe
        case LinuxMode.blockDevice, LinuxMode.characterDevice:
            mode |= DirMode.device
            let kind = attributes.mode & LinuxMode.typeMask == LinuxMode.blockDevice ? "b" : "c"
            ext = "\(kind) \((attributes.rdev >> 8) & 0xfff) \(attributes.rdev & 0xff | (attributes.rdev >> 12) & 0xfff00)"
        default: break
        }
        if attributes.mode & 0o4000 != 0 { mode |= DirMode.setuid }
        if attributes.mode & 0o2000 != 0 { mode |= DirMode.setgid }
        return Stat(
            qid: fs.qid(of: node), mode: mode, atime: UInt32(truncatingIfNeeded: attributes.atime.seconds),
            mtime: UInt32(truncatingIfNeeded: attributes.mtime.seconds),
            length: attributes.isDirectory ? 0 : attributes.size, name: name,
            uid: attributes.userName ?? "\(attributes.uid)", gid: attributes.groupName ?? "\(attributes.gid)",
            muid: "", extension: ext, nUid: attributes.uid, nGid: attributes.gid, nMuid: ~0)
    }
}
