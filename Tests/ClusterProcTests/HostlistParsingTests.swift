import Foundation
import TestSupport
import Testing
@testable import ClusterProc

@Suite struct HostlistParsingTests {
    /// An independent spelling of a padded number, to check expansions against.
    private func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    @Test func rangesAndSingleValues() throws {
        let list = try HostList(parsing: "node[01-03,07]")
        #expect(list.hosts == (1...3).map { "node" + pad($0, 2) } + ["node07"])
        #expect(try HostList(parsing: "node[3]").hosts == ["node3"])
        #expect(try HostList(parsing: "node[003]").hosts == ["node003"])
        #expect(try HostList(parsing: "login1").hosts == ["login1"])
    }

    @Test(arguments: [
        ("node[01-10]", 2, 1, 10),
        ("node[8-10]", 0, 8, 10),
        ("node[08-10]", 2, 8, 10),
        ("node[0-12]", 0, 0, 12),
        ("node[000-011]", 3, 0, 11),
        ("node[98-101]", 0, 98, 101),
        ("node[098-101]", 3, 98, 101),
    ])
    func paddingFollowsTheStartOfTheRange(expression: String, width: Int, low: Int, high: Int) throws {
        let list = try HostList(parsing: expression)
        #expect(list.hosts == (low...high).map { "node" + pad($0, width) })
    }

    @Test func severalGroupsGiveTheCartesianProductInOrder() throws {
        let list = try HostList(parsing: "rack[1-2]-node[01-04]")
        var expected: [String] = []
        for rack in 1...2 { for node in 1...4 { expected.append("rack\(rack)-node\(pad(node, 2))") } }
        #expect(list.hosts == expected)
        let three = try HostList(parsing: "r[1-2]c[1,3]n[5-6].ib")
        #expect(three.count == 8)
        #expect(three.first == "r1c1n5.ib")
        #expect(three.last == "r2c3n6.ib")
    }

    @Test func whitespaceAroundItemsAndDuplicates() throws {
        let list = try HostList(parsing: "  b , a\t,node[1-3], node2 ,b,node[ 4 - 5 ]")
        #expect(list.hosts == ["b", "a", "node1", "node2", "node3", "node4", "node5"])
    }

    @Test func collectionAndSetOperations() throws {
        let all = try HostList(parsing: "n[1-6]")
        let some = try HostList(parsing: "n[2,4],other")
        #expect(all.subtracting(some).hosts == ["n1", "n3", "n5", "n6"])
        #expect(some.union(all).hosts == ["n2", "n4", "other", "n1", "n3", "n5", "n6"])
        #expect(HostList(["x", "y", "x"]).hosts == ["x", "y"])
        #expect(all.contains("n6") && !all.contains("n7"))
        #expect(all[all.index(after: all.startIndex)] == "n2")
        #expect(HostList(["b", "a"]) != HostList(["a", "b"]))
    }

    @Test(arguments: [
        ("node[1-3", HostListError.Code.unbalancedBrackets, "node[1-3"),
        ("node1-3]", .unbalancedBrackets, "node1-3]"),
        ("node[[1-2]]", .unbalancedBrackets, "node[[1-2]]"),
        ("a,node[1-2,b", .unbalancedBrackets, "node[1-2,b"),
        ("a,,b", .emptyItem, "a,,b"),
        ("a,", .emptyItem, "a,"),
        ("", .emptyItem, "empty host list"),
        ("   ", .emptyItem, "empty host list"),
        ("node[5-1]", .reversedRange, "5-1"),
        ("node[a-c]", .nonNumericRange, "a-c"),
        ("node[1-2-3]", .nonNumericRange, "1-2-3"),
        ("node[-3]", .nonNumericRange, "-3"),
        ("node[1-]", .nonNumericRange, "1-"),
        ("node[1-99999999999999999999]", .nonNumericRange, "1-99999999999999999999"),
        ("node[]", .emptyBrackets, "node[]"),
        ("node[1,,2]", .emptyBrackets, "node[1,,2]"),
        ("no de", .invalidCharacter, "no de"),
        ("node[0-1000000]", .tooManyHosts, "node[0-1000000]"),
        ("a[1-1000]b[1-1000]c[1-2]", .tooManyHosts, "a[1-1000]b[1-1000]c[1-2]"),
        ("x[0-999999999999999999]y[0-999999999999999999]", .tooManyHosts, "x[0-999999999999999999]"),
    ])
    func errorsNameTheOffendingText(expression: String, code: HostListError.Code, fragment: String) {
        let error = #expect(throws: HostListError.self) { try HostList(parsing: expression) }
        #expect(error?.code == code)
        #expect(error?.description.contains(fragment) == true, "\(String(describing: error))")
        #expect(error?.description.contains("\n") == false)
    }

    @Test func theLimitIsCheckedAcrossItems() throws {
        #expect(try HostList(parsing: "n[1-6],m[1-4]", limit: 10).count == 10)
        #expect(throws: HostListError.self) { try HostList(parsing: "n[1-6],m[1-5]", limit: 10) }
        #expect(throws: HostListError.self) { try HostList(parsing: "n[1-11]", limit: 10) }
    }

    /// Random strings over the characters of the syntax must give a list or an error, never a crash;
    /// any list they give holds only names that cannot be mistaken for syntax.
    @Test func randomGarbageNeverCrashes() {
        let alphabet: [Character] = Array("node[]-,0123456789 \t\nxé\u{0}[[]]--,,09")
        var generator = SplitMix64(seed: 0x5EED_0001)
        for round in 0..<5000 {
            let length = Int.random(in: 0...24, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            do {
                let list = try HostList(parsing: text, limit: 10_000)
                #expect(!list.isEmpty, "round \(round): \(text.debugDescription)")
                for host in list {
                    #expect(!host.isEmpty && !host.contains { "[],".contains($0) || $0.isWhitespace },
                            "round \(round): \(text.debugDescription) gave \(host.debugDescription)")
                }
                let back = try HostList(parsing: list.folded(), limit: 10_000)
                #expect(Set(back) == Set(list), "round \(round): \(text.debugDescription)")
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    /// Valid expressions with one character changed, inserted or deleted.
    @Test func mutatedExpressionsNeverCrash() {
        let seeds = ["node[01-16,20],login1", "rack[1-2]-node[01-04]", "n[8-10].ib,gpu[000-003]"]
        let replacements: [Unicode.Scalar] = ["[", "]", ",", "-", "0", "9", " ", "a", "\u{7F}"]
        var generator = SplitMix64(seed: 0x5EED_0002)
        for round in 0..<3000 {
            var scalars = Array(seeds.randomElement(using: &generator)!.unicodeScalars)
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let position = Int.random(in: 0...scalars.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0 where position < scalars.count: scalars.remove(at: position)
                case 1 where position < scalars.count: scalars[position] = replacements.randomElement(using: &generator)!
                default: scalars.insert(replacements.randomElement(using: &generator)!, at: position)
                }
            }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            let text = String(view)
            if let list = try? HostList(parsing: text, limit: 100_000) {
                let back = try? HostList(parsing: list.folded(), limit: 100_000)
                #expect(back.map(Set.init) == Set(list), "round \(round): \(text.debugDescription)")
            }
        }
    }
}

extension HostlistParsingTests {
    /// ClusterShell's NodeSet is a real peer: random valid expressions must expand to the same sets.
    @Test func expansionAgreesWithClusterShell() throws {
        let python = "/usr/bin/python3"
        try #require(FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/ClusterShell/NodeSet.py")
            && FileManager.default.isExecutableFile(atPath: python), "ClusterShell's Python module is not installed")
        var generator = SplitMix64(seed: 0x5EED_0005)
        func number(_ value: Int, width: Int) -> String {
            String(repeating: "0", count: max(0, width - String(value).count)) + String(value)
        }
        func group() -> String {
            let width = [0, 0, 2, 3].randomElement(using: &generator)!
            let elements = (0..<Int.random(in: 1...3, using: &generator)).map { _ -> String in
                let low = Int.random(in: 0...120, using: &generator)
                if Bool.random(using: &generator) { return number(low, width: width) }
                return number(low, width: width) + "-" + number(low + Int.random(in: 0...15, using: &generator), width: width)
            }
            return "[" + elements.joined(separator: ",") + "]"
        }
        var expressions: [String] = []
        for _ in 0..<300 {
            let items = (0..<Int.random(in: 1...3, using: &generator)).map { _ -> String in
                var item = ["node", "n", "gpu-", "rack"].randomElement(using: &generator)! + group()
                if Bool.random(using: &generator) { item += ["-node", "c", "-"].randomElement(using: &generator)! + group() }
                return item + ["", ".ib", "-bmc"].randomElement(using: &generator)!
            }
            expressions.append(items.joined(separator: ","))
        }
        let script = """
            import sys
            from ClusterShell.NodeSet import NodeSet
            for line in sys.stdin:
                print(",".join(NodeSet(line.strip())))
            """
        let output = try runToCompletion([python, "-c", script], input: Array((expressions.joined(separator: "\n") + "\n").utf8)).output
        let theirs = output.split(separator: "\n", omittingEmptySubsequences: false).map { Set($0.split(separator: ",").map(String.init)) }
        try #require(theirs.count >= expressions.count)
        for (index, expression) in expressions.enumerated() {
            let ours = try HostList(parsing: expression)
            #expect(Set(ours) == theirs[index], "\(expression)")
            #expect(Set(try HostList(parsing: ours.folded())) == theirs[index], "\(expression) folded to \(ours.folded())")
        }
    }
}

// MARK: - Support shared by the host list and output tests
