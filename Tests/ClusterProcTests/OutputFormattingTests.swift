import Foundation
import TestSupport
import Testing
@testable import ClusterProc

@Suite struct OutputFormattingTests {
    /// Lines as an independent reading of the bytes: split at every newline, a last piece without a
    /// newline kept, no empty piece after a final newline.
    private func referenceLines(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        if bytes.last == UInt8(ascii: "\n") || bytes.isEmpty { lines.removeLast() }
        return lines
    }

    private func assemble(_ chunks: [ArraySlice<UInt8>], maximum: Int = LineAssembler.defaultMaximumLineLength) -> [[UInt8]] {
        var assembler = LineAssembler(maximumLineLength: maximum)
        var lines: [[UInt8]] = []
        for chunk in chunks {
            lines += assembler.append(chunk)
            #expect(assembler.pendingByteCount <= maximum)
        }
        if let last = assembler.finish() { lines.append(last) }
        #expect(assembler.pendingByteCount == 0)
        return lines
    }

    // "héllo" in UTF-8, a lone continuation byte, an invalid lead byte, a truncated sequence.
    private let sample: [UInt8] = Array("first\n\nh".utf8) + [0xC3, 0xA9] + Array("llo\n".utf8)
        + [0x80, 0xFF, 0x0A, 0xE2, 0x82] + Array("\r\nlast without newline".utf8)

    @Test func everyTwoWaySplitGivesTheSameLines() {
        let expected = referenceLines(sample)
        #expect(expected.count == 6)
        for cut in 0...sample.count {
            let lines = assemble([sample[..<cut], sample[cut...]])
            #expect(lines == expected, "cut at \(cut)")
        }
    }

    @Test func everyThreeWaySplitGivesTheSameLines() {
        let expected = referenceLines(sample)
        for first in 0...sample.count {
            for second in first...sample.count {
                let lines = assemble([sample[..<first], sample[first..<second], sample[second...]])
                #expect(lines == expected, "cuts at \(first), \(second)")
            }
        }
    }

    @Test func oneByteAtATimeAndInvalidUTF8KeptVerbatim() {
        let lines = assemble(sample.indices.map { sample[$0...$0] })
        #expect(lines == referenceLines(sample))
        #expect(Array(lines.joined(separator: [UInt8(ascii: "\n")])) == sample)  // the sample ends without a newline
        #expect(lines.contains([0x80, 0xFF]))
        #expect(lines.contains([0xE2, 0x82, 0x0D]))
    }

    @Test func longLinesComeOutInBoundedPieces() {
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 20) + [UInt8(ascii: "\n")]
        let exact = [UInt8](repeating: UInt8(ascii: "y"), count: 8) + [UInt8(ascii: "\n")]
        let bytes = long + exact + [UInt8(ascii: "\n")]
        for cut in 0...bytes.count {
            let lines = assemble([bytes[..<cut], bytes[cut...]], maximum: 8)
            #expect(lines.map(\.count) == [8, 8, 4, 8, 0], "cut at \(cut)")
            #expect(Array(lines.joined()) == bytes.filter { $0 != UInt8(ascii: "\n") })
        }
    }

    /// A node that never writes a newline: memory held stays at the bound, whatever the chunking.
    @Test func randomChunksNeverHoldMoreThanTheBound() {
        var generator = SplitMix64(seed: 0x5EED_0004)
        for round in 0..<200 {
            let maximum = Int.random(in: 1...40, using: &generator)
            let bytes = (0..<Int.random(in: 0...400, using: &generator)).map { _ in
                Int.random(in: 0..<12, using: &generator) == 0 ? UInt8(ascii: "\n") : UInt8.random(in: 0...255, using: &generator) | 1
            }
            var chunks: [ArraySlice<UInt8>] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int.random(in: 0...60, using: &generator))
                chunks.append(bytes[start..<end])
                start = end
            }
            let lines = assemble(chunks, maximum: maximum)
            let expected = referenceLines(bytes).flatMap { line -> [[UInt8]] in
                line.isEmpty ? [[]] : stride(from: 0, to: line.count, by: maximum).map { Array(line[$0..<min(line.count, $0 + maximum)]) }
            }
            #expect(lines == expected, "round \(round)")
        }
    }

    @Test func prefixesAreBytes() {
        let line: [UInt8] = [0x66, 0xFF, 0x80]
        #expect(prefixed(host: "node01", line: line) == Array("node01: ".utf8) + line + [0x0A])
        #expect(unprefixed(line: line) == line + [0x0A])
        #expect(LineLabelling.hostPrefix.render(host: "n1", line: line) == prefixed(host: "n1", line: line))
        #expect(LineLabelling.none.render(host: "n1", line: line) == line + [0x0A])
    }

    // MARK: - Gathering

    @Test func gatheringGroupsIdenticalOutputInOrderOfFirstHost() {
        var gatherer = OutputGatherer(hosts: ["n1", "n2", "n3", "n4", "n5"])
        let hello = Array("hello\nworld\n".utf8)
        gatherer.append(hello[..<3], from: "n3")
        gatherer.append(Array("other\n".utf8), from: "n2")
        gatherer.append(hello, from: "n1")
        gatherer.append(hello[3...], from: "n3")
        gatherer.append(Array("hello\nworld".utf8), from: "n4")  // no final newline: same output
        gatherer.append(Array("late\n".utf8), from: "n9")
        let groups = gatherer.groups()
        #expect(groups.map(\.hosts.hosts) == [["n1", "n3", "n4"], ["n2"], ["n9"]])
        #expect(groups.map(\.output) == [hello, Array("other\n".utf8), Array("late\n".utf8)])
        let text = String(decoding: gatherer.rendered(), as: UTF8.self)
        let rule = String(repeating: "-", count: 16)
        #expect(text == "\(rule)\nn[1,3-4]\n\(rule)\nhello\nworld\n\(rule)\nn2\n\(rule)\nother\n\(rule)\nn9\n\(rule)\nlate\n")
    }

    @Test func renderingMatchesDshbak() throws {
        let dshbak = "/usr/bin/dshbak"
        try #require(FileManager.default.isExecutableFile(atPath: dshbak), "pdsh's dshbak is not installed")
        let outputs: [(String, String)] = [
            ("node01", "up 3 days\nload 0.1\n"), ("node02", "up 3 days\nload 0.1\n"), ("node03", "up 1 day\n"),
            ("node04", "up 3 days\nload 0.1\n"), ("node10", "up 1 day\n"), ("node11", "x\n"),
        ]
        var gatherer = OutputGatherer(hosts: outputs.map(\.0))
        var pdshStyle: [UInt8] = []
        for (host, output) in outputs {
            var assembler = LineAssembler()
            for line in assembler.append(output.utf8) { pdshStyle += prefixed(host: host, line: line) }
            gatherer.append(output.utf8, from: host)
        }
        let expected = try runToCompletion([dshbak, "-c"], input: pdshStyle).output
        #expect(String(decoding: gatherer.rendered(), as: UTF8.self) == expected)
    }

    @Test func silentHostsAreLeftOutAndBigOutputIsTruncated() {
        var gatherer = OutputGatherer(hosts: ["quiet", "loud"], maximumBytesPerHost: 4)
        gatherer.append([], from: "quiet")
        gatherer.append(Array("abcdefgh".utf8), from: "loud")
        gatherer.append(Array("ijk".utf8), from: "loud")
        gatherer.append([0xFF, 0x0A], from: "odd")
        let groups = gatherer.groups()
        #expect(groups.map(\.hosts.hosts) == [["loud"], ["odd"]])
        #expect(groups.first?.output == Array("abcd\n[output truncated after 4 bytes]\n".utf8))
        #expect(groups.last?.output == [0xFF, 0x0A])
    }

    // MARK: - Failure summary

    @Test func failuresAreGroupedAndFolded() {
        let summary = failureSummary([
            (host: "node03", failure: .exited(status: 1)),
            (host: "node05", failure: .unreachable),
            (host: "node07", failure: .exited(status: 1)),
            (host: "node08", failure: .exited(status: 2)),
            (host: "node09", failure: .signalled(9)),
            (host: "node04", failure: .exited(status: 1)),
            (host: "node05", failure: .timedOut),
        ])
        #expect(summary == "cluster-launch: node[03-04,07]: exited with status 1; node05: unreachable; "
            + "node08: exited with status 2; node09: killed by signal 9 (SIGKILL)")
        #expect(failureSummary([(host: "n1", failure: .other("no procsrv on the node"))], program: "cps")
            == "cps: n1: no procsrv on the node")
        #expect(failureSummary([(host: "n1", failure: .signalled(99))]) == "cluster-launch: n1: killed by signal 99")
        #expect(failureSummary([] as [(host: String, failure: HostFailure)]) == nil)
    }
}
