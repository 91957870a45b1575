import DLGSource
import DLGSyntax
import Foundation

/// Puts a model file together with the files it uses (`use "blocks.dlg"`, `use nn`),
/// transitively, into one `SourceFile` of several segments: the file first, then
/// each used file once, in the order they are first used. A quoted path is relative
/// to the directory of the file that uses it; a bare name is a module of the bundled
/// library (`StandardLibrary`). A file that cannot be read, an unknown module and a
/// cycle (a file that uses itself, directly or through others) are diagnostics at
/// the `use` line, reported with the parser's; the rest of the source still parses.
public enum SourceLoader {
    /// Reads a file's text: nil and the reason when it cannot.
    public typealias Reader = @Sendable (String) -> (text: String?, reason: String)

    /// Reads files from the file system.
    public static let fileSystem: Reader = { path in
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return (nil, "no such file") }
        if isDirectory.boolValue { return (nil, "it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else { return (nil, "the file cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { return (nil, "the file is not UTF-8 text") }
        return (text, "")
    }

    /// The file and everything it uses; the file itself unchanged when it uses nothing.
    public static func load(_ file: SourceFile, reader: Reader = fileSystem) -> SourceFile {
        let (unit, _) = Parser.parse(file)
        guard !unit.uses.isEmpty else { return file }

        struct Part {
            var path: String   // as shown
            var key: String    // identity: a standardized path, or "<library>/name"
            var text: String
            var directory: String
            var uses: [UseDecl]
        }
        struct Pending {
            var part: Int
            var range: SourceRange
            var message: SyntaxDiagnostic
            var noteParts: [Int]
        }
        func key(_ path: String) -> String {
            let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
            return (absolute as NSString).standardizingPath
        }
        var parts = [Part(path: file.path, key: key(file.path), text: file.text,
                          directory: (file.path as NSString).deletingLastPathComponent, uses: unit.uses)]
        var index = [parts[0].key: 0]
        var pending: [Pending] = []
        // Per cycle found: the earlier uses along it, each as (part, range in that part).
        var cycleUses: [[(Int, SourceRange)]] = []

        /// Visits a part's uses depth first; `chain` holds the parts being visited and the use that led to each.
        func visit(_ p: Int, chain: [(part: Int, via: SourceRange?)]) {
            for use in parts[p].uses {
                let shown: String, identity: String, directory: String
                var text: String?
                var reason = ""
                switch use.target {
                case .library(let name):
                    shown = StandardLibrary.displayPath(name)
                    identity = shown
                    directory = ""
                    guard let source = StandardLibrary.modules[name] else {
                        pending.append(Pending(part: p, range: use.targetRange, message: .useUnknownModule(
                            name: name, known: StandardLibrary.modules.keys.sorted()), noteParts: []))
                        continue
                    }
                    text = source
                case .file(let path):
                    let base = parts[p].directory
                    shown = path.hasPrefix("/") || base.isEmpty ? path : (base as NSString).appendingPathComponent(path)
                    identity = key(shown)
                    directory = (shown as NSString).deletingLastPathComponent
                    if index[identity] == nil { (text, reason) = reader(shown) }
                    if let k = index[identity], chain.contains(where: { $0.part == k }) || k == p {
                        // A cycle: from part k through the chain back to here.
                        let all = chain + [(part: p, via: nil)]
                        let from = all.firstIndex { $0.part == k }!
                        let loop = Array(all[from...])
                        cycleUses.append(loop.dropLast().compactMap { e in e.via.map { (e.part, $0) } })
                        pending.append(Pending(part: p, range: use.targetRange, message: .useCycle(
                            chain: loop.map { parts[$0.part].path } + [parts[k].path], earlier: []), noteParts: [cycleUses.count - 1]))
                        continue
                    }
                    if index[identity] != nil { continue }
                    guard text != nil else {
                        pending.append(Pending(part: p, range: use.targetRange,
                                               message: .useMissingFile(path: path, resolved: shown, reason: reason), noteParts: []))
                        continue
                    }
                }
                if index[identity] != nil { continue }
                let used = SourceFile(path: shown, text: text!)
                let uses = Parser.parse(used).unit.uses
                parts.append(Part(path: shown, key: identity, text: text!, directory: directory, uses: uses))
                index[identity] = parts.count - 1
                visit(parts.count - 1, chain: chain + [(part: p, via: use.targetRange)])
            }
        }
        visit(0, chain: [])

        // The parts are laid out in order; ranges found in a part alone move by its start.
        let assembled = SourceFile(parts: parts.map { ($0.path, $0.text) }, diagnostics: [])
        func moved(_ part: Int, _ r: SourceRange) -> SourceRange {
            let start = assembled.segments[part].start
            return SourceRange(r.start + start, r.end + start)
        }
        var diagnostics: [Diagnostic] = []
        for d in pending {
            var message = d.message
            if case .useCycle(let chain, _) = message, let k = d.noteParts.first {
                message = .useCycle(chain: chain, earlier: cycleUses[k].map { moved($0.0, $0.1) })
            }
            diagnostics.append(Diagnostic(message, at: moved(d.part, d.range)))
        }
        return SourceFile(parts: parts.map { ($0.path, $0.text) }, diagnostics: diagnostics)
    }
}
