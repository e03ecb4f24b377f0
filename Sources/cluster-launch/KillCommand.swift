import ArgumentParser
import ClusterProc
import NineP

/// `cluster-launch kill [-j ID] [-s SIGNAL] [-w HOSTS]`: signal a running family's job.
struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "Send a signal (TERM by default) to a family's job on every node, from any terminal (as scancel --signal).",
        discussion: "The signal reaches the job's whole process family on each node; the launcher then reports the job's end as usual.")

    @OptionGroup var options: FamilyOptions

    @Option(name: .customShort("s"), help: ArgumentHelp("The signal: a name (TERM, SIGUSR1, INT) or a number.", valueName: "SIGNAL"))
    var signal = "TERM"

    @Option(name: .customShort("w"), help: ArgumentHelp("Only these of the family's nodes.", valueName: "HOSTS"))
    var hosts: String?

    @Option(name: .long, help: "Deadline in seconds for each node to take the signal.")
    var timeout: Double = 5

    func validate() throws {
        guard JobControlCommand.signalNumber(signal) != nil else { throw ValidationError("-s \(signal): not a signal") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let family = try options.family()
        let only: Set<String>?
        do { only = try hosts.map { Set(try HostList(parsing: $0)) } } catch { throw ValidationError("-w: \(error)") }
        let number = JobControlCommand.signalNumber(signal)!
        let socket = family.socket
        let deadline = Duration.milliseconds(Int(timeout * 1000))
        let outcome = Blocking.run { () -> Result<[(host: String, reason: String)], NinePError> in
            do throws(NinePError) {
                return .success(try await FamilySignal.send(number, socket: socket, hosts: only, timeout: deadline))
            } catch {
                return .failure(error)
            }
        }
        let failures: [(host: String, reason: String)]
        switch outcome {
        case .success(let value): failures = value
        case .failure(let error): throw LaunchFailure("family \(family.id): \(error.message)")
        }
        for failure in failures { writeError("cluster-launch: \(failure.host): \(failure.reason)\n") }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}
