import Foundation
import Testing
@testable import DLGKernels

/// `PackedGemm`: C ← op(A)·op(B) (+ bias, activation) with op(B) packed once,
/// against a triple loop in Double written here.
@Suite struct PackedGemmTests {
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var rng = RandomStream(seed: seed)
        return (0 ..< count).map { _ in rng.uniform(Float(-1), Float(1)) }
    }

    /// The product in Double, the bias added, then relu or tanh (in Double); also Σ|a·b| per element, for the tolerance.
    static func reference(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, a: [Float], lda: Int, b: [Float], ldb: Int,
                          bias: [Float]?, activation: String?) -> (values: [Double], magnitude: [Double]) {
        var values = [Double](repeating: 0, count: m * n), magnitude = values
        for i in 0 ..< m {
            for j in 0 ..< n {
                var s = 0.0, size = 0.0
                for p in 0 ..< k {
                    let av = Double(transA ? a[p * lda + i] : a[i * lda + p])
                    let bv = Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                    s += av * bv
                    size += abs(av * bv)
                }
                if let bias { s += Double(bias[j]); size += abs(Double(bias[j])) }
                if activation == "relu" { s = max(s, 0) }
                if activation == "tanh" { s = tanh(s) }
                values[i * n + j] = s
                magnitude[i * n + j] = size
            }
        }
        return (values, magnitude)
    }

    static func check(m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false, bias withBias: Bool,
                      activation: String?, threads: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        // Padded leading dimensions: only what the plan names is read or written.
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
        let plan = try GemmPlan(m: m, n: n, k: k, transA: transA, transB: transB, lda: lda, ldb: ldb, ldc: ldc)
        guard let gemm = PackedGemm(plan: plan, Float.self) else {
            #expect(!CPUFeatures.useAVX512, "no packed product on an AVX-512 CPU", sourceLocation: sourceLocation)
            return
        }
        let a = random((transA ? k : m) * lda, seed: 31)
        let b = random((transB ? n : k) * ldb, seed: 32)
        let bias = withBias ? random(n, seed: 33) : nil
        let sentinel: Float = 12345
        var c = [Float](repeating: sentinel, count: m * ldc)
        let f: UnaryFunction? = activation.map { $0 == "relu" ? UnaryFunction(.relu)! : UnaryFunction(.tanh)! }
        b.withUnsafeBufferPointer { gemm.pack(b: $0.baseAddress!, threads: threads) }
        a.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { cp in
                if let bias {
                    bias.withUnsafeBufferPointer { gemm.run(a: ap.baseAddress!, c: cp.baseAddress!, bias: $0.baseAddress!, activation: f, threads: threads) }
                } else {
                    gemm.run(a: ap.baseAddress!, c: cp.baseAddress!, activation: f, threads: threads)
                }
            }
        }
        let (want, size) = reference(m: m, n: n, k: k, transA: transA, transB: transB, a: a, lda: lda, b: b, ldb: ldb,
                                     bias: bias, activation: activation)
        var worst: (Int, Int, Float, Double)? = nil
        for i in 0 ..< m {
            for j in 0 ..< n {
                let got = c[i * ldc + j], w = want[i * n + j]
                // f32 rounding along k (each fma rounds once) and the activation's own error.
                if !(abs(Double(got) - w) <= 1e-6 * Double(k + 4) * size[i * n + j] + 1e-6) { worst = (i, j, got, w) }
            }
            for j in n ..< ldc where c[i * ldc + j] != sentinel { worst = (i, j, c[i * ldc + j], Double(sentinel)) }
        }
        #expect(worst == nil, "m=\(m) n=\(n) k=\(k) transA=\(transA) transB=\(transB) bias=\(withBias) \(activation ?? "none") threads=\(threads): C[\(worst?.0 ?? -1), \(worst?.1 ?? -1)] = \(worst?.2 ?? 0), the loop gives \(worst?.3 ?? 0)",
                sourceLocation: sourceLocation)
    }

    /// Whole tiles (8×32), row tails of 1–7 (the 4- and 8-row kernels), partial panels (n < 16, n = 40), m = 1, k = 1.
    @Test(arguments: [(64, 64, 100), (1, 10, 7), (1, 100, 300), (3, 33, 17), (5, 40, 64), (7, 15, 9), (13, 70, 31),
                      (9, 96, 1), (64, 10, 256), (20, 1, 12)])
    func equalsTheTripleLoop(shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        for threads in [1, 2] {
            try Self.check(m: m, n: n, k: k, bias: false, activation: nil, threads: threads)
            try Self.check(m: m, n: n, k: k, bias: true, activation: "relu", threads: threads)
        }
        try Self.check(m: m, n: n, k: k, bias: true, activation: nil, threads: 2)
        try Self.check(m: m, n: n, k: k, bias: false, activation: "relu", threads: 2)
        try Self.check(m: m, n: n, k: k, bias: true, activation: "tanh", threads: 2)
        try Self.check(m: m, n: n, k: k, transA: true, bias: true, activation: "relu", threads: 2)
        try Self.check(m: m, n: n, k: k, transB: true, bias: false, activation: nil, threads: 2)
        try Self.check(m: m, n: n, k: k, transA: true, transB: true, bias: true, activation: nil, threads: 1)
    }

    /// Packing again after B changed: the product follows B's new values.
    @Test func packingAgainFollowsNewWeights() throws {
        let (m, n, k) = (6, 37, 20)
        let plan = try GemmPlan(m: m, n: n, k: k)
        guard let gemm = PackedGemm(plan: plan, Float.self) else {
            #expect(!CPUFeatures.useAVX512)
            return
        }
        let a = Self.random(m * k, seed: 41)
        for seed: UInt64 in [42, 43] {
            let b = Self.random(k * n, seed: seed)
            var c = [Float](repeating: 0, count: m * n)
            b.withUnsafeBufferPointer { gemm.pack(b: $0.baseAddress!, threads: 2) }
            a.withUnsafeBufferPointer { ap in c.withUnsafeMutableBufferPointer { gemm.run(a: ap.baseAddress!, c: $0.baseAddress!, threads: 2) } }
            let (want, size) = Self.reference(m: m, n: n, k: k, transA: false, transB: false, a: a, lda: k, b: b, ldb: n,
                                              bias: nil, activation: nil)
            for e in 0 ..< m * n {
                #expect(abs(Double(c[e]) - want[e]) <= 1e-6 * Double(k + 4) * size[e] + 1e-6, "seed \(seed), element \(e)")
            }
        }
    }

    /// No packed product for f64 or an empty product.
    @Test func onlyForNonEmptyF32() throws {
        #expect(PackedGemm(plan: try GemmPlan(m: 4, n: 4, k: 4), Double.self) == nil)
        #expect(PackedGemm(plan: try GemmPlan(m: 0, n: 4, k: 4), Float.self) == nil)
        #expect(PackedGemm(plan: try GemmPlan(m: 4, n: 4, k: 0), Float.self) == nil)
        #expect((PackedGemm(plan: try GemmPlan(m: 4, n: 4, k: 4), Float.self) != nil) == CPUFeatures.useAVX512)
    }
}
