import DLGCompiler
import DLGData
import DLGGraph
import DLGKernels
import DLGRuntime
import DLGSource
import Foundation
import Testing

/// Every optimizing pass must leave the numbers alone: for each model in
/// Graphs/, outputs, loss and gradients with all passes on equal those with
/// every optimizing pass off, and one training step leaves the same parameters.
///
/// The models run in f64. Fusion may sum in another order (a reduction fused
/// with its producer adds tile by tile, the standalone kernel pairwise), and
/// some gradients here are rounding noise amplified: batchnorm over two
/// values has an exactly zero input gradient, and Adam's first step moves a
/// parameter by about lr whatever the size of its gradient. In f32 those
/// differ by 1e-3 relative between two correct orders; in f64 by 1e-11 for
/// gradients and 2e-8 after the Adam step, so tolerances of 1e-8 and 1e-6
/// still catch any real change of the arithmetic.
@Suite struct OptimizationEquivalenceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let optimizing: Set<String> = ["fold-gather-projection", "constant-folding", "algebraic", "batchnorm-folding", "cse", "dce", "fusion",
                                          "scheduling", "memory-planning"]
    static let models: [String] = {
        let dir = root.appendingPathComponent("Graphs")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        // All of them, the convolutional networks at small sizes (bindings below): in a debug
        // build the three largest take about a minute each on one core.
        return names.filter { $0.hasSuffix(".dlg") }.sorted()
    }()

    /// Runs `source` once; returns every output, the loss, every gradient and every state entry after the step.
    static func evaluate(_ file: SourceFile, optimized: Bool, training: Bool, step: Bool, bindings: [String: Int],
                         optimizer: OptimizerSpec = OptimizerSpec(kind: .adam, lr: 0.01), steps: Int = 1,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: [Double]] {
        var o = PipelineOptions()
        o.training = training
        o.bindings = bindings
        o.differentiate = training
        if step { o.optimizer = optimizer }
        o.disabled = optimized ? [] : optimizing
        o.defaultFloatType = .f64      // models with integer inputs only (the GPTs): their tables in f64
        o.verify = true
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        guard let g = graph else {
            Issue.record("compile failed: \(diags.all.map(\.message))", sourceLocation: sourceLocation)
            throw ExecutionError("compile failed")
        }
        let p = try Lowering.lower(g)
        let e = try Executor(p, threads: 1)
        e.initializeState(seed: 5)
        var rng = RandomStream(seed: 11)
        for slot in p.inputs {
            let values: [Double]
            if slot.buffer.dtype == .i32 {
                let classes = p.outputs.first?.buffer.shape.last ?? 2
                values = (0..<slot.buffer.count).map { _ in Double(rng.below(max(classes, 1))) }
            } else {
                values = (0..<slot.buffer.count).map { _ in rng.uniform(-1.0, 1.0) }
            }
            e.setValues(slot.buffer, values)
        }
        for _ in 0..<steps { try e.run() }
        var result: [String: [Double]] = [:]
        for (i, out) in p.outputs.enumerated() { result["output." + out.name] = e.output(i).toDoubles() }
        if let l = e.loss { result["loss"] = [l] }
        for (slot, buffer) in p.gradients { result["grad." + p.state[slot].name] = e.values(buffer) }
        if step { for s in p.state { result["state." + s.name] = e.state.values(s.name) } }
        return result
    }

    /// A model of Graphs/ in f64 (its f32 tensors declared f64).
    static func f64Source(_ name: String) throws -> SourceFile {
        let path = root.appendingPathComponent("Graphs").appendingPathComponent(name).path
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "f32", with: "f64")
        // With the files and library modules it uses (`use nn`): the blocks declare no types.
        return SourceLoader.load(SourceFile(path: "Graphs/" + name, text: text))
    }

    static func compare(_ a: [String: [Double]], _ b: [String: [Double]], _ model: String, tolerance: Double = 1e-5,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(a.keys) == Set(b.keys), "\(model): different results", sourceLocation: sourceLocation)
        for (key, x) in a {
            guard let y = b[key], x.count == y.count else { continue }
            let scale = max(1e-6, x.map(abs).max() ?? 0)
            let worst = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= tolerance * scale, "\(model) \(key): differs by \(worst) (scale \(scale))", sourceLocation: sourceLocation)
        }
    }

    static func bindings(_ name: String) -> [String: Int] {
        switch name {
        case "resnet50.dlg": ["B": 1, "size": 32]
        case "char_gpt.dlg": ["B": 2, "T": 8, "D": 16, "layers": 2]   // its 4×128×128 GPT is minutes in a debug build
        default: ["B": 2]
        }
    }

    /// Every model runs in f64 here, those whose text names no float type (integer inputs only, as
    /// the GPTs) included: in f32 their gradients differ between passes on and off by f32 rounding
    /// (the layer norms' weight gradients by 7e-9 absolute, 1e-7 relative), which 1e-8 flags.
    @Test(arguments: models)
    func everyFloatIsF64(_ name: String) throws {
        var o = PipelineOptions()
        o.bindings = Self.bindings(name)
        o.differentiate = true
        o.defaultFloatType = .f64
        o.stage = .shapes
        let (graph, diags, _) = Pipeline.compile(try Self.f64Source(name), options: o)
        let g = try #require(graph, "\(name): \(diags.all.map(\.message))")
        let f32 = g.nodes.filter { $0.type.dtype == .f32 }.count
        #expect(f32 == 0, "\(name): \(f32) f32 values")
        #expect(g.nodes.contains { $0.type.dtype == .f64 }, "\(name): no f64 value")
    }

    @Test(arguments: models)
    func outputsAndGradientsAgree(_ name: String) throws {
        let file = try Self.f64Source(name)
        let b = Self.bindings(name)
        for training in [true, false] {
            let plain = try Self.evaluate(file, optimized: false, training: training, step: false, bindings: b)
            let optimized = try Self.evaluate(file, optimized: true, training: training, step: false, bindings: b)
            let what = name + (training ? " (training)" : " (inference)")
            Self.compare(plain, optimized, what, tolerance: 1e-8)
        }
    }

    @Test(arguments: models)
    func oneTrainingStepAgrees(_ name: String) throws {
        let file = try Self.f64Source(name)
        let b = Self.bindings(name)
        let plain = try Self.evaluate(file, optimized: false, training: true, step: true, bindings: b)
        let optimized = try Self.evaluate(file, optimized: true, training: true, step: true, bindings: b)
        Self.compare(plain, optimized, name + " (one adam step)", tolerance: 1e-6)
    }

    /// At batch 1 a dense layer's weight gradient is an outer product, which
    /// the fused optimizer update runs inside its elementwise loop, and the
    /// forward and input-gradient products are matrix-vector products (gemv).
    /// Three momentum steps (so that the velocity read back is not zero) must
    /// leave the same parameters as the unfused step, whose weight-gradient
    /// products are GEMMs (gemv itself is checked against a loop in GEMMTests).
    /// At batch 4 the fused update is one GEMM accumulating into the velocity
    /// (beta = 0.9, GemmAccumulationTests), the unfused one a GEMM, a scaling
    /// and a sum.
    @Test(arguments: [1, 4])
    func momentumStepsAgree(batch: Int) throws {
        let path = Self.root.appendingPathComponent("Graphs/mnist_mlp.dlg").path
        let file = SourceFile(path: "Graphs/mnist_mlp.dlg", text: try String(contentsOfFile: path, encoding: .utf8))
        var sgd = OptimizerSpec(kind: .momentum, lr: 0.05)
        sgd.momentumForm = .pytorch
        let plain = try Self.evaluate(file, optimized: false, training: true, step: true, bindings: ["B": batch],
                                      optimizer: sgd, steps: 3)
        let optimized = try Self.evaluate(file, optimized: true, training: true, step: true, bindings: ["B": batch],
                                          optimizer: sgd, steps: 3)
        Self.compare(plain, optimized, "mnist_mlp (three momentum steps at batch \(batch))")
    }
}
