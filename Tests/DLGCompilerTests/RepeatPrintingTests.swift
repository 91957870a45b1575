@testable import DLGCompiler
@testable import DLGGraph
import DLGSource
import Foundation
import Testing

/// A small LSTM language model with T time steps (return_sequences: true).
private func lstmSource(steps t: Int, name: String = "tiny_lstm") -> SourceFile {
    SourceFile(path: "tiny_lstm.dlg", text: """
        model \(name) {
            input tokens: i32[B, \(t)]
            input next: i32[B, \(t)]
            e = embedding(tokens, vocab: 5, dim: 3)
            h = lstm(e, units: 4, return_sequences: true)
            output logits = dense(h, 5)
            minimize cross_entropy(logits, next)
        }
        """)
}

/// The model's graph after the passes up to `stage` (the training step with Adam from `grad` on), verified after every pass.
/// `unrolled`: the LSTM unrolled over its steps, as in step mode and ONNX export (the loops these
/// tests print); otherwise one `lstm_scan`.
private func lstm(steps t: Int, upTo stage: Stage, bindings: [String: Int] = [:], unrolled: Bool = true,
                  sourceLocation: SourceLocation = #_sourceLocation) throws -> Graph {
    var o = PipelineOptions()
    o.unrollRecurrence = unrolled
    o.stage = stage
    o.bindings = bindings
    o.verify = true
    if Stage.allCases.firstIndex(of: stage)! >= Stage.allCases.firstIndex(of: .grad)! {
        o.differentiate = true
        o.optimizer = OptimizerSpec(kind: .adam, lr: 0.001)
    }
    let (g, diags, _) = Pipeline.compile(lstmSource(steps: t), options: o)
    return try #require(g, "\(diags.all.map(\.message))", sourceLocation: sourceLocation)
}

/// Dumps of unrolled recurrent layers print each run of like steps once (`repeat t in … { … }`).
@Suite struct RepeatPrintingTests {
    /// Golden dumps of a 6-step LSTM: after shape inference, and the planned training step.
    @Test func lstmShapesSnapshot() throws {
        let g = try lstm(steps: 6, upTo: .shapes)
        Snapshot.check(TextPrinter.print(g, options: PrintOptions(stage: "shapes", showCosts: true)), named: "tiny_lstm.shapes")
    }

    @Test func lstmPlannedTrainingStepSnapshot() throws {
        let g = try lstm(steps: 6, upTo: .planned, bindings: ["B": 2])
        Snapshot.check(TextPrinter.print(g, options: PrintOptions(stage: "planned", showCosts: true)), named: "tiny_lstm.step.planned")
    }

    /// Printed once: the folded dump has as many lines at T = 6 as at T = 40, at every stage;
    /// unrolled, it grows with T.
    @Test(arguments: [Stage.elaborated, .shapes, .grad, .canonical, .fused, .planned])
    func foldedDumpDoesNotGrowWithT(_ stage: Stage) throws {
        func lines(_ t: Int, unrolled: Bool) throws -> Int {
            let g = try lstm(steps: t, upTo: stage, bindings: ["B": 2])
            return TextPrinter.print(g, options: PrintOptions(stage: stage.rawValue, unrolled: unrolled))
                .split(separator: "\n").count
        }
        #expect(try lines(6, unrolled: false) == lines(40, unrolled: false))
        #expect(try lines(40, unrolled: true) > lines(6, unrolled: true) + 34 * 10)
    }

    /// The forward step's region names the state it hands on and the step it reads it from.
    @Test func regionShowsStepTSymbolically() throws {
        let text = TextPrinter.print(try lstm(steps: 6, upTo: .shapes), options: PrintOptions(stage: "shapes"))
        #expect(text.contains("repeat t in 1..<6 {"))
        #expect(text.contains("repeat t in 0..<1 {"))
        #expect(text.contains("slice(%"))
        #expect(text.contains("{starts=[0,t,0], ends=[9223372036854775807,t+1,9223372036854775807], steps=[1,1,1]}"))
        #expect(text.contains("%L0.c[t] = add("))
        #expect(text.contains("matmul(%L0.h[t-1], %h.weight_hh_l0) {transpose_b=true}"))
        // The join after the loop names every step's value as a range.
        #expect(text.contains("concat(%L0.") && text.contains("[1..<6]) {axis=1}"))
    }

    /// The grouping comes from what elaboration recorded, not from the ops: a hand-unrolled
    /// recurrence records no loop and prints every op.
    @Test func nothingFoldsWithoutRecordedLoops() throws {
        var g = try lstm(steps: 6, upTo: .shapes)
        let folded = TextPrinter.print(g, options: PrintOptions(stage: "shapes"))
        g.loops = []
        let plain = TextPrinter.print(g, options: PrintOptions(stage: "shapes"))
        #expect(folded.contains("repeat t in"))
        #expect(!plain.contains("repeat t in"))
        #expect(plain == TextPrinter.print(g, options: PrintOptions(stage: "shapes", unrolled: true)))
    }

    /// The backward loop: autodiff records the gradients of step t's ops as step t of a derived loop.
    @Test func backwardLoopIsRecorded() throws {
        let g = try lstm(steps: 6, upTo: .grad)
        #expect(g.loops.count == 2)
        #expect(g.loops[1].gradientOf == 0 && g.loops[1].reversed && g.loops[1].count == 6)
        let text = TextPrinter.print(g, options: PrintOptions(stage: "grad"))
        #expect(text.contains("L1: ∂ h layer 0"))
        #expect(text.contains("%L1.∂h[t]") || text.contains("%L1.∂c[t]"))
    }

    /// JSON keeps every value and records the loop facts (Docs/ir.md).
    @Test func jsonRecordsLoopsAndSteps() throws {
        let g = try lstm(steps: 6, upTo: .shapes)
        let text = JSONPrinter.json(g, stage: "shapes").serialized()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let loops = try #require(object["loops"] as? [[String: Any]])
        #expect(loops.count == 1)
        #expect(loops[0]["count"] as? Int == 6)
        #expect(loops[0]["reversed"] as? Bool == false)
        let values = try #require(object["values"] as? [[String: Any]])
        #expect(values.count == g.nodes.count)
        let steps = values.compactMap { $0["step"] as? [String: Any] }
        #expect(Set(steps.compactMap { $0["t"] as? Int }) == Set(0..<6))
        #expect(steps.filter { $0["role"] as? String == "h" }.count == 6)
    }

    /// Elaborated as a scan, the same LSTM is one `lstm_scan` and a slice of its tape: no loop, and a
    /// dump that does not grow with T (its backward one `lstm_scan_grad` and one matmul for W_hh).
    @Test func scanDumpHasOneOpPerLayer() throws {
        for stage in [Stage.shapes, .grad] {
            let g = try lstm(steps: 6, upTo: stage, unrolled: false)
            #expect(g.loops.isEmpty)
            let text = TextPrinter.print(g, options: PrintOptions(stage: stage.rawValue))
            #expect(!text.contains("repeat t in"))
            #expect(text.components(separatedBy: " = lstm_scan(").count - 1 == 1, "\(text)")
            #expect(text.components(separatedBy: " = lstm_scan_grad(").count - 1 == (stage == .grad ? 1 : 0))
            #expect(text.contains(": f32[B,6,24]"), "the tape [B, T, 6H]")
            let longer = TextPrinter.print(try lstm(steps: 40, upTo: stage, unrolled: false), options: PrintOptions(stage: stage.rawValue))
            #expect(longer.split(separator: "\n").count == text.split(separator: "\n").count)
        }
        let g = try lstm(steps: 6, upTo: .shapes, unrolled: false)
        Snapshot.check(TextPrinter.print(g, options: PrintOptions(stage: "shapes", showCosts: true)), named: "tiny_lstm.scan.shapes")
    }

    /// Numbers in attributes: the integers and the text around them.
    @Test func splitsNumbers() {
        let (text, numbers) = splitNumbers("starts=[0, -3, 9223372036854775807], x1=2, lr=0.5")
        #expect(numbers == [0, -3, 9223372036854775807, 2])
        #expect(text == ["starts=[", ", ", ", ", "], x1=", ", lr=0.5"])
        #expect(affine(1, 1) == "t+1" && affine(-1, 1) == "t-1" && affine(0, 1) == "t" && affine(5, 0) == "5"
                && affine(255, -1) == "-t+255" && affine(0, 2) == "2*t")
    }
}
