import ArgumentParser
import ClusterProc
import NineP
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// `cps`: ps for the family's nodes.
@main
struct Cps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cps",
        abstract: "Process status of a family's nodes: the job's processes by default, -e for all.",
        discussion: """
            The family is the one whose namespace you are in, the one named by -j, or the only
            one running. Columns and sort keys are procps's: -o pid,ppid,user,stat,pcpu,pmem,rss,
            vsz,etime,time,nlwp,lwp,psr,policy,rtprio,min_flt,maj_flt,wchan,cgroup,comm,args …,
            --sort=-pcpu,rss (or BSD k -pcpu). A node that does not answer prints one DOWN row,
            and cps exits with status 1, as it does when -p/-u/-C matched nothing.
              cps                       the job's processes on every node
              cps -e -w 'node[01-02]'   every process of two nodes
              cps aux                   BSD style: every process, user format
              cps -W 2                  a top of the family, every 2 seconds
            """,
        version: ClusterProcVersion.current
    )

    @OptionGroup var options: CpsOptions

    /// The options that take a value, for ``StatusRequest/normalizedArguments(_:valueOptions:)``.
    static let valueOptions: Set<String> = ["-j", "-u", "-p", "-C", "-w", "-n", "-o", "-W", "--watch", "--timeout"]

    static func main() async {
        await main(StatusRequest.normalizedArguments(Array(CommandLine.arguments.dropFirst()), valueOptions: valueOptions))
    }

    func run() async throws {
        var environment: [String: String] = [:]
        for name in ["XDG_RUNTIME_DIR", FamilyRegistry.familyVariable] {
            if let value = getenv(name) { environment[name] = String(decoding: UnsafeRawBufferPointer(start: value, count: strlen(value)), as: UTF8.self) }
        }
        let record: FamilyRecord
        do {
            record = try FamilyRegistry.find(options.family, environment: environment)
        } catch {
            throw CpsFailure("\(error)")
        }
        let request = try options.request()
        let timeout = options.timeout
        let read = { (selection: FamilySnapshot.Selection) async throws -> FamilySnapshot in
            do {
                return try await FamilySnapshot.read(
                    socket: record.socket, hosts: request.hosts.map(Set.init), selection: selection,
                    wchan: request.needsWchan, threads: request.threads, timeout: .milliseconds(Int(timeout * 1000)))
            } catch {
                throw CpsFailure("cannot read family \(record.id): \(error)")
            }
        }
        if let watch = options.watch {
            var top = Watch(top: ClusterTop(request: request, family: record.id, delay: watch), read: read)
            if options.json || isatty(STDOUT_FILENO) == 0 || isatty(STDIN_FILENO) == 0 { try await top.print(json: options.json) }
            return try await top.run()
        }
        let output = request.render(try await read(request.selection))
        _ = try? FileDescriptor.standardOutput.writeAll(Array(output.text.utf8))
        for line in output.errors {
            _ = try? FileDescriptor.standardError.writeAll(Array("cps: \(line)\n".utf8))
        }
        if output.status != 0 { throw ExitCode(output.status) }
    }
}

/// A one-line error, printed without the usage text.
struct CpsFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
