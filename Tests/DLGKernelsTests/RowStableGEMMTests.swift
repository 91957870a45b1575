import Testing
@testable import DLGKernels

/// `GemmPlan.runRowStable`: every element is the chain s ← s + a·b in order of
/// the inner index, whatever the number of rows and threads.
@Suite struct RowStableGEMMTests {
    /// The chain written out, one element at a time, in T: what the kernel promises bit for bit.
    static func chain<T: KernelScalar>(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, a: [T], lda: Int,
                                       b: [T], ldb: Int, beta: T, c: [T], ldc: Int) -> [T] {
        var out = c
        for i in 0 ..< m {
            for j in 0 ..< n {
                var s = T(0)
                for p in 0 ..< k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    let product = av * bv
                    s = s + product
                }
                out[i * ldc + j] = beta == 0 ? s : s + beta * c[i * ldc + j]
            }
        }
        return out
    }

    static func random<T: KernelScalar>(_ count: Int, seed: UInt64, as _: T.Type) -> [T] {
        var rng = RandomStream(seed: seed)
        return (0 ..< count).map { _ in rng.uniform(T(-1), T(1)) }
    }

    static func run<T: KernelScalar>(_ plan: GemmPlan, _ a: [T], _ b: [T], _ c: [T], beta: T, threads: Int) -> [T] {
        var out = c
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { cp in
                    plan.runRowStable(a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!, beta: beta, threads: threads)
                }
            }
        }
        return out
    }

    static func check<T: KernelScalar>(_: T.Type, m: Int, n: Int, k: Int, transA: Bool, transB: Bool, beta: T,
                                       threads: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        // Padding on every leading dimension: the kernel must read and write only what it should.
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
        let plan = try GemmPlan(m: m, n: n, k: k, transA: transA, transB: transB, lda: lda, ldb: ldb, ldc: ldc)
        let a = random((transA ? k : m) * lda, seed: 11, as: T.self)
        let b = random((transB ? n : k) * ldb, seed: 12, as: T.self)
        let c = random(m * ldc, seed: 13, as: T.self)
        let want = chain(m: m, n: n, k: k, transA: transA, transB: transB, a: a, lda: lda, b: b, ldb: ldb,
                         beta: beta, c: c, ldc: ldc)
        let got = run(plan, a, b, c, beta: beta, threads: threads)
        // Bit for bit: equal values with equal signs (−0 is not +0).
        let bad = zip(got, want).enumerated().first(where: { $0.element.0 != $0.element.1 || $0.element.0.sign != $0.element.1.sign })
        #expect(bad == nil, "\(T.dtypeName) m=\(m) n=\(n) k=\(k) transA=\(transA) transB=\(transB) beta=\(beta) threads=\(threads): element \(bad?.offset ?? -1) is \(bad?.element.0 ?? 0), the chain gives \(bad?.element.1 ?? 0)",
                sourceLocation: sourceLocation)
    }

    /// Tiles of every kind: full 4×64, partial columns (n = 84, 10, 1), a row tail (m % 4), k = 0 and 1.
    @Test(arguments: [(4, 64, 7), (9, 84, 120), (5, 10, 400), (1, 130, 33), (3, 1, 5), (7, 17, 0), (12, 70, 1)])
    func equalsTheChainBitForBit(shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for threads in [1, 2] {
                try Self.check(Float.self, m: m, n: n, k: k, transA: ta, transB: tb, beta: 0, threads: threads)
                try Self.check(Double.self, m: m, n: n, k: k, transA: ta, transB: tb, beta: 0, threads: threads)
            }
        }
        try Self.check(Float.self, m: m, n: n, k: k, transA: false, transB: false, beta: 1, threads: 2)
        try Self.check(Float.self, m: m, n: n, k: k, transA: false, transB: true, beta: 0.5, threads: 2)
    }

    /// A row of C is the same computed alone, in any batch, on any number of threads — which the
    /// BLAS path does not promise (LeNet-5's dense layers gave other last bits at batch 1, 7 and 32).
    @Test func aRowDoesNotDependOnTheBatch() throws {
        let (n, k) = (120, 400)
        let weights = Self.random(k * n, seed: 21, as: Float.self)
        let rows = Self.random(37 * k, seed: 22, as: Float.self)
        let alone = try (0 ..< 37).map { i -> [Float] in
            let plan = try GemmPlan(m: 1, n: n, k: k)
            return Self.run(plan, Array(rows[i * k ..< (i + 1) * k]), weights, [Float](repeating: 0, count: n), beta: 0, threads: 1)
        }
        for m in [2, 5, 16, 33, 37] {
            for threads in [1, 2] {
                let plan = try GemmPlan(m: m, n: n, k: k)
                let c = Self.run(plan, Array(rows[0 ..< m * k]), weights, [Float](repeating: .nan, count: m * n), beta: 0, threads: threads)
                for i in 0 ..< m {
                    let d = firstDifference(c[i * n ..< (i + 1) * n], alone[i])
                    #expect(d == nil, "row \(i) of a batch of \(m) on \(threads) threads differs at column \(d ?? -1)")
                }
            }
        }
    }

    /// Against OpenBLAS (another implementation): the same product up to rounding.
    @Test func agreesWithBLAS() throws {
        let (m, n, k) = (19, 84, 120)
        let plan = try GemmPlan(m: m, n: n, k: k)
        let a = Self.random(m * k, seed: 31, as: Float.self), b = Self.random(k * n, seed: 32, as: Float.self)
        let mine = Self.run(plan, a, b, [Float](repeating: 0, count: m * n), beta: 0, threads: 2)
        var blas = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                blas.withUnsafeMutableBufferPointer { cp in
                    Float.blasGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: ap.baseAddress!, lda: k,
                                   b: bp.baseAddress!, ldb: n, beta: 0, c: cp.baseAddress!, ldc: n)
                }
            }
        }
        let worst = zip(mine, blas).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-5, "largest difference \(worst)")
    }
}

/// `Conv2D.forward(imageByImage:)` on the im2col path: an image's output is
/// the same alone or in a batch (LeNet-5's second convolution, 6 → 16
/// channels over 14×14 with 5×5 filters, gave other last bits at batch 1, 2
/// and 32 without it).
@Suite struct ImageByImageConvolutionTests {
    static func forward(n: Int, input: [Float], weight: [Float], bias: [Float], threads: Int) throws -> [Float] {
        let g = try Conv2DGeometry(n: n, c: 6, h: 14, w: 14, filters: 16, kernelH: 5, kernelW: 5)
        var out = [Float](repeating: .nan, count: n * 16 * 10 * 10)
        var ws = [Float](repeating: 0, count: Conv2D.workspaceCount(.forward, for: g, threads: threads, as: Float.self, algorithm: .im2col))
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { y in
                        ws.withUnsafeMutableBufferPointer { s in
                            Conv2D.forward(g, input: x.baseAddress!, weight: w.baseAddress!, bias: b.baseAddress!, epilogue: fn(.relu),
                                           output: y.baseAddress!, workspace: s, threads: threads, algorithm: .im2col,
                                           imageByImage: true)
                        }
                    }
                }
            }
        }
        return out
    }

    @Test func anImageDoesNotDependOnTheBatch() throws {
        let image = 6 * 14 * 14, result = 16 * 10 * 10
        let input = RowStableGEMMTests.random(9 * image, seed: 41, as: Float.self)
        let weight = RowStableGEMMTests.random(16 * 6 * 25, seed: 42, as: Float.self)
        let bias = RowStableGEMMTests.random(16, seed: 43, as: Float.self)
        let alone = try (0 ..< 9).map { i in
            try Self.forward(n: 1, input: Array(input[i * image ..< (i + 1) * image]), weight: weight, bias: bias, threads: 1)
        }
        for n in [2, 5, 9] {
            for threads in [1, 2] {
                let y = try Self.forward(n: n, input: Array(input[0 ..< n * image]), weight: weight, bias: bias, threads: threads)
                for i in 0 ..< n {
                    let d = firstDifference(y[i * result ..< (i + 1) * result], alone[i])
                    #expect(d == nil, "image \(i) of \(n) on \(threads) threads differs at element \(d ?? -1)")
                }
            }
        }
    }
}

/// The first position where two float sequences differ in their bits, or nil.
func firstDifference(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Int? {
    if a.count != b.count { return min(a.count, b.count) }
    return zip(a, b).enumerated().first(where: { $0.element.0.bitPattern != $0.element.1.bitPattern })?.offset
}
