import DLGCompiler
import DLGData
import DLGKernels
@testable import DLGRuntime
import DLGSource
import Testing

/// An inference program's dense layers multiply weight matrices packed once
/// (`PackedGemm`, with the bias and activation applied as C is stored): the
/// outputs agree with the same program on `GemmPlan.run` (`packsWeights`
/// false), and follow the weights when the shared state changes.
@Suite struct PackedWeightsTests {
    static let mlp = """
        model mlp {
            input x: f32[B, 70]
            h1 = relu(dense(x, 45))
            h2 = tanh(dense(h1, 33))
            h3 = dense(h2, 40)
            output y = dense(h3, 9)
            output z = matmul(h3, transpose(h3))
        }
        """

    static func outputs(_ e: Executor) -> [[Float]] {
        e.program.outputs.indices.map { i in
            guard case .f32(let v) = e.output(i).storage else { return [] }
            return v
        }
    }

    static func expectClose(_ got: [[Float]], _ want: [[Float]], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for (g, w) in zip(got, want) {
            #expect(g.count == w.count, sourceLocation: sourceLocation)
            let scale = max(1, w.map { abs($0) }.max() ?? 1)
            let worst = zip(g, w).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * scale, "\(what): largest difference \(worst) at scale \(scale)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [1, 2, 5, 64])
    func packedEqualsUnpacked(batch: Int) throws {
        let program = try lowered(Self.mlp, bind: ["B": batch], stage: .planned)
        var plain = program
        plain.packsWeights = false
        let state = StateStore()
        let packed = try Executor(program, state: state, threads: 2)
        let reference = try Executor(plain, state: state, threads: 2)
        #expect(reference.packedProducts == 0)
        // Four dense layers (from batch 2 on); the Gram matrix of activations is not by a parameter.
        #expect(packed.packedProducts == (CPUFeatures.useAVX512 && batch >= 2 ? 4 : 0))
        packed.initializeState(seed: 3)
        var rng = RandomStream(seed: 4)
        let x = try NDArray((0 ..< batch * 70).map { _ in rng.uniform(Float(-1), Float(1)) }, shape: [batch, 70])
        try packed.setInput(0, x)
        try reference.setInput(0, x)
        try packed.run()
        try reference.run()
        Self.expectClose(Self.outputs(packed), Self.outputs(reference), "batch \(batch)")
        // Outputs do not change between runs on the same packed copy.
        let first = Self.outputs(packed)
        try packed.run()
        #expect(Self.outputs(packed) == first)

        // New weights through the shared state: packed again before the next product.
        let name = try #require(program.state.first { $0.buffer.shape == [70, 45] }?.name)
        try state.set(name, values: (0 ..< 70 * 45).map { Double($0 % 7) * 0.05 - 0.15 })
        try packed.run()
        try reference.run()
        Self.expectClose(Self.outputs(packed), Self.outputs(reference), "batch \(batch), new weights")
        #expect(Self.outputs(packed) != first)
        // And after a fresh initialization with another seed.
        packed.initializeState(seed: 8)
        try packed.run()
        try reference.run()
        Self.expectClose(Self.outputs(packed), Self.outputs(reference), "batch \(batch), seed 8")
    }

    /// A training step multiplies by packed copies of its parameters too (packed again at each
    /// step), and an inference program sharing its state packs the new weights after each step.
    @Test func trainingStepsRepackSharedWeights() throws {
        let source = """
            model m {
                input x: f32[B, 20]
                input t: f32[B, 3]
                output y = dense(relu(dense(x, 16)), 3)
                minimize mean((y - t) * (y - t))
            }
            """
        let file = SourceFile(path: "m.dlg", text: source)
        var o = PipelineOptions()
        o.training = true
        o.differentiate = true
        o.optimizer = OptimizerSpec(kind: .sgd, lr: 0.5)
        o.keepLoss = true
        o.bindings = ["B": 8]
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        let trainProgram = try Lowering.lower(try #require(graph, "\(diags.all.map(\.message))"))
        let program = try lowered(source, bind: ["B": 8], stage: .planned)
        var plain = program
        plain.packsWeights = false
        let state = StateStore()
        let train = try Executor(trainProgram, state: state, threads: 2)
        let packed = try Executor(program, state: state, threads: 2)
        let reference = try Executor(plain, state: state, threads: 2)
        // Both dense layers' forward products, and the second's input gradient (by its Wᵀ).
        #expect(train.packedProducts == (CPUFeatures.useAVX512 ? 3 : 0))
        #expect(packed.packedProducts == (CPUFeatures.useAVX512 ? 2 : 0))
        train.initializeState(seed: 2)
        var rng = RandomStream(seed: 6)
        let x = try NDArray((0 ..< 8 * 20).map { _ in rng.uniform(Float(-1), Float(1)) }, shape: [8, 20])
        let t = try NDArray((0 ..< 8 * 3).map { _ in rng.uniform(Float(-1), Float(1)) }, shape: [8, 3])
        for e in [train, packed, reference] {
            try e.setInput(try #require(e.program.inputIndex(named: "x")), x)
            try e.setInput(try #require(e.program.inputIndex(named: "t")), t)
        }
        try packed.run()
        try reference.run()
        Self.expectClose(Self.outputs(packed), Self.outputs(reference), "before training")
        let before = Self.outputs(packed)
        for step in 1 ... 2 {
            try train.run()
            try packed.run()
            try reference.run()
            Self.expectClose(Self.outputs(packed), Self.outputs(reference), "after training step \(step)")
        }
        #expect(Self.outputs(packed) != before)
    }

    static let recurrent = """
        model m {
            input x: f32[B, 20]
            input t: f32[B, 3]
            param w: f32[48, 48] = normal(0, 0.2)
            h0 = tanh(dense(x, 48))
            h1 = tanh(matmul(h0, w))
            h2 = tanh(matmul(h1, w))
            h3 = tanh(matmul(h2, transpose(w)))
            output y = dense(h3, 3)
            minimize mean((y - t) * (y - t))
        }
        """

    static func trainingProgram(_ source: String, batch: Int) throws -> Program {
        let file = SourceFile(path: "m.dlg", text: source)
        var o = PipelineOptions()
        o.training = true
        o.differentiate = true
        o.optimizer = OptimizerSpec(kind: .sgd, lr: 0.2)
        o.keepLoss = true
        o.bindings = ["B": batch]
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        return try Lowering.lower(try #require(graph, "\(diags.all.map(\.message))"))
    }

    /// A training program whose parameter w multiplies three times a step (as stored and
    /// transposed, forward and backward) takes its products by parameters from packed copies,
    /// one per layout, packed once a step, and its weight gradients from the per-call packed
    /// product: over several steps its loss and parameters follow the same program on OpenBLAS
    /// (`packsWeights` false) to f32 rounding. A copy not packed again after an update would
    /// multiply by the weights of the step before from the second step on.
    @Test(arguments: [1, 2]) func trainingEqualsOpenBLAS(threads: Int) throws {
        // A batch of 70: the weight gradients' inner dimension, at least 64 for the per-call product.
        let program = try Self.trainingProgram(Self.recurrent, batch: 70)
        var plain = program
        plain.packsWeights = false
        let (s1, s2) = (StateStore(), StateStore())
        let own = try Executor(program, state: s1, threads: threads)
        let reference = try Executor(plain, state: s2, threads: threads)
        #expect(reference.packedProducts == 0 && reference.streamedProducts == 0)
        if CPUFeatures.useAVX512 {
            #expect(own.packedProducts >= 6, "w's four products, the dense layers' forward ones")
            #expect(own.streamedProducts >= 3, "the weight gradients of w and the first dense layer")
            // The products by w share two copies (w and wᵀ): fewer packed bytes than products.
            #expect(own.packedCopies.count < own.packedProducts)
        }
        own.initializeState(seed: 5)
        reference.initializeState(seed: 5)
        var rng = RandomStream(seed: 9)
        let x = try NDArray((0 ..< 70 * 20).map { _ in rng.uniform(Float(-1), Float(1)) }, shape: [70, 20])
        let t = try NDArray((0 ..< 70 * 3).map { _ in rng.uniform(Float(-1), Float(1)) }, shape: [70, 3])
        for e in [own, reference] {
            try e.setInput(try #require(e.program.inputIndex(named: "x")), x)
            try e.setInput(try #require(e.program.inputIndex(named: "t")), t)
        }
        var losses: [Double] = []
        for step in 1 ... 4 {
            try own.run()
            try reference.run()
            Self.expectClose(Self.outputs(own), Self.outputs(reference), "outputs at step \(step)")
            for slot in program.state {
                let got = try #require(s1.values(slot.name)).map { Float($0) }, want = try #require(s2.values(slot.name)).map { Float($0) }
                Self.expectClose([got], [want], "\(slot.name) after step \(step)")
            }
            let (l, r) = (try #require(own.loss), try #require(reference.loss))
            #expect(abs(l - r) <= 1e-5 * max(1, abs(r)), "loss at step \(step): \(l) against \(r)")
            losses.append(l)
        }
        // The steps change the weights (so a stale copy would show).
        #expect(Set(losses).count == losses.count)
    }

    /// The memory budget counts one packed copy per parameter and layout of op(B), however
    /// many products read it: here w as stored and transposed, and the two dense layers' weights
    /// (the second's also transposed, for its input gradient).
    @Test func budgetCountsEachCopyOnce() throws {
        let program = try Self.trainingProgram(Self.recurrent, batch: 40)
        let bytes = Executor.packedWeightBytes(program)
        guard CPUFeatures.useAVX512 else {
            #expect(bytes == 0)
            return
        }
        // k × 32·⌈n/32⌉ floats per copy: w and wᵀ (48 × 64 each), [20, 48] (20 × 64), [48, 3] (48 × 32) and its
        // transpose as the input gradient's B (k = 3, n = 48: 3 × 64).
        #expect(bytes == 4 * (48 * 64 * 2 + 20 * 64 + 48 * 32 + 3 * 64))
    }
}
