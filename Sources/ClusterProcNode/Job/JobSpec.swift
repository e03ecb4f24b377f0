import NineP

/// What to start as a job: its argv, environment and working directory as raw bytes, never
/// as a command line, so nothing needs quoting and nothing of it shows in `ps`.
///
/// The launcher writes it, encoded, to the job tree's `spec` file and then `start` to `ctl`
/// (see ``JobControlTree``). procsrv decodes and checks it before anything is started.
///
/// ## Encoding (version 1; integers little-endian)
///
/// ```
/// magic[4]      "CPJ1"
/// flags[1]      bit 0: the job's stdin is fed through the `stdin` file; clear, the job
///               reads end of file at once. Bit 1: argv[0] is replaced by the login
///               shell of procsrv's user (as pdsh's `$SHELL -c LINE`). Other bits must be 0.
/// dir[4] bytes  the working directory; length 0: procsrv's own
/// argc[4]       then argc words, each len[4] bytes: argv, argv[0] naming the program
/// envc[4]       then envc entries, each len[4] bytes: NAME=VALUE
/// ```
///
/// Words are bytes, not text: any byte but NUL may appear in them, invalid UTF-8 included.
/// The limits are the kernel's own for exec: a word at most 131071 bytes, at most 2 MiB in
/// all; at most 65536 words and as many entries; a directory at most 4095 bytes.
public struct JobSpec: Sendable, Equatable {
    /// The command and its arguments; `argv[0]` names the program (found on the job's
    /// `PATH` unless it holds a slash).
    public var argv: [[UInt8]]
    /// `NAME=VALUE` entries set for the job, added to (or replacing) those of the
    /// environment it is started in.
    public var environment: [[UInt8]]
    /// Where the job starts; nil for procsrv's own working directory.
    public var workingDirectory: [UInt8]?
    /// Whether the job's stdin comes through the `stdin` file; when false it reads end of
    /// file at once (what a launcher that forwards nothing wants).
    public var readsInput: Bool
    /// Whether `argv[0]` is replaced, on the node, by the login shell of the user procsrv
    /// runs as (its password entry's shell, `/bin/sh` when it names none): with argv
    /// `["sh", "-c", LINE]`, the line runs as it would typed at the user's own prompt there.
    public var runsInLoginShell: Bool

    public init(argv: [[UInt8]], environment: [[UInt8]] = [], workingDirectory: [UInt8]? = nil, readsInput: Bool = true,
                runsInLoginShell: Bool = false) {
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.readsInput = readsInput
        self.runsInLoginShell = runsInLoginShell
    }

    /// The first bytes of every encoded spec: the format and its version.
    public static let magic: [UInt8] = Array("CPJ1".utf8)
    /// The most bytes an encoded spec may have.
    public static let maximumSize = 2 << 20
    /// The most bytes one word (or entry) may have: the kernel's `MAX_ARG_STRLEN` less its NUL.
    public static let maximumWordLength = 131_071
    /// The most argv words, and the most environment entries.
    public static let maximumWords = 65_536
    /// The most bytes of the working directory: `PATH_MAX` less its NUL.
    public static let maximumDirectoryLength = 4095

    private static let readsInputFlag: UInt8 = 1
    private static let loginShellFlag: UInt8 = 2

    /// The job's whole environment: `base` with this spec's entries added, an entry of the
    /// spec replacing one of `base` with the same name (the last of the spec wins).
    public func environment(over base: [[UInt8]]) -> [[UInt8]] {
        let name = ProcessBytes.name(of:)
        var latest: [ArraySlice<UInt8>: Int] = [:]
        for (index, entry) in environment.enumerated() { latest[name(entry)] = index }
        let kept = base.filter { latest[name($0)] == nil }
        return kept + environment.enumerated().filter { latest[name($0.element)] == $0.offset }.map(\.element)
    }

    // MARK: - Checking

    /// Checks what the encoding cannot say: a first word, no NUL, names without `=`, limits.
    /// - Throws: `JobError` `.badSpec` naming the first problem.
    public func validate() throws(JobError) {
        guard let program = argv.first, !program.isEmpty else { throw Self.bad("no command given") }
        guard argv.count <= Self.maximumWords else { throw Self.bad("more than \(Self.maximumWords) arguments") }
        guard environment.count <= Self.maximumWords else {
            throw Self.bad("more than \(Self.maximumWords) environment entries")
        }
        for (index, word) in argv.enumerated() {
            guard word.count <= Self.maximumWordLength else {
                throw Self.bad("argument \(index) is longer than \(Self.maximumWordLength) bytes")
            }
            guard !word.contains(0) else { throw Self.bad("argument \(index) holds a NUL byte") }
        }
        for (index, entry) in environment.enumerated() {
            guard entry.count <= Self.maximumWordLength else {
                throw Self.bad("environment entry \(index) is longer than \(Self.maximumWordLength) bytes")
            }
            guard !entry.contains(0) else { throw Self.bad("environment entry \(index) holds a NUL byte") }
            guard let equals = entry.firstIndex(of: UInt8(ascii: "=")), equals > 0 else {
                throw Self.bad("environment entry \(index) is not NAME=VALUE")
            }
        }
        if let directory = workingDirectory {
            guard !directory.isEmpty, directory.count <= Self.maximumDirectoryLength else {
                throw Self.bad("the working directory is empty or longer than \(Self.maximumDirectoryLength) bytes")
            }
            guard !directory.contains(0) else { throw Self.bad("the working directory holds a NUL byte") }
        }
        let size = encodedSize
        guard size <= Self.maximumSize else { throw Self.bad("\(size) bytes encoded; at most \(Self.maximumSize)") }
    }

    private var encodedSize: Int {
        Self.magic.count + 1 + 4 + (workingDirectory?.count ?? 0) + 4 + 4
            + argv.reduce(0) { $0 + 4 + $1.count } + environment.reduce(0) { $0 + 4 + $1.count }
    }

    private static func bad(_ problem: String) -> JobError {
        JobError(.badSpec, "job spec: \(problem)")
    }

    // MARK: - Encoding

    /// The spec in the encoding above.
    /// - Throws: `JobError` `.badSpec` when it breaks a rule (``validate()``).
    public func encoded() throws(JobError) -> [UInt8] {
        try validate()
        var writer = WireWriter(reservingCapacity: encodedSize)
        writer.writeBytes(Self.magic)
        writer.writeUInt8((readsInput ? Self.readsInputFlag : 0) | (runsInLoginShell ? Self.loginShellFlag : 0))
        let directory = workingDirectory ?? []
        writer.writeUInt32(UInt32(directory.count))
        writer.writeBytes(directory)
        for list in [argv, environment] {
            writer.writeUInt32(UInt32(list.count))
            for word in list {
                writer.writeUInt32(UInt32(word.count))
                writer.writeBytes(word)
            }
        }
        return writer.bytes
    }

    /// Decodes and checks an encoded spec; nothing is trusted: every length is checked
    /// against what is left before anything is read or allocated.
    /// - Throws: `JobError` `.badSpec` naming what is wrong.
    public init(decoding bytes: [UInt8]) throws(JobError) {
        guard bytes.count <= Self.maximumSize else {
            throw Self.bad("\(bytes.count) bytes; at most \(Self.maximumSize)")
        }
        var reader = WireReader(bytes)
        guard reader.readBytes(count: Self.magic.count) == Self.magic else {
            throw Self.bad("does not start with \"CPJ1\" (not a job spec, or another version)")
        }
        guard let flags = reader.readUInt8() else { throw Self.bad("truncated") }
        guard flags & ~(Self.readsInputFlag | Self.loginShellFlag) == 0 else { throw Self.bad("unknown flags \(flags)") }
        func word(_ what: String, limit: Int) throws(JobError) -> [UInt8] {
            guard let length = reader.readUInt32() else { throw Self.bad("truncated before \(what)") }
            guard Int(length) <= limit else { throw Self.bad("\(what) is longer than \(limit) bytes") }
            guard let word = reader.readBytes(count: Int(length)) else { throw Self.bad("truncated in \(what)") }
            return word
        }
        func list(_ what: String, _ plural: String) throws(JobError) -> [[UInt8]] {
            guard let count = reader.readUInt32() else { throw Self.bad("truncated before the count of \(plural)") }
            guard count <= Self.maximumWords else { throw Self.bad("more than \(Self.maximumWords) \(plural)") }
            // Each word takes at least its length field: a count the bytes cannot hold is refused
            // before an array is reserved for it.
            guard Int(count) * 4 <= reader.readableBytes else { throw Self.bad("truncated in the \(plural)") }
            var words: [[UInt8]] = []
            words.reserveCapacity(Int(count))
            for index in 0..<Int(count) { words.append(try word("\(what) \(index)", limit: Self.maximumWordLength)) }
            return words
        }
        let directory = try word("the working directory", limit: Self.maximumDirectoryLength)
        let argv = try list("argument", "arguments")
        let environment = try list("environment entry", "environment entries")
        guard reader.readableBytes == 0 else { throw Self.bad("\(reader.readableBytes) bytes after the end") }
        self.init(argv: argv, environment: environment, workingDirectory: directory.isEmpty ? nil : directory,
                  readsInput: flags & Self.readsInputFlag != 0, runsInLoginShell: flags & Self.loginShellFlag != 0)
        try validate()
    }
}
