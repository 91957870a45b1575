import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import Testing

/// hardlim and hardlims pass their gradient straight through (taken as 1),
/// which makes SGD on ½(t − a)² the perceptron learning rule.
@Suite struct StraightThroughTests {
    /// The slope of a step function is 0 wherever it exists, so a finite
    /// difference can never confirm the straight-through gradient: the check
    /// reports every tensor behind hardlim/hardlims as not checkable, and still
    /// checks (and passes) the tensors that do not go through it.
    @Test(arguments: ["hardlim", "hardlims"])
    func straightThroughGradientsAreNotCheckable(_ function: String) throws {
        let graph = try compileForGradients("""
            model m {
                input p: f32[B, 2]
                input t: f32[B, 1]
                input u: f32[B, 1]
                param W: f32[2, 1] = [[0.5], [-0.3]]
                param b: f32[1] = [0.1]
                param v: f32[1] = [0.7]
                a = \(function)(p @ W + b)
                minimize sse(a, t) + mse(u * v, t)
            }
            """, bind: ["B": 3])
        let report = try GradientCheck.run(graph, options: GradientCheck.Options())
        var status: [String: GradientCheck.Status] = [:]
        for t in report.tensors { status[t.name] = t.status }
        for name in ["W", "b", "p"] {
            guard case .notCheckable(let why)? = status[name] else {
                Issue.record("\(name): expected not checkable, got \(String(describing: status[name]))")
                continue
            }
            #expect(why.contains("straight-through") && why.contains("hardlim"), "\(why)")
        }
        for name in ["v", "u", "t"] { #expect(status[name] == .passed, "\(name): \(String(describing: status[name]))") }
        #expect(report.passed)
    }

    /// Compiles the whole training step — forward, backward, SGD update — as one program.
    func trainingStep(_ source: String, lr: Double, batch: Int) throws -> Executor {
        var o = PipelineOptions()
        o.stage = .canonical
        o.differentiate = true
        o.optimizer = OptimizerSpec(kind: .sgd, lr: lr)
        o.bindings = ["B": batch]
        let file = SourceFile(path: "perceptron.dlg", text: source)
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        let g = try #require(graph, "\(DiagnosticsFormatter().format(diags.sorted, in: file))")
        let e = try Executor(try Lowering.lower(g), threads: 1)
        e.initializeState(seed: 1)
        return e
    }

    func feed(_ e: Executor, _ name: String, _ values: [Double], shape: [Int]) throws {
        let i = try #require(e.program.inputIndex(named: name))
        try e.setInput(i, try NDArray(values.map(Float.init), shape: shape))
    }

    static let andPatterns: [(p: [Double], t: Double)] = [([0, 0], 0), ([0, 1], 0), ([1, 0], 0), ([1, 1], 1)]

    /// One pattern per step (batch 1), η = 0.5, two passes over the AND truth
    /// table. After every step the compiled program's W and b equal the
    /// perceptron rule applied by hand here: a = hardlim(p·W + b),
    /// W ← W + η(t − a)p, b ← b + η(t − a).
    /// The first step by hand: p = (0, 0), n = 0 ≥ 0 so a = 1, t − a = −1:
    /// W stays [1, −0.8] (p is zero) and b = 0 − 0.5 = −0.5.
    @Test func sgdOnHalfSquaredErrorIsThePerceptronRule() throws {
        let eta = 0.5
        let e = try trainingStep("""
            model perceptron {
                input p: f32[B, 2]
                input t: f32[B, 1]
                param W: f32[2, 1] = [[1.0], [-0.8]]
                param b: f32[1] = [0.0]
                output a = hardlim(p @ W + b)
                minimize sse(a, t)
            }
            """, lr: eta, batch: 1)
        var w = [1.0, -0.8], b = 0.0
        var changes = 0
        for step in 0..<8 {
            let (p, t) = StraightThroughTests.andPatterns[step % 4]
            try feed(e, "p", p, shape: [1, 2])
            try feed(e, "t", [t], shape: [1, 1])
            try e.run()
            let n = p[0] * w[0] + p[1] * w[1] + b
            let a: Double = n >= 0 ? 1 : 0
            w = [w[0] + eta * (t - a) * p[0], w[1] + eta * (t - a) * p[1]]
            b += eta * (t - a)
            if t != a { changes += 1 }
            let gotW = try #require(e.state.values("W")), gotB = try #require(e.state.values("b"))
            expectClose(gotW, w, tolerance: 1e-6)
            expectClose(gotB, [b], tolerance: 1e-6)
            if step == 0 {
                expectClose(gotW, [1, -0.8], tolerance: 1e-6)
                expectClose(gotB, [-0.5], tolerance: 1e-6)
            }
        }
        // By hand the eight steps make 5 corrections — steps 0, 2, 6 (a = 1 for t = 0) and 3, 7
        // (a = 0 for t = 1) — and leave the weights alone on the other three; W ends at [1, 0.2], b at −0.5.
        #expect(changes == 5)
        expectClose(w, [1, 0.2], tolerance: 1e-12)
        expectClose([b], [-0.5], tolerance: 1e-12)
    }

    /// The symmetric form with targets ±1 and the whole table as one batch:
    /// sse averages ½·(t − a)² over the m = 4 samples, so one SGD step is the
    /// batch perceptron rule W ← W + (η/m)·Σ(t − a)p, b ← b + (η/m)·Σ(t − a).
    @Test func batchStepWithHardlimsIsTheAveragedRule() throws {
        let eta = 0.25
        let e = try trainingStep("""
            model perceptron {
                input p: f32[B, 2]
                input t: f32[B, 1]
                param W: f32[2, 1] = [[0.3], [-0.6]]
                param b: f32[1] = [0.2]
                output a = hardlims(p @ W + b)
                minimize sse(a, t)
            }
            """, lr: eta, batch: 4)
        let patterns: [(p: [Double], t: Double)] = [([-1, -1], -1), ([-1, 1], 1), ([1, -1], -1), ([1, 1], 1)]
        try feed(e, "p", patterns.flatMap(\.p), shape: [4, 2])
        try feed(e, "t", patterns.map(\.t), shape: [4, 1])
        try e.run()
        var w = [0.3, -0.6], b = 0.2
        var dw = [0.0, 0.0], db = 0.0
        for (p, t) in patterns {
            let a: Double = p[0] * w[0] + p[1] * w[1] + b >= 0 ? 1 : -1
            dw[0] += (t - a) * p[0]
            dw[1] += (t - a) * p[1]
            db += t - a
        }
        w = [w[0] + eta / 4 * dw[0], w[1] + eta / 4 * dw[1]]
        b += eta / 4 * db
        // By hand: n = 0.3·p₁ − 0.6·p₂ + 0.2 = [0.5, −0.7, 1.1, −0.1], so a = [1, −1, 1, −1] and
        // t − a = [−2, 2, −2, 2]; (t − a)·p = (2, 2), (−2, 2), (−2, 2), (2, 2), summing to (0, 8);
        // Σ(t − a) = 0. So W = [0.3, −0.6 + (0.25/4)·8] = [0.3, −0.1] and b stays 0.2.
        expectClose(w, [0.3, -0.1], tolerance: 1e-12)
        expectClose(try #require(e.state.values("W")), w, tolerance: 1e-6)
        expectClose(try #require(e.state.values("b")), [b], tolerance: 1e-6)
    }
}
