import Foundation
import DLGCompiler
import DLGSource
import Testing

/// Expected diagnostics are written inline in the .dlg snippet: a marker
/// (① … ⑳) where the diagnostic points, and on the same line a comment
///
///     y = ①foo(x)        #! ① error: unknown name 'foo'
///
/// `#!` comments are removed and markers stripped before compiling; every
/// error and warning the compiler reports must be expected, at the marker's
/// exact line and column, with exactly that message.
struct ExpectedDiagnostic: CustomStringConvertible, Equatable {
    var line: Int
    var column: Int
    var severity: String
    var message: String
    var description: String { "\(line):\(column): \(severity): \(message)" }
}

private let markers: [Character] = Array("①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳")

/// Splits an annotated snippet into the plain source and its expectations.
func parseAnnotated(_ annotated: String) -> (source: String, expected: [ExpectedDiagnostic]) {
    var specs: [(Character, String, String)] = []
    var codeLines: [String] = []
    for line in annotated.split(separator: "\n", omittingEmptySubsequences: false) {
        var code = String(line)
        if let r = code.range(of: "#!") {
            let comment = code[r.upperBound...]
            code = String(code[..<r.lowerBound])
            // Several expectations may share a line: `#! ① error: a #! ② warning: b`.
            for part in comment.components(separatedBy: "#!") {
                let t = part.trimmingCharacters(in: .whitespaces)
                guard let m = t.first, markers.contains(m) else { continue }
                let rest = t.dropFirst().trimmingCharacters(in: .whitespaces)
                guard let colon = rest.firstIndex(of: ":") else { continue }
                specs.append((m, String(rest[..<colon]), rest[rest.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            while code.hasSuffix(" ") { code.removeLast() }
        }
        codeLines.append(code)
    }
    var positions: [Character: (Int, Int)] = [:]
    var plainLines: [String] = []
    for (i, line) in codeLines.enumerated() {
        var plain = ""
        for c in line {
            if markers.contains(c) {
                positions[c] = (i + 1, plain.utf8.count + 1)
            } else {
                plain.append(c)
            }
        }
        plainLines.append(plain)
    }
    let expected = specs.map { m, sev, msg in
        let (l, c) = positions[m] ?? (0, 0)
        return ExpectedDiagnostic(line: l, column: c, severity: sev, message: msg)
    }
    return (plainLines.joined(separator: "\n"), expected)
}

/// Compiles an annotated snippet and checks its diagnostics exactly.
func assertDiagnostics(_ annotated: String, bindings: [String: Int] = [:],
                       sourceLocation: SourceLocation = #_sourceLocation) {
    let (source, expected) = parseAnnotated(annotated)
    let file = SourceFile(path: "test.dlg", text: source)
    let diags = Frontend.check(file, options: ElaborationOptions(training: true, bindings: bindings))
    let actual = diags.sorted.map { d -> ExpectedDiagnostic in
        let (l, c) = file.lineColumn(of: d.range.start)
        return ExpectedDiagnostic(line: l, column: c, severity: d.severity.rawValue, message: d.message)
    }
    let sortedExpected = expected.sorted { ($0.line, $0.column, $0.message) < ($1.line, $1.column, $1.message) }
    let sortedActual = actual.sorted { ($0.line, $0.column, $0.message) < ($1.line, $1.column, $1.message) }
    if sortedExpected != sortedActual {
        let rendered = DiagnosticsFormatter().format(diags.sorted, in: file)
        Issue.record("""
            diagnostics differ
            expected:
            \(sortedExpected.map { "  \($0)" }.joined(separator: "\n"))
            actual:
            \(sortedActual.map { "  \($0)" }.joined(separator: "\n"))
            rendered:
            \(rendered)
            """, sourceLocation: sourceLocation)
    }
}

/// Compiles a snippet that must be free of errors and warnings.
func assertClean(_ source: String, bindings: [String: Int] = [:], sourceLocation: SourceLocation = #_sourceLocation) {
    assertDiagnostics(source, bindings: bindings, sourceLocation: sourceLocation)
}
