import Foundation
import Testing

/// Every command example of README.md and Docs/ whose output is shown runs, and
/// its output matches (DocExamples describes the marks and the elisions).
@Suite("README and Docs examples")
struct DocExampleTests {
    static let documents = ["README.md", "Docs/cli.md", "Docs/training.md", "Docs/language.md", "Docs/ir.md",
                            "Docs/passes.md", "Docs/fuzzing.md", "Docs/diagnostics.md", "Docs/serve.md", "Docs/sequence-data.md",
                            "Docs/sequence.md"]

    static var pythonSafetensors: Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import safetensors, numpy"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// A scratch directory with the models of Graphs/ at its top and under Graphs/,
    /// the document's files, and a bin/ directory holding `dlg`.
    static func scratch(for examples: DocExamples) throws -> Scratch {
        let s = try Scratch()
        let fm = FileManager.default
        try fm.createDirectory(atPath: s.file("Graphs"), withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: CLI.graphs) where name.hasSuffix(".dlg") {
            try fm.copyItem(atPath: CLI.graph(name), toPath: s.file(name))
            try fm.copyItem(atPath: CLI.graph(name), toPath: s.file("Graphs/" + name))
        }
        for f in examples.files { try s.write(f.name, f.text) }
        try fm.createDirectory(atPath: s.file(".bin"), withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: s.file(".bin/dlg"), withDestinationPath: CLI.binary)
        return s
    }

    /// Runs commands in one shell, in `directory`; returns each command's output
    /// (standard output and error together, in the order they were written).
    static func run(_ commands: [String], in scratch: Scratch) throws -> [String] {
        // Between commands a separator line; `$?` is kept across it, so `echo $?` works as typed.
        let separator = "\u{1E}dlg-example-separator\u{1E}"
        var script = "cd \(shellQuoted(scratch.path))\n"
        for c in commands {
            script += c + "\n__status=$?; printf '\\n%s\\n' '\(separator)'; (exit $__status)\n"
        }
        try scratch.write(".script.sh", script)
        _ = try CLI.execute("/bin/bash", [scratch.file(".script.sh")], in: scratch.path,
                            environment: ["PATH": scratch.file(".bin") + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")],
                            stdout: scratch.file(".output"), stderr: scratch.file(".output"))
        let text = try String(contentsOfFile: scratch.file(".output"), encoding: .utf8)
        var parts = text.components(separatedBy: "\n" + separator + "\n")
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The examples train models (MNIST among them): they need the release `dlg` that `make test` passes as DLG_BIN.
    @Test(.enabled(if: CLI.releaseBinary != nil, "the examples train models: they need DLG_BIN, a release dlg, as make test builds"),
          arguments: documents)
    func examplesRunAsShown(document: String) throws {
        let text = try String(contentsOf: CLI.root.appendingPathComponent(document), encoding: .utf8)
        var parsed = DocExamples.parse(text, document: document)
        guard !parsed.examples.isEmpty else { return }
        // The files any document shows (spirals.dlg in training.md) are there for every document's examples.
        for other in Self.documents where other != document {
            let t = try String(contentsOf: CLI.root.appendingPathComponent(other), encoding: .utf8)
            for f in DocExamples.parse(t, document: other).files where !parsed.files.contains(where: { $0.name == f.name }) {
                parsed.files.append(f)
            }
        }
        let scratch = try Self.scratch(for: parsed)
        var available: Set<String> = []
        if CLI.mnistDirectory != nil { available.insert("mnist") }
        if Self.pythonSafetensors { available.insert("python-safetensors") }
        let runnable = parsed.examples.filter { Set($0.needs).isSubset(of: available) }
        for e in parsed.examples where !runnable.contains(where: { $0.line == e.line }) {
            print("\(e): skipped, it needs \(e.needs.filter { !available.contains($0) }.joined(separator: ", "))")
        }
        let setup = parsed.setup.filter { Set($0.needs).isSubset(of: available) }.map(\.command)
        if !setup.isEmpty {
            let outputs = try Self.run(setup.map { "{ \($0)\n} > .setup.log 2>&1 || { echo \"setup failed: $?\"; cat .setup.log; }" }, in: scratch)
            for (c, o) in zip(setup, outputs) where o.contains("setup failed") {
                Issue.record("\(document): setup command failed: \(c)\n\(o)")
            }
        }
        let commands = runnable.flatMap { $0.steps.map(\.command) }
        let outputs = try Self.run(commands, in: scratch)
        #expect(outputs.count == commands.count, "\(document): \(outputs.count) outputs for \(commands.count) commands")
        var k = 0
        for e in runnable {
            for step in e.steps {
                defer { k += 1 }
                guard k < outputs.count else { break }
                let actual = DocExamples.normalized(outputs[k].components(separatedBy: "\n"))
                let expected = DocExamples.normalized(step.expected)
                if !DocExamples.matches(actual, expected) {
                    Issue.record("""
                        \(e): `\(step.command)` printed
                        \(actual.joined(separator: "\n"))
                        but the document shows
                        \(expected.joined(separator: "\n"))
                        """)
                }
            }
        }
    }

    @Test func markedBlocksAreRead() {
        let doc = """
            <!-- file: a.dlg -->
            ```dlg
            model m {}
            ```
            <!-- setup: dlg train x.dlg -->
            <!-- setup needs=mnist: dlg train lenet5.dlg -->
            <!-- run: needs=mnist -->
            ```text
            $ dlg check a.dlg
            line 1
            …
            $ echo $?
            0
            $ python3 -c "
            > print(1)"
            1
            ```
            ```text
            $ not marked
            ```
            """
        let p = DocExamples.parse(doc, document: "d.md")
        #expect(p.files.map(\.name) == ["a.dlg"])
        #expect(p.files.first?.text == "model m {}\n")
        #expect(p.setup.map(\.command) == ["dlg train x.dlg", "dlg train lenet5.dlg"])
        #expect(p.setup.map(\.needs) == [[], ["mnist"]])
        #expect(p.examples.count == 1)
        #expect(p.examples.first?.line == 8)
        #expect(p.examples.first?.needs == ["mnist"])
        #expect(p.examples.first?.steps.map(\.command) == ["dlg check a.dlg", "echo $?", "python3 -c \"\nprint(1)\""])
        #expect(p.examples.first?.steps.first?.expected == ["line 1", "…"])
    }

    @Test func elisionsMatchWhatTheyStandFor() {
        func m(_ a: [Substring], _ e: [Substring]) -> Bool { DocExamples.matches(a, e) }
        #expect(m(["a", "b", "c"], ["a", "…", "c"]))
        #expect(m(["a", "c"], ["a", "…", "c"]))
        #expect(m(["{", "  1,", "  2", "}"], ["{", "  …", "}"]))
        #expect(!m(["a", "b", "d"], ["a", "…", "c"]))
        #expect(!m(["a", "b"], ["a"]))
        #expect(m(["in 9.5 ms"], ["in … ms"]))
        #expect(!m(["in 9.5 s"], ["in … ms"]))
        #expect(m(["  autodiff               10.16 ms        26  yes"], ["  autodiff                … ms        26  yes"]))
        #expect(DocExamples.lineMatches("loss 0.25, acc 91%", "loss …, acc …"))
        #expect(!DocExamples.lineMatches("loss 0.25", "loss 0.2"))
        #expect(DocExamples.normalized(["x  ", "", ""]) == ["x"])
        // Floats to 2e-6 relative; integers, words with digits and the rest exactly.
        #expect(DocExamples.lineMatches("  \"loss\": 0.15974913001060487,", "  \"loss\": 0.15974911665916444,"))
        #expect(DocExamples.lineMatches("-2.540034,-7.412059,1.1325772,7", "-2.540034,-7.412061,1.1325762,7"))
        #expect(DocExamples.lineMatches("x 1.0e-3", "x 1.000001e-3"))
        #expect(!DocExamples.lineMatches("loss 0.1726", "loss 0.1728"))
        #expect(!DocExamples.lineMatches("-2.540034,-7.412059,1.1325772,7", "-2.540034,-7.412059,1.1325772,8"))
        #expect(!DocExamples.lineMatches("[199, 0, 3]", "[199, 0, 4]"))
        #expect(!DocExamples.lineMatches("logits_0 1.5", "logits_1 1.5"))
        #expect(!DocExamples.lineMatches("loss 0.5", "loss: 0.5"))
        #expect(!DocExamples.lineMatches("loss 0.5", "loss -0.5"))
        #expect(DocExamples.lineMatches("0.07503298,-3.048456", "0.075032204,-3.0484533"))   // 8e-7 apart near 0
    }
}
