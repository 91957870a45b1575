import DLGCompiler
import DLGGraph
import DLGRuntime
import Testing

/// The gradient check keeps every piecewise op on the branch it takes at θ, so a step ε that
/// carries an input across a kink still measures the slope at θ. Each case puts parameters
/// 1e-6 from a kink (or on it) and steps by ε = 1e-5: a plain central difference there averages
/// the two sides' slopes (relu at 1e-6: (1.1e-5 − 0)/2e-5 = 0.55 instead of 1) and would fail.
@Suite struct BranchFreezeTests {
    /// J = Σ body · c + Σ x·0, with p given literally; returns the check of p.
    func check(_ body: String, _ p: String, count: Int, outputs: Int? = nil) throws -> GradientCheck.TensorResult {
        let weights = (0..<(outputs ?? count)).map { ["1.5", "-2.0", "0.5", "3.0"][$0 % 4] }.joined(separator: ", ")
        let text = """
            model m {
                input  x: f32[1]
                param  p: f32[\(count)] = \(p)
                minimize sum(\(body) * [\(weights)]) + sum(x * 0)
            }
            """
        let graph = try compileForGradients(text, bind: [:])
        var o = GradientCheck.Options()
        o.samples = 0
        o.eps = 1e-5
        let report = try GradientCheck.run(graph, options: o)
        return try #require(report.tensors.first { $0.name == "p" })
    }

    func expectExact(_ t: GradientCheck.TensorResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(t.status == .passed && !t.atNoise, "\(t.status), at noise \(t.atNoise)", sourceLocation: sourceLocation)
        #expect(t.relativeError <= 1e-9, "relative error \(t.relativeError)", sourceLocation: sourceLocation)
    }

    @Test func reluNextToItsKink() throws {
        // d/dp Σ relu(p)·c = c where p > 0 and 0 where p < 0, however close to 0.
        let t = try check("relu(p)", "[1e-6, -1e-6, 2e-6, -3e-6]", count: 4)
        expectExact(t)
        // ‖g‖ = ‖(1.5, 0, 0.5, 0)‖.
        #expect(abs(t.gradientNorm - (1.5 * 1.5 + 0.5 * 0.5).squareRoot()) < 1e-12, "‖g‖ = \(t.gradientNorm)")
    }

    @Test func reluOnItsKinkFollowsTheGradientsConvention() throws {
        // At exactly 0 the derived gradient takes relu′(0) = 0; the frozen branch is the zero piece.
        let t = try check("relu(p)", "[0.0, 1.0, 0.0]", count: 3)
        expectExact(t)
        #expect(abs(t.gradientNorm - 2.0) < 1e-12, "‖g‖ = \(t.gradientNorm)")
    }

    @Test func satlinAndSatlinsNextToTheirKinks() throws {
        // satlin bends at 0 and 1, satlins at ±1: slopes 1 inside, 0 outside.
        expectExact(try check("satlin(p)", "[1e-6, 1.000001, 0.999999, -1e-6]", count: 4))
        expectExact(try check("satlins(p)", "[-1.000001, -0.999999, 1.000001, 0.999999]", count: 4))
        expectExact(try check("abs(p)", "[1e-6, -1e-6, 3e-6, -2e-6]", count: 4))
        expectExact(try check("leaky_relu(p, alpha: 0.2)", "[1e-6, -1e-6, 3e-6, -2e-6]", count: 4))
        expectExact(try check("elu(p)", "[1e-6, -1e-6, 3e-6, -2e-6]", count: 4))
    }

    @Test func maximumOfNearlyEqualOperands() throws {
        // max(p, q) with q = p ± 1e-6 elementwise: the gradient goes to whichever was larger at θ.
        expectExact(try check("maximum(p, [0.500001, 0.499999, -0.999999, 1.999999])", "[0.5, 0.5, -1.0, 2.0]", count: 4))
        expectExact(try check("minimum(p, [0.500001, 0.499999, -0.999999, 1.999999])", "[0.5, 0.5, -1.0, 2.0]", count: 4))
    }

    @Test func reductionAndPoolingWinnersOneMillionthApart() throws {
        // max over pairs (p0, p1) and (p2, p3), each pair 1e-6 apart: ‖g‖ = ‖(0, 1.5, −2, 0)‖.
        let r = try check("max(reshape(p, [2, 2]), axis: [1])", "[0.3, 0.300001, 0.7, 0.699999]", count: 4, outputs: 2)
        expectExact(r)
        #expect(abs(r.gradientNorm - 2.5) < 1e-12, "‖g‖ = \(r.gradientNorm)")
        // 2×2 max pooling with stride 1 over a 3×3 plane whose cells differ by 1e-6 around the centre:
        // each window's winner is decided by a millionth.
        let grid = "[0.5, 0.500001, 0.499999, 0.500002, 0.5, 0.499998, 0.499999, 0.500001, 0.5]"
        expectExact(try check("reshape(maxpool(reshape(p, [1, 1, 3, 3]), kernel: 2, stride: 1), [4])", grid, count: 9, outputs: 4))
    }

    @Test func freezingNeedsDoublePrecision() throws {
        let text = """
            model m {
                input x: f32[3]
                output y = relu(x)
            }
            """
        let graph = try compileForGradients(text, bind: [:], training: false)
        let program = try Lowering.lower(graph)
        let e = try Executor(program, threads: 1)
        #expect(throws: ExecutionError.self) { try e.freezeBranches() }
    }
}
