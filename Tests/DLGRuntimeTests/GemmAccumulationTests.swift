import DLGCompiler
import DLGData
import DLGGraph
@testable import DLGRuntime
import DLGSource
import Testing

/// A fused matmul region that only adds a multiple of one input to the
/// product is lowered to one GEMM with beta (`Kernel.gemm`'s accumulation). Each case
/// checks that the region took that path and that its result equals the
/// product and sum written out as loops here.
@Suite struct GemmAccumulationTests {
    /// The fused regions of `p` that run as an accumulating GEMM.
    static func accumulating(_ p: Program) -> [(Instruction, GemmAccumulation)] {
        p.instructions.compactMap { ins in
            switch ins.kernel {
            case .gemm(_, _, _, let acc?), .batchedGemm(_, _, _, let acc?): return (ins, acc)
            default: return nil
            }
        }
    }

    /// y[i, j] = Σ_k x[i, k]·w[k, j] + c·r[i, j], plainly.
    static func reference(x: [Double], w: [Double], r: [Double], c: Double, m: Int, k: Int, n: Int) -> [Double] {
        var y = Array(repeating: 0.0, count: m * n)
        for i in 0 ..< m {
            for j in 0 ..< n {
                var s = 0.0
                for l in 0 ..< k { s += x[i * k + l] * w[l * n + j] }
                y[i * n + j] = s + c * r[i * n + j]
            }
        }
        return y
    }

    static let x: [Double] = [1, -2, 0.5, 3, 0, -1, 2, 2, -0.5, 1.5, -3, 4]      // [4, 3]
    static let w: [Double] = [0.5, -1, 2, 0.25, -1.5, 3]                           // [3, 2]
    static let r: [Double] = [10, -20, 30, -40, 50, -60, 70, -80]                  // [4, 2]

    struct Case: CustomTestStringConvertible, Sendable {
        var expression: String
        var c: Double
        /// Whether beta is read from the input s at run time (else the immediate c).
        var fromInput: Bool
        var testDescription: String { expression }
    }

    static let cases: [Case] = [
        Case(expression: "x @ w + r", c: 1, fromInput: false),
        Case(expression: "r + x @ w", c: 1, fromInput: false),
        Case(expression: "x @ w + 0.25 * r", c: 0.25, fromInput: false),
        Case(expression: "r * s + x @ w", c: -3, fromInput: true),
    ]

    @Test(arguments: cases)
    func sumOfProductAndInput(_ c: Case) throws {
        let source = """
            model acc {
                input x: f64[4, 3]
                input w: f64[3, 2]
                input r: f64[4, 2]
                input s: f64[]
                output y = \(c.expression)
            }
            """
        let p = try lowered(source, stage: .planned)
        let found = Self.accumulating(p)
        #expect(found.count == 1, "the product and sum should be one accumulating GEMM")
        if let (ins, acc) = found.first {
            let name = { (b: Buffer) in p.inputs.first { $0.buffer == b }?.name }
            #expect(name(ins.inputs[acc.source]) == "r", "C should start as r")
            if c.fromInput {
                guard case .input(let j) = acc.beta else { Issue.record("beta should be read from s"); return }
                #expect(name(ins.inputs[j]) == "s")
            } else {
                #expect(acc.beta == .immediate(c.c))
            }
        }
        var inputs = ["x": try NDArray(Self.x, shape: [4, 3]), "w": try NDArray(Self.w, shape: [3, 2]),
                      "r": try NDArray(Self.r, shape: [4, 2]), "s": try NDArray([-3.0], shape: [])]
        if !c.fromInput { inputs["s"] = nil }      // unused, so not an input of the program
        let out = try run(p, inputs)
        let y = try #require(out["y"])
        expectClose(y.toDoubles(), Self.reference(x: Self.x, w: Self.w, r: Self.r, c: c.c, m: 4, k: 3, n: 2), tolerance: 1e-12)
    }

    /// C starts as a copy of the matmul's own left operand (x @ w + x, square):
    /// the copy goes to the output, and the product still reads x unchanged.
    @Test func addendIsAnOperandOfTheProduct() throws {
        let source = """
            model acc {
                input x: f64[2, 2]
                input w: f64[2, 2]
                output y = x @ w + x
            }
            """
        let p = try lowered(source, stage: .planned)
        #expect(Self.accumulating(p).count == 1)
        let x: [Double] = [1, 2, 3, 4], w: [Double] = [5, -6, 7, 8]
        let out = try run(p, ["x": try NDArray(x, shape: [2, 2]), "w": try NDArray(w, shape: [2, 2])])
        // [1 2; 3 4]·[5 −6; 7 8] = [19 10; 43 14], plus x.
        #expect(try #require(out["y"]).toDoubles() == [20, 12, 46, 18])
    }

    /// Momentum's v ← 0.9·v + ∂w at batch 4: the GEMM writes over the velocity
    /// itself (C = v, beta = 0.9), for both weight matrices of a small MLP.
    @Test func momentumUpdatesTheVelocityInPlace() throws {
        let text = """
            model mlp {
                input x: f32[B, 6]
                input label: i32[B]
                h = relu(dense(x, 5))
                output logits = dense(h, 3)
                minimize cross_entropy(logits, label)
            }
            """
        var o = PipelineOptions()
        o.training = true
        o.differentiate = true
        o.bindings = ["B": 4]
        var sgd = OptimizerSpec(kind: .momentum, lr: 0.1)
        sgd.momentum = 0.9
        sgd.momentumForm = .pytorch
        o.optimizer = sgd
        o.verify = true
        let (graph, diags, _) = Pipeline.compile(SourceFile(path: "mlp.dlg", text: text), options: o)
        let g = try #require(graph, "\(diags.all.map(\.message))")
        let p = try Lowering.lower(g)
        let inPlace = Self.accumulating(p).filter { ins, acc in
            ins.inputs[acc.source].location == ins.output.location && acc.inPlace && acc.beta == .immediate(0.9)
        }
        // The two weight matrices' velocities ([6, 5] and [5, 3]).
        #expect(inPlace.map(\.0.output.shape).sorted { $0.lexicographicallyPrecedes($1) } == [[5, 3], [6, 5]])
    }
}
