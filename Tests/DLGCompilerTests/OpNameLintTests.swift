import DLGGraph
import Foundation
import Testing

/// No pass or runtime file decides by naming ops: they ask the op's
/// declaration (`OpDecl.properties`, `fold`, `simplify`, …) or, for
/// kernels, the one table that binds ops to kernels
/// (Sources/DLGRuntime/KernelTable.swift, the only file allowed to list
/// ops). What counts as deciding by name:
///
/// - a `switch` over an op (`switch n.op {`, `switch op {`);
/// - a `case .relu` pattern (in a switch or `if case`) naming an op, when the
///   subject is an op;
/// - a collection literal of two or more op names (`[.relu, .exp]`,
///   `Set<Op>`);
/// - looking an op up by its name (`Op(rawValue:`, `.rawValue == "relu"`).
///
/// Comparing one op with `==` stays allowed: a structural test (`op == .fused`,
/// `op == .param`) or the pattern of a peephole rewrite (batchnorm folding).
enum OpNameLint {
    struct Violation: CustomStringConvertible {
        var file: String
        var line: Int
        var text: String
        var rule: String
        var description: String { "\(file):\(line): \(rule): \(text.trimmingCharacters(in: .whitespaces))" }
    }

    /// The op names as written in Swift (`.leaky_relu`).
    static let opNames: Set<String> = Set(Op.allCases.map(\.rawValue))

    /// The files checked: every pass, and the runtime except the kernel table.
    static let directories = ["Sources/DLGCompiler/Passes", "Sources/DLGRuntime"]
    static let allowed: Set<String> = ["Sources/DLGRuntime/KernelTable.swift"]

    static func swiftFiles() throws -> [String] {
        var out: [String] = []
        for d in directories {
            let names = try FileManager.default.contentsOfDirectory(atPath: RepositoryFiles.root.appendingPathComponent(d).path)
            out += names.filter { $0.hasSuffix(".swift") }.sorted().map { "\(d)/\($0)" }
        }
        return out.filter { !allowed.contains($0) }
    }

    /// `.name` references to ops in a line (outside comments and strings).
    static func opReferences(_ line: Substring) -> [String] {
        var refs: [String] = []
        var i = line.startIndex
        while i < line.endIndex {
            if line[i] == "." {
                let start = line.index(after: i)
                var j = start
                while j < line.endIndex, line[j].isLetter || line[j].isNumber || line[j] == "_" { j = line.index(after: j) }
                // A member access (x.relu) is not a reference to a case: the dot must follow a
                // non-identifier character.
                let before = i == line.startIndex ? " " : line[line.index(before: i)]
                let isMember = before.isLetter || before.isNumber || before == "_" || before == ")" || before == "]" || before == "?"
                let name = String(line[start..<j])
                if !isMember, opNames.contains(name) { refs.append(name) }
                i = j
            } else {
                i = line.index(after: i)
            }
        }
        return refs
    }

    /// The code of a line: without a `//` comment and without string literals.
    static func code(_ raw: Substring) -> Substring {
        var out = ""
        var inString = false
        var previous: Character = " "
        for c in raw {
            if !inString, c == "/", previous == "/" {
                out.removeLast()
                break
            }
            if c == "\"" { inString.toggle(); previous = c; continue }
            if !inString { out.append(c) }
            previous = c
        }
        return Substring(out)
    }

    static func check(file: String, text: String) -> [Violation] {
        var violations: [Violation] = []
        // Subjects of the switches that enclose each line, by brace depth.
        var switchStack: [(depth: Int, overOp: Bool)] = []
        var depth = 0
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = code(raw)
            func flag(_ rule: String) { violations.append(Violation(file: file, line: n + 1, text: String(raw), rule: rule)) }
            if let r = line.range(of: #"\bswitch\s+([A-Za-z_][\w.]*)"#, options: .regularExpression) {
                let subject = line[r].split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) ?? ""
                let overOp = subject == "op" || subject.hasSuffix(".op")
                if overOp { flag("a switch over an op") }
                switchStack.append((depth, overOp))
            }
            let refs = opReferences(line)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("case "), !refs.isEmpty, switchStack.last?.overOp == true {
                flag("a case naming an op")
            }
            if line.range(of: #"\b(if|guard)\s+case\s+\.\w+.*=\s*[\w.]*\bop\b"#, options: .regularExpression) != nil {
                flag("a case pattern naming an op")
            }
            if line.range(of: #"\[\s*\.\w+\s*,\s*\.\w+"#, options: .regularExpression) != nil, refs.count >= 2 {
                flag("a list of op names")
            }
            if line.contains("Set<Op>") || line.contains("[Op]") && refs.count >= 2 { flag("a collection of ops") }
            if line.contains("Op(rawValue:") { flag("an op looked up by name") }
            if line.range(of: #"rawValue\s*==\s*$"#, options: .regularExpression) != nil
                || raw.range(of: #"\.rawValue\s*==\s*""#, options: .regularExpression) != nil {
                flag("an op compared by name")
            }
            for c in line {
                if c == "{" { depth += 1 }
                if c == "}" {
                    depth -= 1
                    if let last = switchStack.last, last.depth == depth { switchStack.removeLast() }
                }
            }
        }
        return violations
    }
}

@Suite struct OpNameLintTests {
    /// The rule itself: each kind of violation is caught, and what is allowed passes.
    @Test func theLintCatchesEachKindOfViolation() {
        let bad = """
            switch n.op {
            case .relu, .exp: break
            default: break
            }
            if case .sigmoid = step.op { }
            let set: Set<Op> = [.relu]
            let list = [.tanh, .relu]
            let f = Op(rawValue: name)
            if n.op.rawValue == "relu" { }
            """
        let rules = OpNameLint.check(file: "x.swift", text: bad).map(\.rule)
        #expect(rules.contains("a switch over an op"))
        #expect(rules.contains("a case naming an op"))
        #expect(rules.contains("a case pattern naming an op"))
        #expect(rules.contains("a collection of ops"))
        #expect(rules.contains("a list of op names"))
        #expect(rules.contains("an op looked up by name"))
        #expect(rules.contains("an op compared by name"))
        let fine = """
            if n.op == .fused { }     // switch n.op { case .relu: }
            switch kernel {
            case .gemm: break
            default: break
            }
            let s = "switch op { case .relu }"
            x.relu = 1
            """
        #expect(OpNameLint.check(file: "y.swift", text: fine).isEmpty)
    }

    @Test func noPassOrRuntimeFileDecidesByOpName() throws {
        var violations: [OpNameLint.Violation] = []
        let files = try OpNameLint.swiftFiles()
        #expect(files.count > 10, "the lint found only \(files.count) files")
        for f in files { violations += OpNameLint.check(file: f, text: try RepositoryFiles.text(f)) }
        #expect(violations.isEmpty, "\(violations.map(\.description).joined(separator: "\n"))")
    }
}
