import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import DLGSyntax
import Foundation
import Testing

/// Backpropagation examples worked by hand, against the gradients the
/// compiled program computes (the buffers in `Program.gradients` and
/// `Program.inputGradients` after one run).
@Suite struct BackpropTextbookTests {
    /// Compiles forward + backward (no optimizer) and returns an executor with state initialized.
    func gradientProgram(_ source: String, batch: Int, inputGradients: Bool = false, optimizer: OptimizerSpec? = nil) throws -> Executor {
        var o = PipelineOptions()
        o.stage = .canonical
        o.differentiate = true
        o.inputGradients = inputGradients
        o.optimizer = optimizer
        o.bindings = ["B": batch]
        let file = SourceFile(path: "textbook.dlg", text: source)
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        let g = try #require(graph, "\(DiagnosticsFormatter().format(diags.sorted, in: file))")
        let e = try Executor(try Lowering.lower(g), threads: 1)
        e.initializeState(seed: 1)
        return e
    }

    func feed(_ e: Executor, _ name: String, _ values: [Double], shape: [Int]) throws {
        let i = try #require(e.program.inputIndex(named: name), "no input \(name)")
        try e.setInput(i, try NDArray(values.map(Float.init), shape: shape))
    }

    func feedLabels(_ e: Executor, _ name: String, _ labels: [Int32]) throws {
        let i = try #require(e.program.inputIndex(named: name), "no input \(name)")
        try e.setInput(i, try NDArray(labels, shape: [labels.count]))
    }

    /// The gradient of the parameter `name`.
    func gradient(_ e: Executor, _ name: String) throws -> [Double] {
        let slot = try #require(e.program.stateIndex(named: name), "no parameter \(name)")
        let g = try #require(e.program.gradients.first { $0.slot == slot }, "no gradient for \(name)")
        return e.values(g.buffer)
    }

    /// The gradient of the input `name`.
    func inputGradient(_ e: Executor, _ name: String) throws -> [Double] {
        let i = try #require(e.program.inputIndex(named: name), "no input \(name)")
        let g = try #require(e.program.inputGradients.first { $0.input == i }, "no gradient for input \(name)")
        return e.values(g.buffer)
    }

    static let twoTwoOne = """
        model net {
            input x: f32[B, 2]
            input t: f32[B, 1]
            param W1: f32[2, 2] = [[0.1, 0.4], [0.8, 0.6]]   # W1[i][j]: input i → hidden j
            param W2: f32[2, 1] = [[0.3], [0.9]]
            h = sigmoid(x @ W1)
            output y = sigmoid(h @ W2)
            minimize sse(y, t)                                # ½(y − t)² for one sample
        }
        """

    /// The classic 2-2-1 sigmoid network without biases: inputs x = (0.35, 0.9),
    /// target t = 0.5, weights w₁₃ = 0.1, w₂₃ = 0.8 (into hidden unit 3),
    /// w₁₄ = 0.4, w₂₄ = 0.6 (into hidden unit 4), w₃₅ = 0.3, w₄₅ = 0.9, loss E = ½(y − t)².
    ///
    /// Forward, by hand:
    ///   n₃ = 0.35·0.1 + 0.9·0.8 = 0.755        h₃ = σ(0.755) = 0.680267197
    ///   n₄ = 0.35·0.4 + 0.9·0.6 = 0.68         h₄ = σ(0.68)  = 0.663738697
    ///   n₅ = 0.680267197·0.3 + 0.663738697·0.9 = 0.801444987
    ///   y  = σ(0.801444987) = 0.690283493,     E = ½(0.190283493)² = 0.018103904
    /// Backward (δ = ∂E/∂n):
    ///   ∂E/∂y = y − t = 0.190283493;  σ′(n₅) = y(1 − y) = 0.213792192
    ///   δ₅ = 0.190283493·0.213792192 = 0.040681125
    ///   ∂E/∂w₃₅ = δ₅·h₃ = 0.027674035,   ∂E/∂w₄₅ = δ₅·h₄ = 0.027001637
    ///   δ₃ = δ₅·w₃₅·h₃(1 − h₃) = 0.040681125·0.3·0.217503738 = 0.002654489
    ///   δ₄ = δ₅·w₄₅·h₄(1 − h₄) = 0.040681125·0.9·0.223189639 = 0.008171645
    ///   ∂E/∂w₁₃ = δ₃·x₁ = 0.000929071,   ∂E/∂w₂₃ = δ₃·x₂ = 0.002389040
    ///   ∂E/∂w₁₄ = δ₄·x₁ = 0.002860076,   ∂E/∂w₂₄ = δ₄·x₂ = 0.007354481
    /// One SGD step with η = 1 (w ← w − ∂E/∂w):
    ///   w₁₃ = 0.099070929, w₂₃ = 0.797610960, w₁₄ = 0.397139924, w₂₄ = 0.592645519,
    ///   w₃₅ = 0.272325965, w₄₅ = 0.872998363.
    @Test func twoTwoOneSigmoidNetworkGradients() throws {
        let e = try gradientProgram(BackpropTextbookTests.twoTwoOne, batch: 1)
        try feed(e, "x", [0.35, 0.9], shape: [1, 2])
        try feed(e, "t", [0.5], shape: [1, 1])
        try e.run()
        expectClose([try #require(e.loss)], [0.018103904], tolerance: 1e-6)
        expectClose(e.output(0).toDoubles(), [0.690283493], tolerance: 1e-6)
        expectClose(try gradient(e, "W2"), [0.027674035, 0.027001637], tolerance: 1e-6)
        // W1 row-major: [[w₁₃, w₁₄], [w₂₃, w₂₄]].
        expectClose(try gradient(e, "W1"), [0.000929071, 0.002860076, 0.002389040, 0.007354481], tolerance: 1e-6)
    }

    /// The same network trained for one step with SGD, η = 1: the new weights
    /// are the ones worked out by hand above.
    @Test func twoTwoOneSigmoidNetworkOneStep() throws {
        let e = try gradientProgram(BackpropTextbookTests.twoTwoOne, batch: 1, optimizer: OptimizerSpec(kind: .sgd, lr: 1))
        try feed(e, "x", [0.35, 0.9], shape: [1, 2])
        try feed(e, "t", [0.5], shape: [1, 1])
        try e.run()
        expectClose(try #require(e.state.values("W1")), [0.099070929, 0.397139924, 0.797610960, 0.592645519], tolerance: 1e-6)
        expectClose(try #require(e.state.values("W2")), [0.272325965, 0.872998363], tolerance: 1e-6)
    }

    /// Logistic regression a = σ(x·w + b) with binary cross-entropy averaged
    /// over m examples: dJ/dw = (1/m)·Σ(a − y)·x and dJ/db = (1/m)·Σ(a − y),
    /// computed here with plain loops in Double.
    @Test func logisticRegressionGradient() throws {
        let m = 5
        let x: [[Double]] = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-0.75, 0.5, 1.0], [0.0, 2.0, -1.5], [1.0, 1.0, 1.0]]
        let y: [Double] = [1, 0, 1, 0, 1]
        let w = [0.5, -1.2, 0.3], b = 0.1
        let e = try gradientProgram("""
            model logreg {
                input x: f32[B, 3]
                input y: f32[B, 1]
                param w: f32[3, 1] = [[0.5], [-1.2], [0.3]]
                param b: f32[1] = [0.1]
                output a = sigmoid(x @ w + b)
                minimize bce(a, y)
            }
            """, batch: m)
        try feed(e, "x", x.flatMap { $0 }, shape: [m, 3])
        try feed(e, "y", y, shape: [m, 1])
        try e.run()
        var dw = [0.0, 0.0, 0.0], db = 0.0, loss = 0.0
        for i in 0..<m {
            let z = x[i][0] * w[0] + x[i][1] * w[1] + x[i][2] * w[2] + b
            let a = 1 / (1 + exp(-z))
            loss -= y[i] * log(a) + (1 - y[i]) * log(1 - a)
            for j in 0..<3 { dw[j] += (a - y[i]) * x[i][j] / Double(m) }
            db += (a - y[i]) / Double(m)
        }
        expectClose([try #require(e.loss)], [loss / Double(m)], tolerance: 1e-6)
        expectClose(try gradient(e, "w"), dw, tolerance: 1e-6)
        expectClose(try gradient(e, "b"), [db], tolerance: 1e-6)
        #expect(dw.map(abs).max()! > 0.05)  // a gradient worth comparing
    }

    /// Softmax cross-entropy averaged over N rows: ∂L/∂z = (ŷ − y)/N with
    /// ŷ = softmax(z) per row and y the one-hot label (sparse form) or the
    /// target distribution (dense form, rows summing to 1). ŷ is computed here
    /// plainly; the compiled gradient is read for the logits input.
    @Test func softmaxCrossEntropyGradientIsPredictionMinusTarget() throws {
        let n = 3, c = 4
        let z: [[Double]] = [[1.0, 2.0, 0.5, -1.0], [0.1, 0.1, 0.3, 2.5], [-2.0, 0.0, 1.0, 1.5]]
        let labels: [Int32] = [1, 3, 0]
        let targets: [[Double]] = [[0.1, 0.6, 0.2, 0.1], [0.0, 0.0, 0.25, 0.75], [0.5, 0.5, 0.0, 0.0]]
        var softmax: [[Double]] = []
        for row in z {
            let mx = row.max()!
            let ex = row.map { exp($0 - mx) }
            let s = ex.reduce(0, +)
            softmax.append(ex.map { $0 / s })
        }
        // Sparse: integer labels.
        let sparse = try gradientProgram("""
            model ce {
                input z: f32[B, 4]
                input label: i32[B]
                minimize cross_entropy(z, label)
            }
            """, batch: n, inputGradients: true)
        try feed(sparse, "z", z.flatMap { $0 }, shape: [n, c])
        try feedLabels(sparse, "label", labels)
        try sparse.run()
        var expected: [Double] = []
        for i in 0..<n {
            for j in 0..<c { expected.append((softmax[i][j] - (j == Int(labels[i]) ? 1 : 0)) / Double(n)) }
        }
        expectClose(try inputGradient(sparse, "z"), expected, tolerance: 1e-6)

        // Dense: target distributions.
        let dense = try gradientProgram("""
            model ce {
                input z: f32[B, 4]
                input t: f32[B, 4]
                minimize cross_entropy(z, t)
            }
            """, batch: n, inputGradients: true)
        try feed(dense, "z", z.flatMap { $0 }, shape: [n, c])
        try feed(dense, "t", targets.flatMap { $0 }, shape: [n, c])
        try dense.run()
        expected = []
        for i in 0..<n {
            for j in 0..<c { expected.append((softmax[i][j] - targets[i][j]) / Double(n)) }
        }
        expectClose(try inputGradient(dense, "z"), expected, tolerance: 1e-6)
    }
}
