@testable import DLGCompiler
import DLGGraph
import DLGSource
import DLGSyntax
import Foundation
import Testing

/// Golden files: the text dumps of Graphs/lenet5.dlg at each stage, compared
/// with Tests/DLGCompilerTests/Snapshots/*.txt. After a deliberate change to
/// a printer or a pass, re-record them with
///
///     DLG_RECORD_SNAPSHOTS=1 swift test --filter SnapshotTests
///
/// which writes the files into the source tree (and fails, saying so), then
/// review the diff with git before committing.
enum Snapshot {
    static var recording: Bool { ProcessInfo.processInfo.environment["DLG_RECORD_SNAPSHOTS"] == "1" }

    /// Where recorded files go: next to this test file, in the source tree.
    static let sourceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Snapshots")

    /// The first line where two texts differ, described for a person; nil when equal.
    static func firstDifference(expected: String, actual: String) -> String? {
        if expected == actual { return nil }
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var i = 0
        while i < e.count, i < a.count, e[i] == a[i] { i += 1 }
        func show(_ lines: [Substring], _ i: Int) -> String { i < lines.count ? "|\(lines[i])|" : "<end of text>" }
        var out = "first difference at line \(i + 1) (expected \(e.count) lines, got \(a.count)):\n"
        if i > 0 { out += "  before:   |\(e[i - 1])|\n" }
        out += "  expected: \(show(e, i))\n  actual:   \(show(a, i))"
        return out
    }

    static func check(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let fileName = "\(name).txt"
        if recording {
            do {
                try FileManager.default.createDirectory(at: sourceDirectory, withIntermediateDirectories: true)
                try actual.write(to: sourceDirectory.appendingPathComponent(fileName), atomically: true, encoding: .utf8)
                Issue.record("recorded Snapshots/\(fileName) (DLG_RECORD_SNAPSHOTS=1); review it and run the tests again without the variable",
                             sourceLocation: sourceLocation)
            } catch {
                Issue.record("could not record Snapshots/\(fileName): \(error)", sourceLocation: sourceLocation)
            }
            return
        }
        guard let url = Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Snapshots"),
              let expected = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record("no snapshot Snapshots/\(fileName); record it with DLG_RECORD_SNAPSHOTS=1 swift test --filter SnapshotTests",
                         sourceLocation: sourceLocation)
            return
        }
        if let diff = firstDifference(expected: expected, actual: actual) {
            Issue.record("Snapshots/\(fileName) differs from the output; \(diff)", sourceLocation: sourceLocation)
        }
    }
}

/// The graph of Graphs/lenet5.dlg after the passes up to `stage`, the way `dlg dump` makes it.
private func lenet5(upTo stage: Stage, bindings: [String: Int] = [:],
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Graph {
    var g = try compileGraph("lenet5.dlg", bindings: bindings, sourceLocation: sourceLocation)
    var ctx = PassContext(verify: true)
    _ = Pipeline.run(&g, upTo: stage, context: &ctx)
    #expect(ctx.diagnostics.isEmpty, "\(ctx.diagnostics.all.map(\.message))", sourceLocation: sourceLocation)
    return g
}

@Suite struct SnapshotTests {
    @Test func differenceNamesTheFirstDifferingLine() {
        #expect(Snapshot.firstDifference(expected: "a\nb\nc\n", actual: "a\nb\nc\n") == nil)
        #expect(Snapshot.firstDifference(expected: "a\nb\nc", actual: "a\nB\nc") == """
            first difference at line 2 (expected 3 lines, got 3):
              before:   |a|
              expected: |b|
              actual:   |B|
            """)
        #expect(Snapshot.firstDifference(expected: "x", actual: "x\ny") == """
            first difference at line 2 (expected 1 lines, got 2):
              before:   |x|
              expected: <end of text>
              actual:   |y|
            """)
        #expect(Snapshot.firstDifference(expected: "x", actual: "z")?.hasPrefix("first difference at line 1 ") == true)
    }

    @Test func parsed() throws {
        let (unit, diags) = Parser.parse(try RepositoryFiles.graphSource("lenet5.dlg"))
        #expect(diags.isEmpty)
        Snapshot.check(ASTPrinter.print(unit), named: "lenet5.parsed")
    }

    @Test func elaborated() throws {
        let g = try compileGraph("lenet5.dlg")
        Snapshot.check(TextPrinter.print(g, options: PrintOptions(stage: "elaborated")), named: "lenet5.elaborated")
    }

    @Test func shapes() throws {
        let g = try lenet5(upTo: .shapes)
        Snapshot.check(TextPrinter.print(g, options: PrintOptions(stage: "shapes", showCosts: true)), named: "lenet5.shapes")
    }

    /// The training step (forward, backward, Adam) of LeNet-5 at B=64 after the optimizing passes.
    static func trainingStep(upTo stage: Stage, sourceLocation: SourceLocation = #_sourceLocation) throws -> Graph {
        var g = try compileGraph("lenet5.dlg", bindings: ["B": 64], sourceLocation: sourceLocation)
        var o = PipelineOptions()
        o.differentiate = true
        o.optimizer = OptimizerSpec(kind: .adam, lr: 0.001)
        o.bindings = ["B": 64]
        var ctx = PassContext(verify: true)
        _ = Pipeline.run(&g, upTo: stage, context: &ctx, options: o)
        #expect(ctx.diagnostics.isEmpty, "\(ctx.diagnostics.all.map(\.message))", sourceLocation: sourceLocation)
        return g
    }

    @Test func fusedTrainingStep() throws {
        let g = try Self.trainingStep(upTo: .fused)
        Snapshot.check(TextPrinter.print(g, options: PrintOptions(stage: "fused", showCosts: true)), named: "lenet5.step.fused")
    }

    @Test func plannedTrainingStep() throws {
        let g = try Self.trainingStep(upTo: .planned)
        Snapshot.check(TextPrinter.print(g, options: PrintOptions(stage: "planned", showCosts: true)), named: "lenet5.step.planned")
    }

    @Test func shapesWithBatchBound() throws {
        let g = try lenet5(upTo: .shapes, bindings: ["B": 64])
        Snapshot.check(TextPrinter.print(g, options: PrintOptions(stage: "shapes", showCosts: true)), named: "lenet5.shapes.B64")
    }
}

/// The JSON and Graphviz forms of a dump.
@Suite struct DumpFormatTests {
    /// The top-level keys of schema dlg.ir/1, in order (Docs/ir.md).
    static let topLevelKeys = ["schema", "graph", "stage", "training", "bindings", "values", "outputs", "loss", "updates",
                               "gradients", "summary", "memory", "loops"]

    @Test func jsonParsesAndHasTheDocumentedFields() throws {
        let g = try lenet5(upTo: .shapes, bindings: ["B": 64])
        let text = JSONPrinter.json(g, stage: "shapes").serialized(pretty: true)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Set(Self.topLevelKeys))
        // Key order is part of the stable form: check where each key first appears in the text.
        let positions = Self.topLevelKeys.map { text.range(of: "\n  \"\($0)\":")?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil })
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())

        #expect(object["schema"] as? String == "dlg.ir/1")
        #expect(object["graph"] as? String == "lenet5")
        #expect(object["stage"] as? String == "shapes")
        #expect(object["training"] as? Bool == true)
        #expect(object["bindings"] as? [String: Int] == ["B": 64])

        let values = try #require(object["values"] as? [[String: Any]])
        #expect(values.count == g.nodes.count)
        for (i, v) in values.enumerated() {
            #expect(v["id"] as? Int == i)
            for key in ["ref", "op", "inputs", "attrs", "type"] { #expect(v[key] != nil, "value \(i) lacks \(key)") }
            let inputs = try #require(v["inputs"] as? [Int])
            #expect(inputs.allSatisfy { $0 < i }, "value \(i) uses a later value")
        }
        // The image input: bound shape, its name, a location relative to the package.
        let image = values[0]
        #expect(image["ref"] as? String == "%image")
        #expect(image["name"] as? String == "image")
        let type = try #require(image["type"] as? [String: Any])
        #expect(type["dtype"] as? String == "f32")
        #expect(type["shape"] as? [Int] == [64, 1, 28, 28])
        #expect(image["bytes"] as? Int == 64 * 28 * 28 * 4)
        let loc = try #require(image["loc"] as? [String: Any])
        #expect(loc["file"] as? String == "Graphs/lenet5.dlg")
        #expect(loc["line"] as? Int == 4)
        #expect(loc["column"] as? Int == 12)
        // The first convolution and its FLOPs for the batch: 64 · 2·6·28·28·25.
        let conv = try #require(values.first { $0["op"] as? String == "conv2d" })
        #expect(conv["flops"] as? Int == 64 * 235_200)
        #expect((conv["attrs"] as? [String: Any])?["pad"] as? [Int] == [2, 2, 2, 2])

        let outputs = try #require(object["outputs"] as? [[String: Any]])
        #expect(outputs.count == 1)
        #expect(outputs.first?["name"] as? String == "logits")
        let loss = try #require(object["loss"] as? Int)
        #expect(values[loss]["op"] as? String == "reduce_mean")

        let summary = try #require(object["summary"] as? [String: Any])
        let params = try #require(summary["parameters"] as? [String: Int])
        #expect(params == ["trainable": 61_706, "non_trainable": 0])
        #expect(summary["parameter_tensors"] as? Int == 10)
        #expect(summary["ops"] as? Int == 19)
        // With B bound the FLOPs are for the whole batch of 64 (852,421 per sample, see GraphsTests).
        #expect(summary["flops"] as? Int == 64 * 852_421)
        #expect(summary["flops_per_sample"] as? Bool == false)
    }

    @Test func jsonOfGradientsListsOnePerParameter() throws {
        let g = try lenet5(upTo: .grad)
        let text = JSONPrinter.json(g, stage: "grad").serialized()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let grads = try #require(object["gradients"] as? [[String: Int]])
        let params = g.params.filter { $0.attrs.param.trainable }.map(\.id)
        #expect(grads.compactMap { $0["of"] } == params)
        let values = try #require(object["values"] as? [[String: Any]])
        for d in grads {
            let v = try #require(d["value"])
            #expect((values[v]["origin"] as? [String: Any]) != nil, "gradient %\(v) has no origin")
        }
    }

    @Test func dotHasOneNodePerValueAndOneEdgePerOperand() throws {
        let g = try lenet5(upTo: .shapes)
        let dot = DotPrinter.dot(g, stage: "shapes")
        #expect(dot.hasPrefix("digraph \"lenet5\" {\n"))
        #expect(dot.hasSuffix("}\n"))
        var nodes: [Int] = []
        var edges = 0
        for line in dot.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("v") else { continue }
            let head = t.prefix { $0 != " " }
            if t.contains(" -> ") {
                edges += 1
            } else if let id = Int(head.dropFirst()), t.contains("[label=") {
                nodes.append(id)
            }
        }
        #expect(nodes == Array(0..<g.nodes.count))
        #expect(edges == g.nodes.reduce(0) { $0 + $1.inputs.count } + g.outputs.count + (g.loss == nil ? 0 : 1))
        #expect(dot.contains("out_\(g.outputs[0].value) [label=\"output logits\""))
        #expect(dot.contains("loss [label=\"minimize\""))
    }
}
