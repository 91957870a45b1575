import Foundation
import Testing

/// The command examples of README.md and Docs/, run as golden tests.
///
/// In a Markdown file, an HTML comment on the line before a fenced block marks it:
///
/// - `<!-- file: NAME -->`: the block's text is a file the examples use; it is
///   written into the document's scratch directory before any example runs.
/// - `<!-- setup: COMMAND -->` or `<!-- setup needs=mnist: COMMAND -->` (no
///   block): a command run before the examples, in order, to make files they
///   need (a checkpoint); it must succeed, and its output is not shown.
/// - `<!-- run -->` or `<!-- run: needs=mnist -->`: a transcript. Each line
///   that starts with `$ ` is a command; the lines up to the next command are
///   its output (standard output and standard error as a terminal shows them);
///   lines that start with `> ` right after a command continue it, as a shell's
///   second prompt shows a command of several lines.
///   `needs=mnist` skips the block, saying so, without the MNIST sample;
///   `needs=python-safetensors` without Python's safetensors and NumPy.
///
/// Numbers with a decimal point or an exponent in a line without `…` match to 2·10⁻⁶ relative
/// plus 10⁻⁶ (`DocExamples.sameUpToRounding`); integers and all other text exactly.
///
/// The expected output may elide: a line that is only `…` (indented or not)
/// stands for any number of lines, and `…` within a line for any text on it,
/// the spaces before it included (so that `autodiff      … ms` keeps matching
/// a column of right-aligned timings when one gets wider). Every example of one
/// document runs in the same scratch directory, in order, with copies of the
/// `Graphs/` models both at its top and under `Graphs/`, `dlg` on the PATH,
/// `NO_COLOR` set and `DLG_MNIST_DIR` pointing at the MNIST sample.
struct DocExample: CustomStringConvertible {
    struct Step {
        var command: String
        var expected: [String]
    }
    var document: String
    /// 1-based line of the block's opening fence.
    var line: Int
    var needs: [String]
    var steps: [Step]
    var description: String { "\(document):\(line)" }
}

struct DocFile {
    var name: String
    var text: String
}

struct DocExamples {
    var files: [DocFile] = []
    var setup: [(command: String, needs: [String])] = []
    var examples: [DocExample] = []

    /// Reads the marked blocks of a Markdown text.
    static func parse(_ markdown: String, document: String) -> DocExamples {
        var out = DocExamples()
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var i = 0
        while i < lines.count {
            let line = lines[i].trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("<!--"), line.hasSuffix("-->") else { i += 1; continue }
            let body = line.dropFirst(4).dropLast(3).trimmingCharacters(in: .whitespaces)
            if body.hasPrefix("setup"), let colon = body.firstIndex(of: ":") {
                out.setup.append((String(body[body.index(after: colon)...]).trimmingCharacters(in: .whitespaces),
                                  needs(body[..<colon].dropFirst(5))))
                i += 1
                continue
            }
            guard body.hasPrefix("file:") || body == "run" || body.hasPrefix("run:"),
                  i + 1 < lines.count, lines[i + 1].hasPrefix("```") else { i += 1; continue }
            var block: [String] = []
            var j = i + 2
            while j < lines.count, !lines[j].hasPrefix("```") {
                block.append(lines[j])
                j += 1
            }
            if body.hasPrefix("file:") {
                out.files.append(DocFile(name: body.dropFirst(5).trimmingCharacters(in: .whitespaces),
                                         text: block.joined(separator: "\n") + "\n"))
            } else {
                let needs = needs(body.dropFirst(3).drop { $0 == ":" })
                var steps: [DocExample.Step] = []
                for l in block {
                    if l.hasPrefix("$ ") {
                        steps.append(DocExample.Step(command: String(l.dropFirst(2)), expected: []))
                    } else if l.hasPrefix("> "), let last = steps.last, last.expected.isEmpty {
                        steps[steps.count - 1].command = last.command + "\n" + l.dropFirst(2)
                    } else if !steps.isEmpty {
                        steps[steps.count - 1].expected.append(l)
                    }
                }
                out.examples.append(DocExample(document: document, line: i + 2, needs: needs, steps: steps))
            }
            i = j + 1
        }
        return out
    }

    /// The `needs=a,b` of a mark's options.
    static func needs(_ options: Substring) -> [String] {
        options.split(separator: " ").filter { $0.hasPrefix("needs=") }.flatMap { $0.dropFirst(6).split(separator: ",").map(String.init) }
    }

    // MARK: Matching

    /// Whether one line matches an expected line in which `…` stands for any text.
    static func lineMatches(_ actual: Substring, _ pattern: Substring) -> Bool {
        var parts = pattern.components(separatedBy: "…")
        guard parts.count > 1 else { return actual == pattern || sameUpToRounding(actual, pattern) }
        for k in parts.indices.dropLast() {
            while parts[k].hasSuffix(" ") { parts[k].removeLast() }
        }
        guard actual.hasPrefix(parts[0]) else { return false }
        var rest = actual.dropFirst(parts[0].count)
        for (k, part) in parts.enumerated().dropFirst() {
            if k == parts.count - 1 { return rest.hasSuffix(part) && rest.count >= part.count }
            guard let r = rest.range(of: part) else { return false }
            rest = rest[r.upperBound...]
        }
        return true
    }

    /// Whether two lines are the same text with the same numbers, where numbers written with a
    /// decimal point or an exponent may differ by 2·10⁻⁶ relative plus 10⁻⁶ (integers must be equal): the
    /// last digits of a loss or a logit change with the machine's OpenBLAS kernels (AVX2 and AVX-512
    /// ones sum in other orders), the first six do not.
    static func sameUpToRounding(_ actual: Substring, _ pattern: Substring) -> Bool {
        let a = numberTokens(actual), p = numberTokens(pattern)
        guard a.text == p.text, a.numbers.count == p.numbers.count else { return false }
        for (x, y) in zip(a.numbers, p.numbers) {
            if x.isFloat != y.isFloat { return false }
            if x.isFloat {
                guard let u = Double(x.text), let v = Double(y.text),
                      abs(u - v) <= 2e-6 * max(abs(u), abs(v)) + 1e-6 else { return false }
            } else if x.text != y.text {
                return false
            }
        }
        return true
    }

    /// A line's text with every number replaced by `#`, and the numbers in order (a float is one
    /// with a decimal point or an exponent).
    static func numberTokens(_ line: Substring) -> (text: String, numbers: [(text: String, isFloat: Bool)]) {
        let c = Array(line)
        var text = "", numbers: [(text: String, isFloat: Bool)] = []
        var i = 0
        func digit(_ k: Int) -> Bool { k < c.count && c[k].isASCII && c[k].isNumber }
        while i < c.count {
            let startsNumber = digit(i) || (c[i] == "-" && digit(i + 1) && (i == 0 || !(c[i - 1].isLetter || c[i - 1].isNumber)))
            // A digit inside a word (`logits_0`, `h1`) is text.
            if !startsNumber || (i > 0 && (c[i - 1].isLetter || c[i - 1] == "_")) {
                text.append(c[i]); i += 1; continue
            }
            var j = i + (c[i] == "-" ? 1 : 0), isFloat = false
            while digit(j) { j += 1 }
            if j < c.count, c[j] == ".", digit(j + 1) { isFloat = true; j += 1; while digit(j) { j += 1 } }
            if j < c.count, c[j] == "e" || c[j] == "E" {
                var k = j + 1
                if k < c.count, c[k] == "-" || c[k] == "+" { k += 1 }
                if digit(k) { isFloat = true; j = k; while digit(j) { j += 1 } }
            }
            numbers.append((String(c[i ..< j]), isFloat))
            text.append("#")
            i = j
        }
        return (text, numbers)
    }

    /// Whether the output's lines match the expected ones, where a line `…` stands for any number of lines.
    static func matches(_ actual: [Substring], _ expected: [Substring]) -> Bool {
        // memo[i][j]: actual[i...] against expected[j...].
        var memo = [[Bool?]](repeating: [Bool?](repeating: nil, count: expected.count + 1), count: actual.count + 1)
        func go(_ i: Int, _ j: Int) -> Bool {
            if let m = memo[i][j] { return m }
            let r: Bool
            if j == expected.count {
                r = i == actual.count
            } else if expected[j].allSatisfy({ $0 == " " || $0 == "…" }) && expected[j].contains("…") {
                r = go(i, j + 1) || (i < actual.count && go(i + 1, j))
            } else {
                r = i < actual.count && lineMatches(actual[i], expected[j]) && go(i + 1, j + 1)
            }
            memo[i][j] = r
            return r
        }
        return go(0, 0)
    }

    /// Output lines compared: trailing spaces dropped, trailing empty lines dropped.
    static func normalized(_ lines: [String]) -> [Substring] {
        var out = lines.map { l -> Substring in
            var s = Substring(l)
            while s.last == " " { s = s.dropLast() }
            return s
        }
        while out.last == "" { out.removeLast() }
        return out
    }
}
