import DLGGraph
import DLGRuntime
import Foundation
import Testing

/// The LeCun initializers against their definitions (Keras's and JAX's):
/// lecun_uniform is U(±√(3/fan_in)); lecun_normal a normal truncated at
/// ±2σ whose variance is 1/fan_in. Checked on 40,000 draws: the bounds
/// exactly, the mean and variance within a few standard errors, and the
/// shape of the distribution (the fraction within one bound's half for the
/// uniform, the mass near the cut for the truncated normal).
@Suite struct InitializerTests {
    static let count = 40_000

    static func moments(_ v: [Double]) -> (mean: Double, variance: Double) {
        let m = v.reduce(0, +) / Double(v.count)
        return (m, v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1))
    }

    @Test(arguments: [1, 9, 50, 300])
    func lecunUniform(fanIn: Int) {
        let v = ParameterInit.values(.lecunUniform, count: Self.count, fanIn: fanIn, fanOut: 7, seed: 3, name: "w")
        let a = (3 / Double(fanIn)).squareRoot()
        #expect(v.allSatisfy { $0 >= -a && $0 < a })
        // Both ends are reached: the draws are spread over the whole interval.
        #expect(v.min()! < -0.99 * a && v.max()! > 0.99 * a)
        let (m, s2) = Self.moments(v)
        let variance = 1 / Double(fanIn)
        // Standard error of the mean: √(variance/n); of a uniform's variance: variance·√(0.8/n).
        #expect(abs(m) < 5 * (variance / Double(Self.count)).squareRoot())
        #expect(abs(s2 - variance) < 5 * variance * (0.8 / Double(Self.count)).squareRoot())
        let inner = Double(v.filter { abs($0) < a / 2 }.count) / Double(Self.count)
        #expect(abs(inner - 0.5) < 0.02, "a uniform puts half its draws within half the bound, got \(inner)")
    }

    @Test(arguments: [1, 9, 50, 300])
    func lecunNormal(fanIn: Int) {
        let v = ParameterInit.values(.lecunNormal, count: Self.count, fanIn: fanIn, fanOut: 7, seed: 4, name: "w")
        let variance = 1 / Double(fanIn)
        // σ of the untruncated normal: the truncated one's standard deviation is 0.8796·σ.
        let sigma = variance.squareRoot() / 0.87962566103423978
        #expect(v.allSatisfy { abs($0) <= 2 * sigma })
        let (m, s2) = Self.moments(v)
        #expect(abs(m) < 5 * (variance / Double(Self.count)).squareRoot())
        // The variance of a sample variance is about variance²·(κ − 1)/n with κ ≈ 2.4 for this truncation.
        #expect(abs(s2 - variance) < 5 * variance * (1.4 / Double(Self.count)).squareRoot(),
                "variance \(s2), expected \(variance)")
        // A standard normal truncated to ±2 has P(|z| > 1) = (Φ(2) − Φ(1))·2/(2Φ(2) − 1) = 0.2848.
        let outer = Double(v.filter { abs($0) > sigma }.count) / Double(Self.count)
        #expect(abs(outer - 0.2848) < 0.015, "fraction beyond σ: \(outer)")
    }

    /// The words reach the initializer, in a param and as a layer's init, and print back.
    @Test func wordsAndDescriptions() throws {
        let p = try lowered("""
            model m {
                input x: f32[B, 50]
                param v: f32[50, 20] = lecun_uniform
                output y = dense(x @ v, 4, init: lecun_normal)
            }
            """, bind: ["B": 2])
        #expect(p.state.first { $0.name == "v" }?.initializer == .lecunUniform)
        #expect(p.state.first { $0.name == "y.weight" }?.initializer == .lecunNormal)
        #expect(Initializer.lecunUniform.description == "lecun_uniform")
        #expect(Initializer.lecunNormal.description == "lecun_normal")
    }
}
