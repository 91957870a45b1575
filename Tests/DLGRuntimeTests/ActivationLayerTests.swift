import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import Foundation
import Testing

/// The activations added by declaring them once (DLGOps): each works as a
/// function, as the `activation:` of a convolution (applied by the
/// convolution's epilogue) and of a dense layer (the GEMM's fused loop), and
/// folds on constants — all compared with its formula written here. (Its
/// kernels and gradient against references: ElementwiseTests and the
/// gradient-check cases.)
@Suite struct ActivationLayerTests {
    struct Case: CustomStringConvertible, Sendable {
        var word: String
        var f: @Sendable (Double) -> Double
        var description: String { word }
    }

    static func sigma(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    static func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }

    static let cases: [Case] = [
        Case(word: "mish") { x in x * tanh(softplus(x)) },
        Case(word: "hard_sigmoid") { x in min(max(x + 3, 0), 6) / 6 },
        Case(word: "hard_swish") { x in x * min(max(x + 3, 0), 6) / 6 },
        Case(word: "log_sigmoid") { x in -softplus(-x) },
    ]

    static func values(_ n: Int, scale: Double, seed: UInt64) -> [Double] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return scale * Double(Int((s >> 33) % 2001) - 1000) / 1000
        }
    }

    @Test(arguments: cases)
    func functionAndLayers(_ a: Case) throws {
        let p = try lowered("""
            model act {
                input x: f32[2, 3, 5, 5]
                input v: f32[2, 6]
                output c = conv2d(x, filters: 2, kernel: 3, pad: 1, activation: \(a.word))
                output d = dense(v, 4, activation: \(a.word))
                output f = \(a.word)(v)
            }
            """, stage: .planned)
        let x = Self.values(2 * 3 * 5 * 5, scale: 2, seed: 1), v = Self.values(12, scale: 5, seed: 2)
        let cw = Self.values(2 * 3 * 3 * 3, scale: 0.5, seed: 3), cb = Self.values(2, scale: 1, seed: 4)
        let dw = Self.values(6 * 4, scale: 1, seed: 5), db = Self.values(4, scale: 1, seed: 6)
        let e = try Executor(p, threads: 2)
        e.initializeState(seed: 1)
        try e.setInput(try #require(p.inputIndex(named: "x")), try NDArray(x.map(Float.init), shape: [2, 3, 5, 5]))
        try e.setInput(try #require(p.inputIndex(named: "v")), try NDArray(v.map(Float.init), shape: [2, 6]))
        for (name, values) in [("c.weight", cw), ("c.bias", cb), ("d.weight", dw), ("d.bias", db)] {
            e.setValues(p.state[try #require(p.stateIndex(named: name), "no parameter \(name)")].buffer, values)
        }
        try e.run()
        func output(_ name: String) throws -> [Double] { e.output(try #require(p.outputs.firstIndex { $0.name == name })).toDoubles() }
        // The inputs as the f32 program holds them.
        let xf = x.map { Double(Float($0)) }, vf = v.map { Double(Float($0)) }
        var conv = [Double](repeating: 0, count: 2 * 2 * 5 * 5)
        for n in 0..<2 { for o in 0..<2 { for i in 0..<5 { for j in 0..<5 {
            var s = Double(Float(cb[o]))
            for c in 0..<3 { for di in 0..<3 { for dj in 0..<3 {
                let yi = i + di - 1, xj = j + dj - 1
                guard yi >= 0, yi < 5, xj >= 0, xj < 5 else { continue }
                s += Double(Float(cw[((o * 3 + c) * 3 + di) * 3 + dj])) * xf[((n * 3 + c) * 5 + yi) * 5 + xj]
            } } }
            conv[((n * 2 + o) * 5 + i) * 5 + j] = a.f(s)
        } } } }
        var dense = [Double](repeating: 0, count: 2 * 4)
        for r in 0..<2 { for u in 0..<4 {
            var s = Double(Float(db[u]))
            for k in 0..<6 { s += vf[r * 6 + k] * Double(Float(dw[k * 4 + u])) }
            dense[r * 4 + u] = a.f(s)
        } }
        expectClose(try output("c"), conv, tolerance: 1e-5)
        expectClose(try output("d"), dense, tolerance: 1e-5)
        expectClose(try output("f"), vf.map(a.f), tolerance: 1e-6)
    }

    /// On a constant, constant folding computes it: no kernel is left.
    @Test(arguments: cases)
    func folding(_ a: Case) throws {
        let constants: [Double] = [-5, -3, -1.5, -0.25, 0, 0.5, 2, 3, 6]
        var g = Graph(name: "fold", source: nil, training: false)
        let c = g.addConstant(TensorLiteral(shape: [constants.count], values: constants), dtype: .f64, loc: nil)
        let op = try #require(Op(rawValue: a.word))
        g.outputs = [GraphOutput(name: "k", value: try g.add(op, [c]), loc: nil)]
        var context = PassContext(verify: true)
        _ = Pipeline.run(&g, upTo: .planned, context: &context)
        #expect(!context.diagnostics.hasErrors)
        let p = try Lowering.lower(g)
        #expect(p.instructions.isEmpty, "\(a.word) of a constant should be folded, not run")
        expectClose(try #require(try run(p, [:])["k"]).toDoubles(), constants.map(a.f), tolerance: 1e-14)
    }
}
