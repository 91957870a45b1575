import DLGCompiler
import DLGData
import DLGGraph
import DLGKernels
import DLGRuntime
import DLGSource
import Testing

/// Pass fold-gather-projection: gather(E, i)·W becomes gather(E·W, i) (and a bias added
/// after the product goes into the table), only where the table has no more rows than the
/// indices pick. The folded program computes what the unfolded one does.
@Suite struct GatherProjectionFoldingTests {
    static let pass = "fold-gather-projection"

    static func compile(_ text: String, disabled: Set<String> = [], training: Bool = true, batch: Int = 3, f64: Bool = false, stage: Stage = .planned,
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> Graph {
        var o = PipelineOptions()
        if f64 { o.defaultFloatType = .f64 }
        o.stage = stage
        o.training = training
        o.differentiate = training
        o.bindings = ["B": batch]
        o.disabled = disabled
        o.verify = true
        let (graph, diags, _) = Pipeline.compile(SourceFile(path: "fold.dlg", text: text), options: o)
        return try #require(graph, "\(diags.all.map(\.message))", sourceLocation: sourceLocation)
    }

    /// Outputs, loss and every parameter gradient of one run on fixed random tokens.
    static func evaluate(_ g: Graph) throws -> [String: [Double]] {
        let p = try Lowering.lower(g)
        let e = try Executor(p, threads: 1)
        e.initializeState(seed: 3)
        var rng = RandomStream(seed: 17)
        for slot in p.inputs {
            // Token ids below every vocabulary used here (5) and class ids below every width (4).
            e.setValues(slot.buffer, (0..<slot.buffer.count).map { _ in Double(rng.below(4)) })
        }
        try e.run()
        var r: [String: [Double]] = [:]
        for (i, out) in p.outputs.enumerated() { r["output." + out.name] = e.output(i).toDoubles() }
        if let l = e.loss { r["loss"] = [l] }
        for (slot, buffer) in p.gradients { r["grad." + p.state[slot].name] = e.values(buffer) }
        return r
    }

    /// Matmuls that read a gather directly or through a reshape (the weight's gradient flattens the batch axes).
    static func productsOfGathered(_ g: Graph) -> Int {
        g.nodes.filter { n in
            guard n.op == .matmul else { return false }
            let a = g[n.inputs[0]]
            return a.op == .gather || (a.op == .reshape && g[a.inputs[0]].op == .gather)
        }.count
    }

    static let dense = """
        model m {
            input tokens: i32[B, 6]
            input next: i32[B, 6]
            e = embedding(tokens, vocab: 5, dim: 3)
            output logits = dense(e, 4)
            minimize cross_entropy(logits, next)
        }
        """

    @Test func denseOverEmbeddingsIsFoldedAndComputesTheSame() throws {
        // In f64 (the model declares integer inputs only: its tables take the default float type).
        let folded = try Self.compile(Self.dense, f64: true), plain = try Self.compile(Self.dense, disabled: [Self.pass], f64: true)
        let canonical = try Self.compile(Self.dense, f64: true, stage: .canonical)
        let unfolded = try Self.compile(Self.dense, disabled: [Self.pass], f64: true, stage: .canonical)
        // Unfolded, the forward product and the weight's gradient (eᵀ·dy) read the gathered rows.
        #expect(Self.productsOfGathered(unfolded) == 2)
        #expect(Self.productsOfGathered(canonical) == 0)
        // The product runs on the [5, 3] table: one matmul of it, forward.
        #expect(canonical.nodes.contains { $0.op == .matmul && $0.type.shape.knownDims == [5, 4] })
        let a = try Self.evaluate(folded), b = try Self.evaluate(plain)
        #expect(Set(a.keys) == Set(b.keys))
        #expect(a.keys.contains("grad.logits.weight") && a.keys.contains("grad.e.weight") && a.keys.contains("grad.logits.bias"))
        for (k, x) in b {
            let y = try #require(a[k])
            #expect(x.count == y.count, "\(k)")
            let err = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            #expect(err <= 1e-12, "\(k): max difference \(err)")
        }
    }

    /// More rows in the table than tokens picked: the fold would add work, so it is not done.
    @Test func largeVocabularyIsNotFolded() throws {
        let g = try Self.compile(Self.dense.replacingOccurrences(of: "vocab: 5", with: "vocab: 7"), batch: 1, stage: .canonical)
        #expect(Self.productsOfGathered(g) == 2)
        // 6 tokens per example, B symbolic (counted as 1): 7 rows > 6.
    }

    /// The LSTM language model's input projection and its biases go into the table; its
    /// forward FLOPs drop by (N − V)·D·4H.
    @Test func lstmInputProjectionIsFolded() throws {
        let text = """
            model m {
                input tokens: i32[B, 8]
                input next: i32[B, 8]
                h = lstm(embedding(tokens, vocab: 5, dim: 3), units: 2, return_sequences: true)
                output logits = dense(h, 4)
                minimize cross_entropy(logits, next)
            }
            """
        let folded = try Self.compile(text, training: false, batch: 2, stage: .canonical)
        let plain = try Self.compile(text, disabled: [Self.pass], training: false, batch: 2, stage: .canonical)
        #expect(Self.productsOfGathered(plain) == 1)
        #expect(Self.productsOfGathered(folded) == 0)
        // [5, 8] = vocab × 4H: the table's product and its bias.
        #expect(folded.nodes.filter { ($0.op == .matmul || $0.op == .bias_add) && $0.type.shape.knownDims == [5, 8] }.count == 2)
        let flops = { (g: Graph) in g.nodes.reduce(0) { $0 + (g.flops(of: $1.id) ?? 0) } }
        // N = 2·8 = 16 tokens, V = 5, D = 3, 4H = 8: 2·(16 − 5)·3·8 FLOPs fewer in the product, (16 − 5)·8 in the bias.
        #expect(flops(plain) - flops(folded) == 2 * 11 * 3 * 8 + 11 * 8)
    }
}
