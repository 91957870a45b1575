import ArgumentParser
import Foundation
import Testing
@testable import dlg

/// Docs/cli.md must keep up with the commands: every subcommand has its own
/// section, and every option its `--help` lists is named in that section.
@Suite("Docs/cli.md covers every command")
struct DocsCLITests {
    /// Docs/cli.md, split into its `## ` sections: heading line → the section's text up to the next `## `.
    static func sections() throws -> [String: String] {
        let text = try String(contentsOf: CLI.root.appendingPathComponent("Docs/cli.md"), encoding: .utf8)
        var out: [String: String] = [:]
        var heading: String?
        var body = ""
        var inFence = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            // Lines inside ``` fences are example output, never headings.
            if line.hasPrefix("```") { inFence.toggle() }
            if !inFence, line.hasPrefix("## ") {
                if let heading { out[heading] = body }
                heading = String(line.dropFirst(3))
                body = ""
            } else {
                body += line + "\n"
            }
        }
        if let heading { out[heading] = body }
        return out
    }

    /// The option names in the OPTIONS part of a command's help: `--bind`, `-o`, `--output`,
    /// `--shuffle` and `--no-shuffle` from `--shuffle/--no-shuffle`; without --help, -h and --version.
    static func optionNames(inHelp help: String) -> [String] {
        var names: [String] = []
        var inOptions = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "OPTIONS:" { inOptions = true; continue }
            guard inOptions else { continue }
            // An option line starts with two spaces and a dash; its description may mention other
            // options (--checkpoint-every), so only the part before the description is read.
            guard line.hasPrefix("  -") else { continue }
            // "-o, --output <output>  …", "--shuffle/--no-shuffle  …": the leading words that start with '-'.
            for word in line.split(separator: " ").prefix(while: { $0.hasPrefix("-") }) {
                for name in word.split(whereSeparator: { $0 == "," || $0 == "/" }) { names.append(String(name)) }
            }
        }
        return names.filter { !["--help", "-h", "--version"].contains($0) }
    }

    @Test func helpParsingFindsEveryKindOfOptionName() {
        // A help text written by hand in ArgumentParser's layout: a short and long name, a flag pair,
        // an option whose description wraps onto the next line and mentions another option.
        let help = """
            USAGE: dlg x <file>

            OPTIONS:
              --bind <SYM=N>          Fix a symbolic size.
              -o, --output <output>   Write it.
              --shuffle/--no-shuffle  Shuffle.
              --checkpoint-every <checkpoint-every>
                                      Epochs between checkpoints (see --resume).
              --version               Show the version.
              -h, --help              Show help information.

            """
        #expect(Self.optionNames(inHelp: help) == ["--bind", "-o", "--output", "--shuffle", "--no-shuffle", "--checkpoint-every"])
    }

    @Test func everySubcommandHasASectionNamingEachOfItsOptions() throws {
        let sections = try Self.sections()
        let names = DLG.configuration.subcommands.map { $0._commandName }
        // check, summary, dump, run, gradcheck, train, eval, predict, compile, bench.
        #expect(names.count >= 10)
        for name in names {
            let heading = "`dlg \(name)`"
            guard let section = sections[heading] else {
                Issue.record("Docs/cli.md has no section '## \(heading)'")
                continue
            }
            let help = try CLI.run([name, "--help"])
            #expect(help.status == 0, "dlg \(name) --help: status \(help.status)")
            let options = Self.optionNames(inHelp: help.stdout)
            #expect(!options.isEmpty, "no options found in the help of dlg \(name):\n\(help.stdout)")
            for option in options where !section.contains("`\(option)") {
                Issue.record("Docs/cli.md, section \(heading), does not name the option \(option)")
            }
        }
    }

    @Test func usageErrorsExitWithTheStatusTheDocsGive() throws {
        // cli.md, "Exit status": a value that cannot be read is a usage error, status 64 (EX_USAGE).
        let r = try CLI.run(["check", "--bind", "B=x", CLI.graph("xor.dlg")])
        #expect(r.status == 64, "status \(r.status); stderr: \(r.stderr)")
        #expect(r.stderr.contains("--bind takes SYMBOL=N"))
        let sections = try Self.sections()
        let common = try #require(sections["Common behaviour"])
        #expect(common.contains("| 64 |"))
        // bench --warmup is documented as N ≥ 0: a negative count is refused, not a crash.
        let bench = try CLI.run(["bench", CLI.graph("xor.dlg"), "--warmup=-1", "--steps", "1"])
        #expect(bench.status == 64, "status \(bench.status); stderr: \(bench.stderr)")
        #expect(bench.stderr.contains("--warmup must not be negative"))
    }

    @Test func clippingFlagsAtZeroTurnClippingOff() throws {
        // cli.md and training.md: "--clip-value 0 and --clip-norm 0 turn clipping off", as 0 does in a
        // train block. The run without the flag is the reference: the same graph, so the same losses.
        func loss(_ extra: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Double {
            let r = try CLI.run(["train", CLI.graph("sine.dlg"), "--epochs", "2", "--json"] + extra)
            expectSuccess(r, sourceLocation: sourceLocation)
            return try #require(try jsonObject(r, sourceLocation: sourceLocation)["loss"] as? Double,
                                sourceLocation: sourceLocation)
        }
        let reference = try loss([])
        #expect(try loss(["--clip-value", "0"]) == reference)
        #expect(try loss(["--clip-norm", "0"]) == reference)
        // A positive clip changes the run (sine's first steps have gradient components far above 1e-3).
        #expect(try loss(["--clip-value", "0.001"]) != reference)
    }
}
