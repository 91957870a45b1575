import Testing
@testable import DLGKernels

@Suite struct FillTests {
    func fill<T: KernelScalar>(_: T.Type, _ n: Int, _ body: (UnsafeMutablePointer<T>) -> Void) -> [T] {
        var y = [T](repeating: -99, count: n + 1)
        y.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
        return Array(y.prefix(n))
    }

    @Test func constantFill() {
        #expect(fill(Float.self, 17) { fillConstant($0, count: 17, value: 2.5) } == [Float](repeating: 2.5, count: 17))
        #expect(fill(Double.self, 1) { fillConstant($0, count: 1, value: -1) } == [-1])
    }

    /// The fills consume the stream in index order: a second stream with the
    /// same seed, drawn by hand, reproduces them exactly.
    @Test func fillsFollowTheStreamInOrder() {
        var a = RandomStream(seed: 42)
        let u = fill(Float.self, 33) { fillUniform($0, count: 33, low: -0.5, high: 2, using: &a) }
        let z = fill(Double.self, 17) { fillNormal($0, count: 17, mean: 1, std: 0.1, using: &a) }
        var b = RandomStream(seed: 42)
        let uWant: [Float] = (0..<33).map { _ in b.uniform(Float(-0.5), Float(2)) }
        let zWant: [Double] = (0..<17).map { _ in 1 + 0.1 * b.normal(Double.self) }
        #expect(u == uWant)
        #expect(z == zWant)
        var c = RandomStream(seed: 43)
        #expect(fill(Float.self, 33) { fillUniform($0, count: 33, low: -0.5, high: 2, using: &c) } != u)
    }

    /// 100,000 draws: U(a, b) has mean (a+b)/2 and variance (b−a)²/12; N(μ, σ)
    /// has mean μ and variance σ². Tolerances are about 6 standard errors.
    @Test func momentsMatchTheDistributions() {
        let n = 100_000
        var r = RandomStream(seed: 7)
        let u = fill(Double.self, n) { fillUniform($0, count: n, low: -3, high: 1, using: &r) }
        #expect(u.allSatisfy { $0 >= -3 && $0 < 1 })
        let um = u.reduce(0, +) / Double(n)
        let uv = u.reduce(0) { $0 + ($1 - um) * ($1 - um) } / Double(n)
        #expect(Swift.abs(um - -1) < 6 * (16.0 / 12 / Double(n)).squareRoot())
        #expect(Swift.abs(uv - 16.0 / 12) < 0.03)
        let z = fill(Float.self, n) { fillNormal($0, count: n, mean: 2, std: 0.5, using: &r) }.map(Double.init)
        let zm = z.reduce(0, +) / Double(n)
        let zv = z.reduce(0) { $0 + ($1 - zm) * ($1 - zm) } / Double(n)
        #expect(Swift.abs(zm - 2) < 6 * 0.5 / Double(n).squareRoot())
        #expect(Swift.abs(zv - 0.25) < 6 * 0.25 * (2 / Double(n)).squareRoot())
    }

    /// Truncated at ±2σ: every value within 2σ of the mean; the standard
    /// normal truncated to [−2, 2] has variance 1 − 2·2·φ(2)/(2Φ(2) − 1)
    /// = 1 − 4·0.0539910/0.9544997 = 0.773741.
    @Test func truncatedNormalStaysWithinTwoSigma() {
        let n = 100_000
        var r = RandomStream(seed: 9)
        let t = fill(Double.self, n) { fillTruncatedNormal($0, count: n, mean: -1, std: 3, using: &r) }
        #expect(t.allSatisfy { $0 >= -7 && $0 <= 5 })
        let m = t.reduce(0, +) / Double(n)
        let v = t.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n)
        #expect(Swift.abs(m - -1) < 6 * 3 * (0.773741 / Double(n)).squareRoot())
        #expect(Swift.abs(v / 9 - 0.773741) < 0.015)
    }
}
