import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import Foundation
import Testing

/// Embeddings and the recurrent layers against plain references written
/// here, in f64: table rows and a scatter-add for gather, a loop over time
/// steps with the gate equations written out for rnn, lstm and gru (PyTorch's
/// layout and gate order). Their gradients against finite differences:
/// GradientCases+Sequence.
@Suite struct SequenceLayerTests {
    /// Deterministic values in [−scale, scale].
    static func values(_ n: Int, scale: Double = 1, seed: UInt64) -> [Double] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return scale * Double(Int((s >> 33) % 2001) - 1000) / 1000
        }
    }

    static func sigma(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    // MARK: Embeddings

    /// Each output row is the table row its token names; the table's gradient adds the
    /// gradient of every position into the row of its token (repeated tokens accumulate).
    @Test func embeddingRowsAndScatterAddGradient() throws {
        var o = PipelineOptions()
        o.stage = .canonical
        o.differentiate = true
        let file = SourceFile(path: "test.dlg", text: """
            model m {
                input tokens: i32[2, 3]
                param w: f64[2, 3, 2] = normal(0, 1)
                e = embedding(tokens, vocab: 5, dim: 2)
                output out = e
                minimize sum(e * w)
            }
            """)
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        let g = try #require(graph, "\(diags.all.map(\.message))")
        let p = try Lowering.lower(g)
        let e = try Executor(p, threads: 1)
        e.initializeState(seed: 1)
        let table = Self.values(10, seed: 1), w = Self.values(12, seed: 2)
        let tokens: [Int32] = [3, 0, 3, 4, 1, 3]
        e.setValues(p.state[try #require(p.stateIndex(named: "e.weight"))].buffer, table)
        e.setValues(p.state[try #require(p.stateIndex(named: "w"))].buffer, w)
        try e.setInput(try #require(p.inputIndex(named: "tokens")), try NDArray(tokens, shape: [2, 3]))
        try e.run()
        let out = e.output(try #require(p.outputs.firstIndex { $0.name == "out" })).toDoubles()
        #expect(out == tokens.flatMap { t in (0..<2).map { table[Int(t) * 2 + $0] } })
        // d/d table[r, j] = Σ over positions p with token r of w[p, j].
        var expected = [Double](repeating: 0, count: 10)
        for (pos, t) in tokens.enumerated() { for j in 0..<2 { expected[Int(t) * 2 + j] += w[pos * 2 + j] } }
        let tableIndex = try #require(p.stateIndex(named: "e.weight"))
        let grad = try #require(p.gradients.first { $0.slot == tableIndex })
        expectClose(e.values(grad.buffer), expected, tolerance: 1e-12)
    }

    /// An index outside the table is a data error naming the input, the position and the
    /// value, in the forward and backward kernels alike; nothing traps.
    @Test(arguments: [Int32(5), Int32(-1)])
    func indexOutOfRangeIsAnError(_ bad: Int32) throws {
        for training in [false, true] {
            var o = PipelineOptions()
            o.stage = .planned
            o.training = training
            o.differentiate = training
            let file = SourceFile(path: "test.dlg", text: """
                model m {
                    input tokens: i32[2, 3]
                    input y: f32[2, 3, 2]
                    output e = embedding(tokens, vocab: 5, dim: 2)
                    minimize mse(e, y)
                }
                """)
            let (graph, diags, _) = Pipeline.compile(file, options: o)
            let g = try #require(graph, "\(diags.all.map(\.message))")
            let p = try Lowering.lower(g)
            let e = try Executor(p, threads: 1)
            e.initializeState(seed: 1)
            try e.setInput(try #require(p.inputIndex(named: "tokens")), try NDArray([0, 1, 2, 3, bad, 4] as [Int32], shape: [2, 3]))
            if let y = p.inputIndex(named: "y") { try e.setInput(y, try NDArray([Float](repeating: 0, count: 12), shape: [2, 3, 2])) }
            do {
                try e.run()
                Issue.record("index \(bad) ran without an error")
            } catch {
                #expect(error.message.contains("index \(bad) at position [1, 1] of input 'tokens' is out of range for a table of 5 rows (0..<5)"),
                        "\(error.message)")
                #expect(error.message.contains("test.dlg:4:"), "\(error.message)")
            }
        }
    }

    // MARK: Normalization over features

    /// layer_norm and rms_norm against their formulas, per position of a [2, 3, 5] input.
    @Test(arguments: ["layer_norm", "rms_norm"])
    func featureNormMatchesFormula(_ kind: String) throws {
        let p = try lowered("""
            model m {
                input x: f64[2, 3, 5]
                output y = \(kind)(x, eps: 0.01)
            }
            """, stage: .planned)
        let e = try Executor(p, threads: 1)
        e.initializeState(seed: 1)
        let x = Self.values(30, scale: 3, seed: 11), w = Self.values(5, seed: 12), b = Self.values(5, seed: 13)
        try e.setInput(0, try NDArray(x, shape: [2, 3, 5]))
        // Named like batchnorm: the statement's name, then the layer's kind.
        let weight = try #require(p.stateIndex(named: "y.\(kind).weight"), "no parameter y.\(kind).weight")
        e.setValues(p.state[weight].buffer, w)
        let bias = p.stateIndex(named: "y.\(kind).bias")
        #expect((bias != nil) == (kind == "layer_norm"), "only layer_norm has a bias")
        if let bias { e.setValues(p.state[bias].buffer, b) }
        try e.run()
        var expected: [Double] = []
        for row in 0..<6 {
            let v = Array(x[(row * 5)..<(row * 5 + 5)])
            if kind == "layer_norm" {
                let mean = v.reduce(0, +) / 5
                let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 5
                expected += (0..<5).map { (v[$0] - mean) / (variance + 0.01).squareRoot() * w[$0] + b[$0] }
            } else {
                let ms = v.map { $0 * $0 }.reduce(0, +) / 5
                expected += (0..<5).map { v[$0] / (ms + 0.01).squareRoot() * w[$0] }
            }
        }
        expectClose(e.output(0).toDoubles(), expected, tolerance: 1e-12)
    }

    // MARK: Recurrent layers

    struct Form: CustomStringConvertible, Sendable {
        var cell: String
        var layers = 1
        var bidirectional = false
        var sequences = true
        var initial = false
        var description: String {
            "\(cell) layers \(layers)\(bidirectional ? " bidirectional" : "")\(sequences ? " sequences" : " final")"
                + (initial ? " initial state" : "")
        }
    }

    static let forms: [Form] = ["rnn", "lstm", "gru"].flatMap { c in
        [Form(cell: c), Form(cell: c, sequences: false), Form(cell: c, layers: 2, bidirectional: true, initial: true),
         Form(cell: c, bidirectional: true, sequences: false), Form(cell: c, layers: 3, sequences: false, initial: true)]
    }

    /// One direction of one layer, the gate equations written out (PyTorch's nn.RNN, nn.LSTM,
    /// nn.GRU): x [b][t][i] → h at every step [b][t][h], and the final h.
    static func direction(_ cell: String, x: [[[Double]]], wih: [Double], whh: [Double], bih: [Double], bhh: [Double],
                          h0: [[Double]]?, c0: [[Double]]?, units h: Int, reverse: Bool) -> (all: [[[Double]]], last: [[Double]]) {
        let batch = x.count, steps = x[0].count, inputs = x[0][0].count
        let gates = cell == "lstm" ? 4 : cell == "gru" ? 3 : 1
        var all = [[[Double]]](repeating: [[Double]](repeating: [], count: steps), count: batch)
        var last: [[Double]] = []
        for b in 0..<batch {
            var hv = h0?[b] ?? [Double](repeating: 0, count: h)
            var cv = c0?[b] ?? [Double](repeating: 0, count: h)
            for s in 0..<steps {
                let t = reverse ? steps - 1 - s : s
                // gi = W_ih x + b_ih, gh = W_hh h + b_hh, one entry per gate row.
                var gi = [Double](repeating: 0, count: gates * h), gh = gi
                for k in 0..<(gates * h) {
                    gi[k] = bih[k]
                    for j in 0..<inputs { gi[k] += wih[k * inputs + j] * x[b][t][j] }
                    gh[k] = bhh[k]
                    for j in 0..<h { gh[k] += whh[k * h + j] * hv[j] }
                }
                var next = [Double](repeating: 0, count: h)
                for u in 0..<h {
                    switch cell {
                    case "rnn":
                        next[u] = tanh(gi[u] + gh[u])
                    case "lstm":
                        let i = sigma(gi[u] + gh[u]), f = sigma(gi[h + u] + gh[h + u])
                        let g = tanh(gi[2 * h + u] + gh[2 * h + u]), o = sigma(gi[3 * h + u] + gh[3 * h + u])
                        cv[u] = f * cv[u] + i * g
                        next[u] = o * tanh(cv[u])
                    default:
                        let r = sigma(gi[u] + gh[u]), z = sigma(gi[h + u] + gh[h + u])
                        let n = tanh(gi[2 * h + u] + r * gh[2 * h + u])
                        next[u] = (1 - z) * n + z * hv[u]
                    }
                }
                hv = next
                all[b][t] = hv
            }
            last.append(hv)
        }
        return (all, last)
    }

    @Test(arguments: forms)
    func recurrentMatchesGateEquations(_ f: Form) throws {
        let (batch, steps, inputs, h) = (2, 5, 3, 4)
        let dirs = f.bidirectional ? 2 : 1
        let states = f.initial ? (f.cell == "lstm" ? ["h0", "c0"] : ["h0"]) : []
        let source = """
            model m {
                input x: f64[\(batch), \(steps), \(inputs)]
                \(states.map { "input \($0): f64[\(f.layers * dirs), \(batch), \(h)]" }.joined(separator: "\n    "))
                output y = \(f.cell)(x, units: \(h), layers: \(f.layers), bidirectional: \(f.bidirectional), return_sequences: \(f.sequences)\(states.map { ", \($0): \($0)" }.joined()))
            }
            """
        let p = try lowered(source, stage: .planned)
        let e = try Executor(p, threads: 2)
        e.initializeState(seed: 1)
        let xv = Self.values(batch * steps * inputs, seed: 7)
        try e.setInput(try #require(p.inputIndex(named: "x")), try NDArray(xv, shape: [batch, steps, inputs]))
        var initial: [String: [Double]] = [:]
        for (k, s) in states.enumerated() {
            let v = Self.values(f.layers * dirs * batch * h, seed: 20 + UInt64(k))
            initial[s] = v
            try e.setInput(try #require(p.inputIndex(named: s)), try NDArray(v, shape: [f.layers * dirs, batch, h]))
        }
        let gates = f.cell == "lstm" ? 4 : f.cell == "gru" ? 3 : 1
        var x: [[[Double]]] = (0..<batch).map { b in (0..<steps).map { t in (0..<inputs).map { xv[(b * steps + t) * inputs + $0] } } }
        var finals: [[[Double]]] = []
        var seed: UInt64 = 100
        for l in 0..<f.layers {
            var outs: [[[[Double]]]] = []
            finals = []
            for dir in 0..<dirs {
                let suffix = "_l\(l)" + (dir == 1 ? "_reverse" : "")
                let features = x[0][0].count
                var w: [String: [Double]] = [:]
                for (name, count) in [("weight_ih", gates * h * features), ("weight_hh", gates * h * h), ("bias_ih", gates * h),
                                      ("bias_hh", gates * h)] {
                    seed += 1
                    let v = Self.values(count, scale: 0.6, seed: seed)
                    w[name] = v
                    let slot = try #require(p.stateIndex(named: "y.\(name)\(suffix)"), "no parameter y.\(name)\(suffix)")
                    e.setValues(p.state[slot].buffer, v)
                }
                let k = l * dirs + dir
                func state(_ name: String) -> [[Double]]? {
                    initial[name].map { v in (0..<batch).map { b in (0..<h).map { v[(k * batch + b) * h + $0] } } }
                }
                let r = Self.direction(f.cell, x: x, wih: w["weight_ih"]!, whh: w["weight_hh"]!, bih: w["bias_ih"]!, bhh: w["bias_hh"]!,
                                       h0: state("h0"), c0: state("c0"), units: h, reverse: dir == 1)
                outs.append(r.all)
                finals.append(r.last)
            }
            // Directions side by side at every step.
            x = (0..<batch).map { b in (0..<steps).map { t in outs.flatMap { $0[b][t] } } }
        }
        let expected: [Double] = f.sequences
            ? x.flatMap { $0.flatMap { $0 } }
            : (0..<batch).flatMap { b in finals.flatMap { $0[b] } }
        try e.run()
        let got = e.output(try #require(p.outputs.firstIndex { $0.name == "y" })).toDoubles()
        #expect(got.count == expected.count)
        expectClose(got, expected, tolerance: 1e-10)
    }

    /// A 2-layer LSTM language model, compiled to its plan (training step or forward); `unrolled`:
    /// the recurrence unrolled over the steps rather than one `lstm_scan` per layer.
    static func plannedLSTM(steps t: Int, batch: Int, vocab: Int, embedding: Int, units: Int, training: Bool,
                            unrolled: Bool = false) throws -> Graph {
        var o = PipelineOptions()
        o.unrollRecurrence = unrolled
        o.stage = .planned
        o.training = training
        o.differentiate = training
        o.bindings = ["B": batch]
        let file = SourceFile(path: "lstm.dlg", text: """
            model m {
                input tokens: i32[B, \(t)]
                input next: i32[B, \(t)]
                h = lstm(embedding(tokens, vocab: \(vocab), dim: \(embedding)), units: \(units), layers: 2, return_sequences: true)
                output logits = dense(h, \(vocab))
                minimize cross_entropy(logits, next)
            }
            """)
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        return try #require(graph, "\(diags.all.map(\.message))")
    }

    /// Backpropagation through the unrolled steps (step mode's and ONNX export's form) stays linear in T: the steps' slices of the
    /// input projection get one concat of their gradients, not a zero-padded copy each (the
    /// slice_grad left are the first step's gates when the states start at zero: as many at
    /// any T), so the bytes of all values double when T doubles.
    @Test func unrolledRecurrenceStaysLinear() throws {
        var bytes: [Int] = [], padded: [Int] = []
        for t in [16, 32] {
            let g = try Self.plannedLSTM(steps: t, batch: 4, vocab: 16, embedding: 8, units: 32, training: true, unrolled: true)
            padded.append(g.nodes.filter { $0.op == .slice_grad }.count)
            bytes.append(try #require(g.plan).noReuseBytes)
        }
        #expect(padded[0] == padded[1], "slice_grad nodes: \(padded[0]) at T = 16, \(padded[1]) at T = 32")
        #expect(Double(bytes[1]) <= 2.1 * Double(bytes[0]), "value bytes \(bytes[0]) at T = 16, \(bytes[1]) at T = 32")
    }

    /// Unrolled, the recurrent weight's gradient is one GEMM over all steps (pass join-matmul-sums), not
    /// one [4H, H] product per step summed: the training step computes as many [4H, H] values at
    /// T = 48 as at T = 12, and its arena at B = 1 stays below the bytes of the per-step products it
    /// replaced, (T − 1)·4H·H floats per layer (before, the schedule kept them all alive:
    /// Docs/sequence.md).
    @Test func recurrentWeightGradientIsOneGEMM() throws {
        let h = 32, layers = 2
        var counts: [Int] = []
        for t in [12, 48] {
            let g = try Self.plannedLSTM(steps: t, batch: 1, vocab: 16, embedding: 8, units: h, training: true, unrolled: true)
            let plan = try #require(g.plan)
            counts.append(g.nodes.filter { !$0.decl.isSource && $0.type.shape.knownDims == [4 * h, h] }.count)
            let products = layers * (t - 1) * 4 * h * h * 4
            #expect(plan.arenaBytes < products / 4, "arena \(plan.arenaBytes) B at T = \(t); the per-step products: \(products) B")
        }
        #expect(counts[0] == counts[1], "[4H, H] values: \(counts[0]) at T = 12, \(counts[1]) at T = 48")
    }

    /// The issue's 2-layer LSTM (T = 256, B = 32, vocab 64, embedding 64, hidden 256): its forward
    /// plan packs within 5% of the bound its schedule allows. (The compile time is measured with
    /// the release dlg: Docs/sequence.md.)
    @Test func twoLayerLSTMForwardPlanIsTight() throws {
        let plan = try #require(try Self.plannedLSTM(steps: 256, batch: 32, vocab: 64, embedding: 64, units: 256, training: false).plan)
        #expect(plan.efficiency >= 0.95, "efficiency \(plan.efficiency)")
    }

    /// The same model's training step: greedy by size and by start of life both leave it just under
    /// 0.95 (0.949998); placing the longest-lived buffers first gives 0.959.
    @Test func twoLayerLSTMTrainingPlanIsTight() throws {
        let plan = try #require(try Self.plannedLSTM(steps: 256, batch: 32, vocab: 64, embedding: 64, units: 256, training: true).plan)
        #expect(plan.efficiency >= 0.95, "efficiency \(plan.efficiency)")
    }

    /// The parameters are PyTorch's, by name and shape, in its order.
    @Test func parameterLayoutIsPyTorchs() throws {
        let p = try lowered("""
            model m {
                input x: f32[B, 6, 3]
                output y = lstm(x, units: 5, layers: 2, bidirectional: true)
                output z = gru(x, units: 2)
            }
            """, bind: ["B": 2], stage: .planned)
        let shapes = Dictionary(uniqueKeysWithValues: p.state.map { ($0.name, $0.buffer.shape) })
        for l in 0..<2 {
            for s in ["", "_reverse"] {
                let features = l == 0 ? 3 : 10
                #expect(shapes["y.weight_ih_l\(l)\(s)"] == [20, features])
                #expect(shapes["y.weight_hh_l\(l)\(s)"] == [20, 5])
                #expect(shapes["y.bias_ih_l\(l)\(s)"] == [20])
                #expect(shapes["y.bias_hh_l\(l)\(s)"] == [20])
            }
        }
        #expect(shapes["z.weight_ih_l0"] == [6, 3])
        #expect(shapes["z.weight_hh_l0"] == [6, 2])
        #expect(p.outputs.map(\.buffer.shape) == [[2, 10], [2, 2]])
    }
}
