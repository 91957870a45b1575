import ArgumentParser
import DLGCompiler
import Foundation
import Testing
@testable import dlg

/// The usage line and option table of every subcommand in Docs/cli.md are
/// generated from the command's own help (`dlg COMMAND --help` and
/// `--experimental-dump-help`); a test fails when they are stale, and `make docs`
/// (these tests with DLG_RECORD=1) rewrites them.
@Suite struct CLIReferenceTests {
    static var recording: Bool { ProcessInfo.processInfo.environment["DLG_RECORD"] == "1" }

    /// One argument of ArgumentParser's help dump.
    struct Argument: Decodable {
        struct Name: Decodable { var kind: String, name: String }
        var kind: String
        var names: [Name]?
        var valueName: String?
        var defaultValue: String?
        var isOptional: Bool
        var isRepeating: Bool
        var abstract: String?
        var discussion: String?
        var shouldDisplay: Bool
    }
    struct Dump: Decodable {
        struct Command: Decodable { var arguments: [Argument]? }
        var command: Command
    }

    /// How the table shows an argument, each name a code span: `` `--bind <SYM=N>` ``,
    /// `` `-o`, `--output <PATH>` ``, `` `<files> …` ``, `` `--training`, `--training-step` ``.
    static func display(_ a: Argument) -> String {
        let value = a.valueName.map { "<\(cell($0))>" } ?? ""
        if a.kind == "positional" { return "`" + value + (a.isRepeating ? " …" : "") + "`" }
        var names = (a.names ?? []).map { ($0.kind == "short" ? "-" : "--") + $0.name }
        if a.kind == "option", !names.isEmpty { names[names.count - 1] += " " + value }
        return names.map { "`\($0)`" }.joined(separator: ", ")
    }

    /// A trailing "(default: …)" of a help text, split off.
    static func splitDefault(_ text: String) -> (text: String, default: String?) {
        var t = text
        if t.hasSuffix(".") { t.removeLast() }
        guard t.hasSuffix(")"), let r = t.range(of: " (default: ", options: .backwards) else { return (text, nil) }
        let value = String(t[r.upperBound..<t.index(before: t.endIndex)])
        return (String(t[..<r.lowerBound]) + ".", value)
    }

    static func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }

    /// The generated part of a command's section: its usage line and a table of its arguments.
    static func reference(usage: String, dump: Dump) -> String {
        var rows: [String] = []
        var previous: Argument?
        for a in dump.command.arguments ?? [] where a.shouldDisplay {
            let names = Set((a.names ?? []).map(\.name))
            if !names.isDisjoint(with: ["help", "version"]) { continue }
            // An inverted flag (--shuffle/--no-shuffle) comes as two entries with one text: one row.
            if let p = previous, p.kind == "flag", a.kind == "flag", p.abstract == a.abstract, !rows.isEmpty {
                rows[rows.count - 1] = rows[rows.count - 1].replacingOccurrences(of: display(p), with: display(p) + ", " + display(a))
                previous = nil
                continue
            }
            let (text, stated) = splitDefault([a.abstract, a.discussion].compactMap { $0 }.joined(separator: " "))
            let defaultValue = a.defaultValue.map { "`\($0)`" } ?? stated
                ?? (a.kind == "flag" ? "off" : a.isOptional ? "—" : "required")
            rows.append("| \(display(a)) | \(cell(defaultValue)) | \(cell(text)) |")
            previous = a
        }
        return "```text\n\(usage)\n```\n\n| option | default | meaning |\n|---|---|---|\n" + rows.joined(separator: "\n") + "\n"
    }

    /// The USAGE line of a help text.
    static func usage(inHelp help: String) -> String? {
        help.split(separator: "\n").first { $0.hasPrefix("USAGE: ") }.map(String.init)
    }

    @Test func optionTablesAreCurrent() throws {
        let path = CLI.root.appendingPathComponent("Docs/cli.md").path
        let names = DLG.configuration.subcommands.map { $0._commandName }
        #expect(names.count >= 10)
        for name in names {
            let help = try CLI.run([name, "--help"])
            let dump = try CLI.run([name, "--experimental-dump-help"])
            guard help.status == 0, dump.status == 0, let usage = Self.usage(inHelp: help.stdout) else {
                Issue.record("dlg \(name): no help (\(help.status), \(dump.status))")
                continue
            }
            let decoded = try JSONDecoder().decode(Dump.self, from: Data(dump.stdout.utf8))
            let generated = Self.reference(usage: usage, dump: decoded)
            switch try GeneratedDocument.check(section: "dlg \(name)", of: path, generated, write: Self.recording) {
            case .current, .written: break
            case .stale(let at): Issue.record("Docs/cli.md, section dlg \(name), is stale: \(at); run `make docs`")
            case .missingSection:
                Issue.record("Docs/cli.md lacks <!-- generated: dlg \(name) --> … <!-- end: dlg \(name) --> in its section on dlg \(name)")
            }
        }
    }

    @Test func tableRowsFromAHelpDump() throws {
        let json = """
            {"command": {"arguments": [
              {"kind": "positional", "valueName": "file", "isOptional": false, "isRepeating": false, "abstract": "The .dlg file.", "shouldDisplay": true},
              {"kind": "option", "names": [{"kind": "short", "name": "o"}, {"kind": "long", "name": "output"}], "valueName": "PATH",
               "isOptional": true, "isRepeating": false, "abstract": "Write it (default: nowhere).", "shouldDisplay": true},
              {"kind": "option", "names": [{"kind": "long", "name": "batch"}], "valueName": "N|full", "defaultValue": "32",
               "isOptional": true, "isRepeating": false, "abstract": "Batch size.", "shouldDisplay": true},
              {"kind": "flag", "names": [{"kind": "long", "name": "shuffle"}], "isOptional": true, "isRepeating": false, "abstract": "Shuffle.", "shouldDisplay": true},
              {"kind": "flag", "names": [{"kind": "long", "name": "no-shuffle"}], "isOptional": true, "isRepeating": false, "abstract": "Shuffle.", "shouldDisplay": true},
              {"kind": "flag", "names": [{"kind": "long", "name": "json"}], "isOptional": true, "isRepeating": false, "abstract": "JSON.", "shouldDisplay": true},
              {"kind": "flag", "names": [{"kind": "short", "name": "h"}, {"kind": "long", "name": "help"}], "isOptional": true, "isRepeating": false,
               "abstract": "Show help information.", "shouldDisplay": true}
            ]}}
            """
        let dump = try JSONDecoder().decode(Dump.self, from: Data(json.utf8))
        #expect(Self.reference(usage: "USAGE: dlg x <file>", dump: dump) == """
            ```text
            USAGE: dlg x <file>
            ```

            | option | default | meaning |
            |---|---|---|
            | `<file>` | required | The .dlg file. |
            | `-o`, `--output <PATH>` | nowhere | Write it. |
            | `--batch <N\\|full>` | `32` | Batch size. |
            | `--shuffle`, `--no-shuffle` | off | Shuffle. |
            | `--json` | off | JSON. |

            """)
    }
}
