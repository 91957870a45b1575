import DLGCompiler
import DLGSource
import Foundation
import Testing

/// Expected diagnostics are written inline in the .dlg snippet. Markers
/// (① … ⑳) stand in the code: one marker alone is a place (an empty range),
/// the same marker twice encloses a range. A `#!` comment on any line says what
/// is expected there:
///
///     y = ①foo①(x)          #! ① error[unknown-function]: unknown function 'foo'
///     y = ①imgae①           #! ① error[unknown-name]: unknown name 'imgae'
///     input ②image② …       #! ① note ②: did you mean 'image'?
///                           #! ① note: a block sees only its parameters and its own bindings
///
/// `error[ID]` and `warning[ID]` give a diagnostic at the marker's range: its
/// severity, its catalog ID and its message. `① note: …` is a note of that
/// diagnostic without a place of its own, `① note ②: …` one at marker ②; the
/// notes are listed in order. `#!` comments are removed and markers stripped
/// before compiling; every error and warning the compiler reports must be
/// expected exactly — ID, range, message and notes.
struct ExpectedDiagnostic: CustomStringConvertible, Equatable {
    struct Place: Equatable, CustomStringConvertible {
        var line: Int, column: Int, endLine: Int, endColumn: Int
        var description: String {
            (line, column) == (endLine, endColumn) ? "\(line):\(column)"
                : line == endLine ? "\(line):\(column)-\(endColumn)" : "\(line):\(column)-\(endLine):\(endColumn)"
        }
    }
    struct Note: Equatable, CustomStringConvertible {
        var place: Place?
        var message: String
        var description: String { "note" + (place.map { " at \($0)" } ?? "") + ": \(message)" }
    }
    var place: Place
    var severity: String
    var id: String
    var message: String
    var notes: [Note] = []
    var description: String {
        "\(place): \(severity)[\(id)]: \(message)" + notes.map { "\n      \($0)" }.joined()
    }
}

let diagnosticMarkers: [Character] = Array("①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳")

/// Splits an annotated snippet into the plain source and its expectations.
func parseAnnotated(_ annotated: String, sourceLocation: SourceLocation = #_sourceLocation)
    -> (source: String, expected: [ExpectedDiagnostic]) {
    enum Spec { case diagnostic(Character, String, String, String), note(Character, Character?, String) }
    var specs: [Spec] = []
    var codeLines: [String] = []
    for line in annotated.split(separator: "\n", omittingEmptySubsequences: false) {
        var code = String(line)
        if let r = code.range(of: "#!") {
            let comment = code[r.upperBound...]
            code = String(code[..<r.lowerBound])
            // Several expectations may share a line: `#! ① error[a]: x #! ② warning[b]: y`.
            for part in comment.components(separatedBy: "#!") {
                let t = part.trimmingCharacters(in: .whitespaces)
                guard let m = t.first, diagnosticMarkers.contains(m), let colon = t.firstIndex(of: ":") else {
                    Issue.record("unreadable expectation '#!\(part)'", sourceLocation: sourceLocation)
                    continue
                }
                let head = t[t.index(after: t.startIndex)..<colon].trimmingCharacters(in: .whitespaces)
                let text = t[t.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if head.hasPrefix("note") {
                    let at = head.dropFirst(4).trimmingCharacters(in: .whitespaces)
                    specs.append(.note(m, at.first, text))
                } else if let open = head.firstIndex(of: "["), head.hasSuffix("]") {
                    specs.append(.diagnostic(m, String(head[..<open]), String(head[head.index(after: open)..<head.index(before: head.endIndex)]), text))
                } else {
                    Issue.record("expectation '\(t)' lacks an [ID]", sourceLocation: sourceLocation)
                }
            }
            while code.hasSuffix(" ") { code.removeLast() }
        }
        codeLines.append(code)
    }
    // Each marker's first and (optional) second position.
    var positions: [Character: [(Int, Int)]] = [:]
    var plainLines: [String] = []
    for (i, line) in codeLines.enumerated() {
        var plain = ""
        for c in line {
            if diagnosticMarkers.contains(c) {
                positions[c, default: []].append((i + 1, plain.utf8.count + 1))
            } else {
                plain.append(c)
            }
        }
        plainLines.append(plain)
    }
    func place(_ m: Character) -> ExpectedDiagnostic.Place {
        guard let p = positions[m], let first = p.first, p.count <= 2 else {
            Issue.record("marker \(m) must stand once or twice in the code", sourceLocation: sourceLocation)
            return ExpectedDiagnostic.Place(line: 0, column: 0, endLine: 0, endColumn: 0)
        }
        let last = p.last!
        return ExpectedDiagnostic.Place(line: first.0, column: first.1, endLine: last.0, endColumn: last.1)
    }
    var expected: [ExpectedDiagnostic] = []
    var index: [Character: Int] = [:]
    for case .diagnostic(let m, let severity, let id, let message) in specs {
        index[m] = expected.count
        expected.append(ExpectedDiagnostic(place: place(m), severity: severity, id: id, message: message))
    }
    // Notes may stand on any line, before or after their diagnostic's; they keep their order.
    for case .note(let m, let at, let message) in specs {
        guard let i = index[m] else {
            Issue.record("a note of \(m), which has no diagnostic", sourceLocation: sourceLocation)
            continue
        }
        expected[i].notes.append(ExpectedDiagnostic.Note(place: at.map(place), message: message))
    }
    return (plainLines.joined(separator: "\n"), expected)
}

/// A diagnostic as the annotations describe it.
func described(_ d: Diagnostic, in file: SourceFile) -> ExpectedDiagnostic {
    func place(_ r: SourceRange) -> ExpectedDiagnostic.Place {
        let (l, c) = file.lineColumn(of: r.start), (el, ec) = file.lineColumn(of: r.end)
        return ExpectedDiagnostic.Place(line: l, column: c, endLine: el, endColumn: ec)
    }
    return ExpectedDiagnostic(place: place(d.range), severity: d.severity.rawValue, id: d.id, message: d.message,
                              notes: d.notes.map { ExpectedDiagnostic.Note(place: $0.range.map(place), message: $0.message) })
}

/// Compiles an annotated snippet and checks its diagnostics exactly.
func assertDiagnostics(_ annotated: String, bindings: [String: Int] = [:],
                       sourceLocation: SourceLocation = #_sourceLocation) {
    let (source, expected) = parseAnnotated(annotated, sourceLocation: sourceLocation)
    let file = SourceFile(path: "test.dlg", text: source)
    let diags = Frontend.check(file, options: ElaborationOptions(training: true, bindings: bindings))
    let actual = diags.sorted.map { described($0, in: file) }
    func key(_ d: ExpectedDiagnostic) -> (Int, Int, String) { (d.place.line, d.place.column, d.message) }
    let sortedExpected = expected.sorted { key($0) < key($1) }
    let sortedActual = actual.sorted { key($0) < key($1) }
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
