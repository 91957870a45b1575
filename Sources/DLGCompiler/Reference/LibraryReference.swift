import Foundation

/// The reference of the bundled library (Docs/library.md, section `library`), generated from
/// the modules' own text: per module, each block's signature, the comment above it and its body.
public enum LibraryReference {
    public static func markdown() -> String {
        var out = ""
        for name in StandardLibrary.modules.keys.sorted() {
            out += "## Module `\(name)`\n\n`use \(name)`\n"
            for block in blocks(StandardLibrary.modules[name]!) {
                out += "\n### `\(block.signature)`\n\n"
                if !block.comment.isEmpty { out += block.comment + "\n\n" }
                out += "```text\n" + block.text + "\n```\n"
            }
            out += "\n"
        }
        return out
    }

    struct Block {
        var signature: String
        var comment: String
        var text: String
    }

    /// The blocks of a module's text, in order: a block starts at a line `block NAME(…) {` and
    /// ends at the next line `}`; the `#` lines right above it are its comment.
    static func blocks(_ text: String) -> [Block] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out: [Block] = []
        var comment: [String] = []
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.hasPrefix("# ") || line == "#" {
                comment.append(String(line.dropFirst(2)))
            } else if line.hasPrefix("block "), let brace = line.lastIndex(of: "{") {
                let signature = line[line.index(line.startIndex, offsetBy: 6)..<brace].trimmingCharacters(in: .whitespaces)
                var body = [line]
                i += 1
                while i < lines.count {
                    body.append(lines[i])
                    if lines[i] == "}" { break }
                    i += 1
                }
                out.append(Block(signature: signature, comment: comment.joined(separator: "\n"), text: body.joined(separator: "\n")))
                comment = []
            } else {
                comment = []
            }
            i += 1
        }
        return out
    }
}
