/// Diagnostics are values: collected while compiling, never thrown.
public enum Severity: String, Sendable, Comparable, Codable {
    case note, warning, error
    public static func < (a: Severity, b: Severity) -> Bool {
        let order: [Severity] = [.note, .warning, .error]
        return order.firstIndex(of: a)! < order.firstIndex(of: b)!
    }
}

/// A note attached to a diagnostic, optionally pointing at another place.
public struct DiagnosticNote: Sendable, Hashable {
    public var message: String
    public var range: SourceRange?
    public init(_ message: String, at range: SourceRange? = nil) {
        self.message = message
        self.range = range
    }
}

public struct Diagnostic: Sendable, Hashable {
    public var severity: Severity
    /// The stable identifier of the kind of problem, e.g. `unknown-name`: the
    /// `id` of the catalog message it was made from.
    public var id: String
    public var message: String
    public var range: SourceRange
    public var notes: [DiagnosticNote]

    /// A diagnostic from a catalog message: its ID, severity, text and own
    /// notes, then `notes` (the call chain that led to it, say).
    public init(_ message: some DiagnosticMessage, at range: SourceRange, notes: [DiagnosticNote] = []) {
        self.severity = message.severity
        self.id = message.id
        self.message = message.message
        self.range = range
        self.notes = message.notes + notes
    }
}

/// An ordered collection of diagnostics for one source file.
public struct Diagnostics: Sendable {
    public private(set) var all: [Diagnostic] = []
    /// What makes two diagnostics the same report.
    private struct Key: Hashable, Sendable {
        var severity: Severity
        var message: String
        var range: SourceRange
    }
    private var seen: Set<Key> = []
    public init() {}

    public mutating func append(_ d: Diagnostic) {
        // The same problem reported twice at the same place helps nobody (a
        // block called from several places reports an error in its body once).
        guard seen.insert(Key(severity: d.severity, message: d.message, range: d.range)).inserted else { return }
        all.append(d)
    }
    public mutating func append(contentsOf ds: [Diagnostic]) { ds.forEach { append($0) } }
    /// Reports a catalog message at a place, with notes beyond its own.
    public mutating func report(_ message: some DiagnosticMessage, at range: SourceRange, notes: [DiagnosticNote] = []) {
        append(Diagnostic(message, at: range, notes: notes))
    }
    public var hasErrors: Bool { all.contains { $0.severity == .error } }
    public var errors: [Diagnostic] { all.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { all.filter { $0.severity == .warning } }
    public var isEmpty: Bool { all.isEmpty }
    /// Sorted by position, errors and warnings interleaved as they appear in the file.
    public var sorted: [Diagnostic] {
        all.enumerated().sorted { a, b in
            a.element.range.start != b.element.range.start
                ? a.element.range.start < b.element.range.start : a.offset < b.offset
        }.map(\.element)
    }
}

/// Renders diagnostics the way compilers do:
///
///     lenet5.dlg:7:10: error: unknown name 'imgae'
///         c1 = relu(conv2d(imgae, filters: 6, kernel: 5))
///                          ^~~~~
public struct DiagnosticsFormatter: Sendable {
    public var colors: Bool
    public init(colors: Bool = false) { self.colors = colors }

    public func format(_ d: Diagnostic, in file: SourceFile) -> String {
        var out = header(severity: d.severity, message: d.message, range: d.range, file: file)
        out += snippet(d.range, file: file)
        for note in d.notes {
            if let r = note.range {
                out += header(severity: .note, message: note.message, range: r, file: file)
                out += snippet(r, file: file)
            } else {
                out += "    note: \(note.message)\n"
            }
        }
        return out
    }

    public func format(_ ds: [Diagnostic], in file: SourceFile) -> String {
        ds.map { format($0, in: file) }.joined()
    }

    private func header(severity: Severity, message: String, range: SourceRange, file: SourceFile) -> String {
        let loc = file.location(range.start)
        let sev = severity.rawValue
        if colors {
            let color = severity == .error ? "\u{1B}[1;31m" : severity == .warning ? "\u{1B}[1;35m" : "\u{1B}[1;36m"
            return "\u{1B}[1m\(loc): \(color)\(sev):\u{1B}[0m\u{1B}[1m \(message)\u{1B}[0m\n"
        }
        return "\(loc): \(sev): \(message)\n"
    }

    /// The source line and a caret under the start of the range, with tildes
    /// under the rest of it when it stays on the same line.
    private func snippet(_ range: SourceRange, file: SourceFile) -> String {
        let (line, column) = file.lineColumn(of: range.start)
        let text = file.lineText(containing: range.start)
        // Tabs are kept so the caret lines up under them.
        var pad = ""
        for (i, b) in text.utf8.enumerated() where i < column - 1 {
            pad += b == UInt8(ascii: "\t") ? "\t" : (b & 0xC0 == 0x80 ? "" : " ")
        }
        let endLine = file.lineColumn(of: max(range.start, range.end - 1)).line
        var marker = "^"
        if endLine == line, range.end - range.start > 1 {
            let endCol = file.lineColumn(of: range.end).column
            let lineBytes = Array(text.utf8)
            var n = 0
            var i = column
            while i < endCol - 1, i < lineBytes.count {
                if lineBytes[i] & 0xC0 != 0x80 { n += 1 }
                i += 1
            }
            marker += String(repeating: "~", count: n)
        }
        if colors { marker = "\u{1B}[1;32m\(marker)\u{1B}[0m" }
        return "    \(text)\n    \(pad)\(marker)\n"
    }
}
