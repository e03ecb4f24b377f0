import Glibc
import NineP
import SystemPackage

/// A raw TCP connection to 127.0.0.1:`port` that says nothing: a client that never attaches.
func silentConnection(port: UInt16) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw NinePError(Errno(rawValue: errno)) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        let error = Errno(rawValue: errno)
        close(fd)
        throw NinePError(error)
    }
    return fd
}

/// Whether the peer closes `fd` (end of file or reset) before `deadline`.
func peerCloses(_ fd: Int32, before deadline: ContinuousClock.Instant) -> Bool {
    while true {
        let left = deadline - .now
        guard left > .zero else { return false }
        let (seconds, attoseconds) = left.components
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1))
        if ready < 0 && errno == EINTR { continue }
        guard ready > 0 else { continue }
        var byte: UInt8 = 0
        let got = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) { return true }
        // Data, where none was asked for: drain it and go on waiting.
        _ = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
    }
}

/// A number from a `/proc/PID/status` line such as `VmRSS:   1234 kB`, in bytes for kB.
func statusField(_ name: String, of pid: Int32) -> Int? {
    let fd = open("/proc/\(pid)/status", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: 8192)
    let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return nil }
    let text = String(decoding: bytes[0..<count], as: UTF8.self)
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("\(name):") }) else { return nil }
    let fields = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst()
    guard let number = fields.first.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else { return nil }
    return fields.dropFirst().first == "kB" ? number * 1024 : number
}

/// How many descriptors `pid` holds now.
func descriptorCount(of pid: Int32) -> Int? {
    guard let directory = opendir("/proc/\(pid)/fd") else { return nil }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
    }
    return count
}

/// What `pid`'s descriptors point at, counted by kind (`socket`, `pipe`, `/proc/…`), for
/// messages.
func descriptorSummary(of pid: Int32) -> String {
    guard let directory = opendir("/proc/\(pid)/fd") else { return "?" }
    defer { closedir(directory) }
    var kinds: [String: Int] = [:]
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != ".", name != ".." else { continue }
        var target = [CChar](repeating: 0, count: 512)
        let count = readlink("/proc/\(pid)/fd/\(name)", &target, target.count - 1)
        let text = count > 0 ? String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        let kind = text.hasPrefix("socket:") ? "socket" : text.hasPrefix("pipe:") ? "pipe" : text.hasPrefix("/proc/") ? "/proc/…" : text
        kinds[kind, default: 0] += 1
    }
    return kinds.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
}
