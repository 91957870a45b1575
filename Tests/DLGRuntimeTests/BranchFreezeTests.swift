import DLGCompiler
import DLGGraph
@testable import DLGRuntime
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

    /// softsign x/(1 + |x|) has slope 1 on both sides of 0, but its second derivative jumps there
    /// (−2·sign(x)/(1 + |x|)³): at exactly 0 a central difference is 1/(1 + ε), off by ε, which
    /// Richardson's extrapolation (made to remove ε², not ε) leaves at ε/3 ≈ 3e-6, above the
    /// threshold. Kept on its piece's formula, x/(1 + x) at 0, the check measures the slope 1.
    @Test func softsignOnAndNextToItsKink() throws {
        let t = try check("softsign(p)", "[0.0, 0.0, 1e-6, -1e-6]", count: 4)
        expectExact(t)
        // Slopes 1/(1 + |p|)²: 1, 1 and 1/(1 + 1e-6)² twice, times the weights 1.5, −2, 0.5, 3.
        let s = 1 / ((1 + 1e-6) * (1 + 1e-6))
        let norm = (1.5 * 1.5 + 2 * 2 + 0.5 * s * 0.5 * s + 3 * s * 3 * s).squareRoot()
        #expect(abs(t.gradientNorm - norm) < 1e-12, "‖g‖ = \(t.gradientNorm), expected \(norm)")
        #expect(abs(t.numericNorm - norm) < 1e-9, "‖g_num‖ = \(t.numericNorm), expected \(norm)")
    }

    /// Keeping softsign on its piece does not excuse a wrong slope there: the derived gradient
    /// taken as 0 where p = 0 (relu's and abs's convention at their kinks), or scaled by
    /// 1 + 1e-6 everywhere, fails the same check that the true gradient passes.
    @Test func aWrongGradientAtSoftsignsKinkStillFails() throws {
        let graph = try compileForGradients("""
            model m {
                input  x: f32[1]
                param  p: f32[4] = [0.0, 0.0, 1e-6, -1e-6]
                minimize sum(softsign(p) * [1.5, -2.0, 0.5, 3.0]) + sum(x * 0)
            }
            """, bind: [:])
        var o = GradientCheck.Options()
        o.samples = 0
        o.eps = 1e-5
        /// The check with p's derived gradient multiplied elementwise by `factors`.
        func check(_ factors: [Double]) throws -> GradientCheck.TensorResult {
            let report = try GradientCheck.run(graph, options: o, alteringGradients: { g in
                guard let p = g.nodes.first(where: { $0.op == .param && $0.name == "p" })?.id, let grad = g.gradients[p] else {
                    Issue.record("no gradient of p")
                    return
                }
                let k = g.addConstant(TensorLiteral(shape: [4], values: factors), dtype: .f64, loc: nil)
                do { g.gradients[p] = try g.add(.mul, [grad, k]) } catch { Issue.record("\(error)") }
            })
            return try #require(report.tensors.first { $0.name == "p" })
        }
        expectExact(try check([1, 1, 1, 1]))
        for factors in [[0, 0, 1, 1], [1 + 1e-6, 1 + 1e-6, 1 + 1e-6, 1 + 1e-6]] {
            let t = try check(factors)
            #expect(t.status == .failed && !t.atNoise, "factors \(factors): \(t.status), relative error \(t.relativeError)")
        }
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
