import Foundation

/// Keeps a generated document, or a generated section of one, in step with the
/// code: `check` compares the committed text with what the code generates now
/// and says where they first differ; with `write` it replaces the text instead
/// (`make docs`). A section is the text between the lines
/// `<!-- generated: NAME -->` and `<!-- end: NAME -->`.
public enum GeneratedDocument {
    public enum Outcome: Equatable, Sendable {
        case current
        case written
        /// Where the committed text first differs from the generated one.
        case stale(String)
        case missingSection(String)
    }

    /// A whole generated file.
    public static func check(file path: String, _ generated: String, write: Bool) throws -> Outcome {
        let committed = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        if committed == generated { return .current }
        if write {
            try generated.write(toFile: path, atomically: true, encoding: .utf8)
            return .written
        }
        return .stale(firstDifference(committed, generated))
    }

    /// One generated section of a file.
    public static func check(section name: String, of path: String, _ generated: String, write: Bool) throws -> Outcome {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let updated = replacingSection(text, name, generated) else { return .missingSection(name) }
        if updated == text { return .current }
        if write {
            try updated.write(toFile: path, atomically: true, encoding: .utf8)
            return .written
        }
        return .stale(firstDifference(text, updated))
    }

    /// The text with a section's body replaced; nil when its markers are missing.
    public static func replacingSection(_ text: String, _ name: String, _ body: String) -> String? {
        let begin = "<!-- generated: \(name) -->\n", end = "<!-- end: \(name) -->"
        guard let b = text.range(of: begin), let e = text.range(of: end, range: b.upperBound..<text.endIndex) else { return nil }
        return String(text[..<b.upperBound]) + body + (body.isEmpty || body.hasSuffix("\n") ? "" : "\n") + String(text[e.lowerBound...])
    }

    /// "line 12: committed '…', generated '…'".
    public static func firstDifference(_ a: String, _ b: String) -> String {
        let la = a.split(separator: "\n", omittingEmptySubsequences: false)
        let lb = b.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(la.count, lb.count) {
            let x = i < la.count ? String(la[i]) : "(end of file)", y = i < lb.count ? String(lb[i]) : "(end of file)"
            if x != y { return "line \(i + 1): committed '\(x)', generated '\(y)'" }
        }
        return "no difference"
    }
}
