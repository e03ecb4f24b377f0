import Foundation
import NineP
import SystemPackage

/// A node that lies, for the tests: a 9P2000.L responder that answers frame by frame with
/// replies our own server engine would never send (a directory read that does not advance,
/// more bytes than asked, errnos no kernel has, symlinks into another node, absurd /proc
/// figures). What it says depends on its ``Kind`` and on the file asked for.
final class LyingNode: Sendable {
    enum Kind: String, CaseIterable, Sendable {
        /// Its /proc: a top directory whose read never advances, files failing with errnos
        /// the kernel refuses, symlinks out of the node, a read that brings more than asked,
        /// a file of size 2^64-1, names no file has. Its `ps`: one process whose every
        /// figure is at the end of its range.
        case liar
        /// Its /proc: a top directory of ever new entries. Its `ps` and every read: bytes
        /// without end.
        case endless
        /// Its `ps`: node files with absurd figures (an uptime of 10^30 s, btime 2^63-1).
        case absurd
        /// Its `ps`: a chain of ``deepChain`` processes, each the parent of the next.
        case deep
    }

    static let deepChain = 100_000
    let kind: Kind

    init(kind: Kind) {
        self.kind = kind
    }

    /// Serves one connection until it closes, on a thread of its own.
    func serve(_ stream: FileDescriptorStream) {
        let thread = Thread { [self] in self.run(stream) }
        thread.start()
    }

    // MARK: - The tree

    enum Tree: Sendable { case proc, job }

    enum Entry {
        case directory
        case file
        case link(String)
        case failing(UInt32)
    }

    private static let errnos: [String: UInt32] = [
        "errno-0": 0, "errno-512": 512, "errno-999": 999, "errno-5000": 5000, "errno-negative": UInt32(bitPattern: -5),
    ]

    private func entry(_ tree: Tree, _ path: [String]) -> Entry? {
        if path.isEmpty { return .directory }
        switch tree {
        case .job:
            return path == ["ps"] || path == ["pids"] ? .file : nil
        case .proc:
            guard kind == .liar else { return path.count == 1 ? .file : nil }
            switch path {
            case ["1"], ["names"]: return .directory
            case ["1", "status"], ["oversize"], ["hugesize"], ["names", "ok"]: return .file
            case ["1", "cwd"]: return .link("../../node03")
            case ["1", "exe"]: return .link("/usr/bin/liar")
            case ["1", "root"]: return .link("/")
            case ["self"]: return .link("../node03/1")
            case ["mounts"]: return .link("self/mounts")
            case ["abs"]: return .link("/proc/node03/1")
            case ["socket"]: return .link("socket:[123]")
            default:
                if path.count == 1, let errno = Self.errnos[path[0]] { return .failing(errno) }
                return nil
            }
        }
    }

    private func qid(_ entry: Entry, _ path: [String]) -> Qid {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in path.joined(separator: "/").utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        switch entry {
        case .directory: return Qid(type: .directory, path: hash)
        case .link: return Qid(type: .symlink, path: hash)
        case .file, .failing: return Qid(type: .file, path: hash)
        }
    }

    private func contents(_ tree: Tree, _ path: [String]) -> [UInt8] {
        switch (tree, path) {
        case (.job, ["pids"]): return Array("1\n".utf8)
        case (.job, ["ps"]): return snapshot()
        case (.proc, ["1", "status"]): return Array("Name:\tliar\nPid:\t1\n".utf8)
        default: return []
        }
    }

    private func snapshot() -> [UInt8] {
        var out: [UInt8] = []
        func add(_ name: String, _ text: String) {
            out += Array("\(name) \(text.utf8.count)\n".utf8) + Array(text.utf8)
        }
        let huge = "1" + String(repeating: "0", count: 30) + ".00"
        switch kind {
        case .absurd:
            add("uptime", "\(huge) 1.00\n")
            add("stat", "cpu 1 1 1 1\nbtime 9223372036854775807\n")
            add("loadavg", "\(huge) \(huge) \(huge) 1/1 1\n")
        default:
            add("uptime", "1000.00 1000.00\n")
            add("stat", "cpu 1 1 1 1\nbtime 1700000000\n")
            add("loadavg", "0.50 0.40 0.30 1/10 100\n")
        }
        add("meminfo", "MemTotal: 1000000 kB\nMemAvailable: 500000 kB\n")
        switch kind {
        case .liar:
            // Field 3 on: state, ppid, pgrp, session, tty, tpgid (which must fit an Int32 to
            // parse), flags, 4 fault counts, utime, stime, cutime, cstime, priority, nice,
            // threads, itrealvalue, starttime, vsize, rss, zeros to field 41 (policy).
            let max = "18446744073709551615", top = "9223372036854775807", bottom = "-9223372036854775807"
            let fields = ["R", "0", "1", "1", "0", "-1", max, "0", "0", "0", "0", max, max, "0", "0", bottom, top, top, "0", max, max, top]
                + Array(repeating: "0", count: 14) + ["0", "0", top]
            add("1/stat", "1 (liar) " + fields.joined(separator: " ") + "\n")
            add("1/cmdline", "liar\0")
            add("family", "1\n")
        case .deep:
            for pid in 1...Self.deepChain {
                add("\(pid)/stat", "\(pid) (chain) S \(pid - 1) 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 100 1000 10 0\n")
            }
            add("family", "1\n")
        case .absurd:
            add("1/stat", "1 (init) S 0 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 100 1000 10 0\n")
            add("family", "1\n")
        case .endless:
            break
        }
        return out
    }

    /// A directory read: `names` of `path` from `offset`, as much as fits in `count`.
    private func listing(_ tree: Tree, _ path: [String], offset: UInt64, count: Int) -> [UInt8] {
        var writer = WireWriter(reservingCapacity: count)
        func add(_ name: String, _ offset: UInt64, _ type: UInt8) -> Bool {
            let entry = DirectoryEntry(qid: Qid(type: type == DirectoryEntry.typeDirectory ? .directory : .file, path: offset), offset: offset, type: type, name: name)
            guard writer.bytes.count + entry.encodedSize <= count else { return false }
            entry.write(to: &writer)
            return true
        }
        switch (kind, tree, path) {
        case (.liar, .proc, []):
            // Always the same entries, always ending at offset 1: a read that never advances.
            _ = add("1", 1, DirectoryEntry.typeDirectory) && add("self", 1, DirectoryEntry.typeSymlink)
        case (.endless, .proc, []):
            // Ever new entries, as many as fit, the offsets always advancing.
            var next = offset
            while add("entry\(next)", next + 1, DirectoryEntry.typeRegular) { next += 1 }
        case (.liar, .proc, ["names"]) where offset == 0:
            for (index, name) in ["", "a/b", "x\0y", String(repeating: "n", count: 300), "ok"].enumerated() {
                _ = add(name, UInt64(index + 1), DirectoryEntry.typeRegular)
            }
        default:
            break
        }
        return writer.bytes
    }

    // MARK: - Answering

    private struct Fid {
        var tree: Tree
        var path: [String]
    }

    private func run(_ stream: FileDescriptorStream) {
        var decoder = FrameDecoder(maxSize: 8192)
        var dialect = Dialect.plain
        var fids: [UInt32: Fid] = [:]
        var msize = 8192
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        defer { stream.close() }
        while true {
            do {
                while let frame = try decoder.nextFrame() {
                    let message = try Message.decode(frame, dialect: dialect)
                    if case .tversion(let version) = message {
                        msize = Int(min(version.msize, 512 * 1024 + 24))
                        decoder.maxSize = UInt32(msize)
                        dialect = .linux
                        let reply = Message.rversion(Rversion(msize: UInt32(msize), version: "9P2000.L"))
                        try send(reply.encode(tag: frame.tag, dialect: .plain), on: stream)
                        continue
                    }
                    let reply = answer(message, fids: &fids, msize: msize)
                    try send(reply.encode(tag: frame.tag, dialect: dialect), on: stream)
                }
                let count = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                if count == 0 { return }
                decoder.append(Array(buffer[0..<count]))
            } catch {
                return
            }
        }
    }

    private func send(_ bytes: [UInt8], on stream: FileDescriptorStream) throws {
        try bytes.withUnsafeBytes { try stream.write($0) }
    }

    private func answer(_ message: Message, fids: inout [UInt32: Fid], msize: Int) -> Message {
        let noEntry = Message.rlerror(Rlerror(ecode: UInt32(Errno.noSuchFileOrDirectory.rawValue)))
        switch message {
        case .tattach(let attach):
            fids[attach.fid] = Fid(tree: attach.aname == "job" ? .job : .proc, path: [])
            return .rattach(Rattach(qid: Qid(type: .directory, path: 1)))
        case .twalk(let walk):
            guard let from = fids[walk.fid] else { return noEntry }
            var path = from.path
            var qids: [Qid] = []
            for name in walk.wnames {
                let next = name == ".." ? Array(path.dropLast()) : path + [name]
                guard let entry = entry(from.tree, next) else { break }
                qids.append(qid(entry, next))
                path = next
            }
            if qids.isEmpty && !walk.wnames.isEmpty { return noEntry }
            if qids.count == walk.wnames.count { fids[walk.newfid] = Fid(tree: from.tree, path: path) }
            return .rwalk(Rwalk(qids: qids))
        case .tclunk(let clunk):
            fids[clunk.fid] = nil
            return .rclunk(Rclunk())
        case .tflush:
            return .rflush(Rflush())
        case .tgetattr(let getattr):
            guard let fid = fids[getattr.fid], let entry = entry(fid.tree, fid.path) else { return noEntry }
            let mode: UInt32
            switch entry {
            case .failing(let errno): return .rlerror(Rlerror(ecode: errno))
            case .directory: mode = LinuxMode.directory | 0o555
            case .link: mode = LinuxMode.symlink | 0o777
            case .file: mode = LinuxMode.regular | 0o444
            }
            let huge = fid.tree == .proc && fid.path == ["hugesize"]
            return .rgetattr(Rgetattr(
                valid: GetattrMask.basic.rawValue, qid: qid(entry, fid.path), mode: mode, uid: 0, gid: 0, nlink: 1, rdev: 0,
                size: huge ? .max : 0, blksize: 4096, blocks: huge ? .max : 0, atimeSec: 0, atimeNsec: 0,
                mtimeSec: huge ? .max : 0, mtimeNsec: huge ? .max : 0, ctimeSec: 0, ctimeNsec: 0, btimeSec: 0, btimeNsec: 0,
                gen: 0, dataVersion: 0))
        case .tlopen(let open):
            guard let fid = fids[open.fid], let entry = entry(fid.tree, fid.path) else { return noEntry }
            if case .failing(let errno) = entry { return .rlerror(Rlerror(ecode: errno)) }
            return .rlopen(Rlopen(qid: qid(entry, fid.path), iounit: 0))
        case .tread(let read):
            guard let fid = fids[read.fid], let entry = entry(fid.tree, fid.path) else { return noEntry }
            if case .failing(let errno) = entry { return .rlerror(Rlerror(ecode: errno)) }
            let room = min(Int(read.count), msize - 11)
            if kind == .endless {
                return .rread(Rread(data: Array(repeating: UInt8(ascii: "x"), count: room)))
            }
            if fid.tree == .proc && fid.path == ["oversize"] {
                return .rread(Rread(data: Array(repeating: UInt8(ascii: "o"), count: min(Int(read.count) + 100, msize - 11))))
            }
            let data = contents(fid.tree, fid.path)
            guard read.offset < UInt64(data.count) else { return .rread(Rread(data: [])) }
            let start = Int(read.offset)
            return .rread(Rread(data: Array(data[start..<min(data.count, start + room)])))
        case .treaddir(let readdir):
            guard let fid = fids[readdir.fid] else { return noEntry }
            let count = min(Int(readdir.count), msize - 11)
            return .rreaddir(Rreaddir(data: listing(fid.tree, fid.path, offset: readdir.offset, count: count)))
        case .treadlink(let readlink):
            guard let fid = fids[readlink.fid], case .link(let target) = entry(fid.tree, fid.path) else {
                return .rlerror(Rlerror(ecode: UInt32(Errno.invalidArgument.rawValue)))
            }
            return .rreadlink(Rreadlink(target: target))
        default:
            return .rlerror(Rlerror(ecode: UInt32(Errno.notSupported.rawValue)))
        }
    }
}
