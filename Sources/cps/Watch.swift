import ClusterProc
import NineP
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

typealias ClusterTopLine = ClusterTop.Line

/// `cps --watch`: a top on a terminal; elsewhere (or with `--json`) one plain snapshot per
/// interval, without an escape sequence.
struct Watch {
    var top: ClusterTop
    let read: (FamilySnapshot.Selection) async throws -> FamilySnapshot

    mutating func refresh() async throws {
        top.take(try await read(top.selection), now: Int64(time(nil)))
    }

    /// One snapshot per interval on standard output, until killed.
    mutating func print(json: Bool) async throws -> Never {
        while true {
            try await refresh()
            let text = json ? top.jsonLines() : top.frame().map { $0.text + "\n" }.joined() + "\n"
            _ = try? FileDescriptor.standardOutput.writeAll(Array(text.utf8))
            try await Task.sleep(for: .milliseconds(Int(top.state.delay * 1000)))
        }
    }

    /// Full screen until `q`.
    mutating func run() async throws {
        let screen = Screen.start()
        defer { screen.end() }
        while true {
            try await refresh()
            var frame: [ClusterTopLine] { let size = screen.size; return top.frame(width: size.columns, height: size.rows) }
            screen.draw(frame)
            let deadline = ContinuousClock.now + .milliseconds(Int(top.state.delay * 1000))
            waiting: while ContinuousClock.now < deadline {
                let left = deadline - ContinuousClock.now
                let milliseconds = Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
                let key = await offThePool { screen.key(within: milliseconds) }
                switch key {
                case nil: continue
                case .resize: screen.draw(frame)
                case .press(let code):
                    switch top.state.press(code) {
                    case .none: break
                    case .redraw: screen.draw(frame)
                    case .refresh: break waiting
                    case .quit: return
                    }
                }
            }
        }
    }
}
