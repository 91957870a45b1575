import Foundation
import Testing
@testable import DLGKernels

/// `PackedGemm.run(plan:…)`: C ← op(A)·op(B), or C ← C + op(A)·op(B), with op(B)
/// packed into the workspace on every call, against a triple loop in Double
/// written here; and a product by a `PackedGemm` sharing another's packed copy.
@Suite struct StreamedGemmTests {
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var rng = RandomStream(seed: seed)
        return (0 ..< count).map { _ in rng.uniform(Float(-1), Float(1)) }
    }

    /// C's expected values in Double (C0 added when accumulating) and Σ|terms|, for the tolerance.
    static func reference(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, a: [Float], lda: Int, b: [Float], ldb: Int,
                          c0: [Float], ldc: Int, accumulate: Bool) -> (values: [Double], magnitude: [Double]) {
        var values = [Double](repeating: 0, count: m * n), magnitude = values
        for i in 0 ..< m {
            for j in 0 ..< n {
                var s = accumulate ? Double(c0[i * ldc + j]) : 0, size = abs(s)
                for p in 0 ..< k {
                    let av = Double(transA ? a[p * lda + i] : a[i * lda + p])
                    let bv = Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                    s += av * bv
                    size += abs(av * bv)
                }
                values[i * n + j] = s
                magnitude[i * n + j] = size
            }
        }
        return (values, magnitude)
    }

    static func check(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, accumulate: Bool, threads: Int,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        // Padded leading dimensions: only what the plan names is read or written.
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
        let plan = try GemmPlan(m: m, n: n, k: k, transA: transA, transB: transB, lda: lda, ldb: ldb, ldc: ldc)
        guard PackedGemm.runs(plan, Float.self) else {
            #expect(!CPUFeatures.useAVX512, "no streamed product on an AVX-512 CPU", sourceLocation: sourceLocation)
            return
        }
        let a = random((transA ? k : m) * lda, seed: 51)
        let b = random((transB ? n : k) * ldb, seed: 52)
        let sentinel: Float = 12345
        // C's old values (read when accumulating; NaN-free garbage otherwise), the padding a sentinel.
        var c = random(m * ldc, seed: 53)
        for i in 0 ..< m { for j in n ..< ldc { c[i * ldc + j] = sentinel } }
        let c0 = c
        let wsCount = PackedGemm.workspaceCount(plan, threads: threads)
        var ws = [Float](repeating: .nan, count: wsCount + 16)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    ws.withUnsafeMutableBufferPointer { wp in
                        PackedGemm.run(plan: plan, a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!, accumulate: accumulate,
                                       threads: threads, workspace: wp.baseAddress!)
                    }
                }
            }
        }
        // The workspace past what it asked for is untouched.
        let untouched = ws[wsCount...].allSatisfy { $0.isNaN }
        #expect(untouched, sourceLocation: sourceLocation)
        let (want, size) = reference(m: m, n: n, k: k, transA: transA, transB: transB, a: a, lda: lda, b: b, ldb: ldb,
                                     c0: c0, ldc: ldc, accumulate: accumulate)
        var worst: (Int, Int, Float, Double)? = nil
        for i in 0 ..< m {
            for j in 0 ..< n {
                let got = c[i * ldc + j], w = want[i * n + j]
                if !(abs(Double(got) - w) <= 1e-6 * Double(k + 4) * size[i * n + j] + 1e-6) { worst = (i, j, got, w) }
            }
            for j in n ..< ldc where c[i * ldc + j] != sentinel { worst = (i, j, c[i * ldc + j], Double(sentinel)) }
        }
        #expect(worst == nil, "m=\(m) n=\(n) k=\(k) transA=\(transA) transB=\(transB) accumulate=\(accumulate) threads=\(threads): C[\(worst?.0 ?? -1), \(worst?.1 ?? -1)] = \(worst?.2 ?? 0), the loop gives \(worst?.3 ?? 0)",
                sourceLocation: sourceLocation)
    }

    /// All four layouts, β 0 and 1, one and two threads; sizes off the tile (8 rows), panel (32
    /// columns) and block (`kBlock` = 256 inner indices: 300 and 600 take two and three blocks).
    @Test(arguments: [(1, 1, 1), (7, 33, 100), (33, 7, 1), (100, 100, 33), (9, 64, 300), (64, 65, 600), (1, 70, 257),
                      (130, 20, 16), (17, 200, 7)])
    func equalsTheTripleLoop(shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        for transA in [false, true] {
            for transB in [false, true] {
                for accumulate in [false, true] {
                    for threads in [1, 2] {
                        try Self.check(m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate, threads: threads)
                    }
                }
            }
        }
    }

    /// The result does not depend on the thread count: each element is one chain over k.
    @Test func sameAtOneAndTwoThreads() throws {
        let (m, n, k) = (40, 96, 700)
        let plan = try GemmPlan(m: m, n: n, k: k, transA: true)
        guard PackedGemm.runs(plan, Float.self) else { return }
        let a = Self.random(k * m, seed: 61), b = Self.random(k * n, seed: 62)
        var results: [[Float]] = []
        for threads in [1, 2] {
            var c = [Float](repeating: 0, count: m * n)
            var ws = [Float](repeating: 0, count: PackedGemm.workspaceCount(plan, threads: threads))
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        ws.withUnsafeMutableBufferPointer {
                            PackedGemm.run(plan: plan, a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!, accumulate: false,
                                           threads: threads, workspace: $0.baseAddress!)
                        }
                    }
                }
            }
            results.append(c)
        }
        #expect(results[0] == results[1])
    }

    /// Two products by one packed op(B), with different A's and m, the second sharing the
    /// first's copy: one `pack` serves both, and packing new values changes both.
    @Test func sharedPackedCopy() throws {
        let (k, n) = (45, 70)
        let first = try GemmPlan(m: 5, n: n, k: k, transB: true), second = try GemmPlan(m: 19, n: n, k: k, transA: true, transB: true)
        guard let gemm = PackedGemm(plan: first, Float.self) else {
            #expect(!CPUFeatures.useAVX512)
            return
        }
        let other = try #require(PackedGemm(plan: second, sharing: gemm))
        let unshared = try GemmPlan(m: 5, n: n, k: k)
        #expect(PackedGemm(plan: unshared, sharing: gemm) == nil, "another layout of B")
        let a1 = Self.random(5 * k, seed: 71), a2 = Self.random(k * 19, seed: 72)
        for seed: UInt64 in [73, 74] {
            let b = Self.random(n * k, seed: seed)
            b.withUnsafeBufferPointer { gemm.pack(b: $0.baseAddress!, threads: 2) }
            for (plan, product, a) in [(first, gemm, a1), (second, other, a2)] {
                var c = Self.random(plan.m * n, seed: 75)
                let c0 = c
                a.withUnsafeBufferPointer { ap in
                    c.withUnsafeMutableBufferPointer { product.run(a: ap.baseAddress!, c: $0.baseAddress!, accumulate: true, threads: 2) }
                }
                let (want, size) = Self.reference(m: plan.m, n: n, k: k, transA: plan.transA, transB: true, a: a, lda: plan.lda,
                                                  b: b, ldb: k, c0: c0, ldc: n, accumulate: true)
                for e in 0 ..< plan.m * n {
                    #expect(abs(Double(c[e]) - want[e]) <= 1e-6 * Double(k + 4) * size[e] + 1e-6, "seed \(seed), m \(plan.m), element \(e)")
                }
            }
        }
    }
}
