import Testing
@testable import DLGKernels

extension DenseKernelTests {
    @Suite struct GEMMTests {
        /// Row-major C = alpha·op(A)·op(B) + beta·C by the triple loop, in Double.
        static func naiveGemm(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Double,
                              a: [Double], lda: Int, b: [Double], ldb: Int, beta: Double,
                              c: [Double], ldc: Int) -> [Double] {
            var out = c
            for i in 0 ..< m {
                for j in 0 ..< n {
                    var s = 0.0
                    for p in 0 ..< k {
                        let av = transA ? a[p * lda + i] : a[i * lda + p]
                        let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                        s += av * bv
                    }
                    out[i * ldc + j] = alpha * s + beta * c[i * ldc + j]
                }
            }
            return out
        }

        static func random<T: KernelScalar>(_ count: Int, seed: UInt64, as _: T.Type) -> [T] {
            var rng = RandomStream(seed: seed)
            return (0 ..< count).map { _ in rng.uniform(T(-1), T(1)) }
        }

        static func expectClose<T: KernelScalar>(_ got: [T], _ want: [Double], tolerance: Double, _ what: String,
                                                 sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(got.count == want.count, "\(what): count", sourceLocation: sourceLocation)
            let scale = max(want.map { abs($0) }.max() ?? 0, 1e-30)
            var worst = 0.0, at = -1
            for i in 0 ..< min(got.count, want.count) {
                let err = abs(Double(got[i]) - want[i])
                if err.isNaN || err > worst { worst = err; at = i }
            }
            #expect(worst <= tolerance * scale, "\(what): max error \(worst) at \(at), scale \(scale)",
                    sourceLocation: sourceLocation)
        }

        static func tolerance<T: KernelScalar>(_: T.Type) -> Double { T.self == Float.self ? 1e-5 : 1e-12 }

        /// One GEMM through the plan against the triple loop; C has padding
        /// columns (ldc > n) which must keep their values.
        static func check<T: KernelScalar>(_: T.Type, m: Int, n: Int, k: Int, transA: Bool, transB: Bool,
                                           padA: Int, padB: Int, padC: Int, alpha: T, beta: T, threads: Int = 2,
                                           workspace: Bool = false,
                                           sourceLocation: SourceLocation = #_sourceLocation) throws {
            let lda = (transA ? m : k) + padA, ldb = (transB ? k : n) + padB, ldc = n + padC
            let plan = try GemmPlan(m: m, n: n, k: k, transA: transA, transB: transB, lda: lda, ldb: ldb, ldc: ldc)
            let a = random((transA ? k : m) * lda, seed: 1, as: T.self)
            let b = random((transB ? n : k) * ldb, seed: 2, as: T.self)
            var c = random(m * ldc, seed: 3, as: T.self)
            let want = naiveGemm(m: m, n: n, k: k, transA: transA, transB: transB, alpha: Double(alpha),
                                 a: a.map(Double.init), lda: lda, b: b.map(Double.init), ldb: ldb, beta: Double(beta),
                                 c: c.map(Double.init), ldc: ldc)
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        var ws = [T](repeating: .nan, count: workspace ? plan.workspaceCount(threads: threads) : 0)
                        ws.withUnsafeMutableBufferPointer { wp in
                            plan.run(a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!, alpha: alpha, beta: beta,
                                     threads: threads, workspace: workspace ? wp : nil)
                        }
                    }
                }
            }
            expectClose(c, want, tolerance: tolerance(T.self), "\(plan), \(threads) threads\(workspace ? ", workspace" : "")",
                        sourceLocation: sourceLocation)
        }

        /// 2×2 by hand: [[1,2],[3,4]]·[[5,6],[7,8]] = [[1·5+2·7, 1·6+2·8], [3·5+4·7, 3·6+4·8]] = [[19,22],[43,50]].
        @Test func handWorkedProduct() throws {
            let plan = try GemmPlan(m: 2, n: 2, k: 2)
            let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
            var c = [Float](repeating: .nan, count: 4)
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in plan.run(a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!) }
                }
            }
            #expect(c == [19, 22, 43, 50])
        }

        @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
        func allTransposeCombinationsMatchTripleLoop(transA: Bool, transB: Bool) throws {
            for (m, n, k) in [(5, 7, 3), (13, 4, 17), (1, 9, 6), (8, 1, 5), (33, 20, 18)] {
                try Self.check(Float.self, m: m, n: n, k: k, transA: transA, transB: transB,
                               padA: 0, padB: 0, padC: 0, alpha: 1, beta: 0)
                try Self.check(Double.self, m: m, n: n, k: k, transA: transA, transB: transB,
                               padA: 0, padB: 0, padC: 0, alpha: 1, beta: 0)
                // Leading dimensions larger than the rows, alpha and beta not 0/1.
                try Self.check(Float.self, m: m, n: n, k: k, transA: transA, transB: transB,
                               padA: 3, padB: 2, padC: 5, alpha: 0.75, beta: -0.5)
                try Self.check(Double.self, m: m, n: n, k: k, transA: transA, transB: transB,
                               padA: 1, padB: 4, padC: 2, alpha: -1.25, beta: 2)
            }
        }

        /// Products big enough to split over threads: along C's columns when it
        /// is wider than tall, along its rows otherwise, along the inner
        /// dimension when it is at least 4·m long and the workspace holds the
        /// partial products (along columns or rows without it); in blocks of 16
        /// with a short last one; every transpose, padded leading dimensions
        /// (the padding columns of C keep their values), 2 and 3 threads.
        @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
        func splitProductsMatchTripleLoop(transA: Bool, transB: Bool) throws {
            let cases: [(Int, Int, Int, Int, GemmPlan.SplitAxis, Int)] = [
                (37, 100, 40, 2, .columns, 2), (100, 37, 40, 2, .rows, 2),
                (45, 130, 64, 3, .columns, 3), (130, 45, 64, 3, .rows, 3),
                (20, 50, 200, 2, .inner, 2), (33, 17, 300, 3, .inner, 3),
            ]
            // A row times a matrix splits along B's stored rows: k for B, n for Bᵀ.
            let vector: (Int, Int, Int, Int, GemmPlan.SplitAxis, Int) = (1, 512, 784, 2, transB ? .columns : .inner, 2)
            for (m, n, k, threads, along, parts) in cases + [vector] {
                let plan = try GemmPlan(m: m, n: n, k: k, transA: transA, transB: transB)
                #expect(plan.split(threads: threads) == (along, parts), "\(plan)")
                #expect(plan.workspaceCount(threads: threads) == (along == .inner ? (parts - 1) * m * n : 0))
                for workspace in along == .inner ? [true, false] : [false] {
                    try Self.check(Float.self, m: m, n: n, k: k, transA: transA, transB: transB,
                                   padA: 3, padB: 2, padC: 5, alpha: 0.75, beta: -0.5, threads: threads, workspace: workspace)
                    try Self.check(Double.self, m: m, n: n, k: k, transA: transA, transB: transB,
                                   padA: 0, padB: 0, padC: 0, alpha: 1, beta: 0, threads: threads, workspace: workspace)
                }
            }
        }

        /// Below 2¹⁶ multiply-adds per thread, and for a matrix times a column, a product runs whole.
        @Test func smallAndColumnProductsAreNotSplit() throws {
            // 33·20·18 = 11,880 multiply-adds; 16·16·256 = 65,536 is one thread's share, 16·32·256 two.
            #expect(try GemmPlan(m: 33, n: 20, k: 18).split(threads: 2).parts == 1)
            #expect(try GemmPlan(m: 16, n: 16, k: 256).split(threads: 2).parts == 1)
            #expect(try GemmPlan(m: 16, n: 32, k: 256).split(threads: 2) == (.inner, 2))
            #expect(try GemmPlan(m: 16, n: 32, k: 256).split(threads: 2, inner: false) == (.columns, 2))
            #expect(try GemmPlan(m: 1, n: 256, k: 200).split(threads: 2).parts == 1)
            #expect(try GemmPlan(m: 784, n: 1, k: 512).split(threads: 2).parts == 1)
            #expect(try GemmPlan(m: 1, n: 512, k: 784).split(threads: 2, inner: false) == (.columns, 2))
            #expect(try GemmPlan(m: 128, n: 512, k: 784).split(threads: 1).parts == 1)
            // The MLP's layers at batch 128: the forward products along k, the weight gradient along rows.
            #expect(try GemmPlan(m: 128, n: 512, k: 784).split(threads: 2) == (.inner, 2))
            #expect(try GemmPlan(m: 784, n: 512, k: 128, transA: true).split(threads: 2) == (.rows, 2))
        }

        /// One row or one column runs through gemv (a row split over 2 threads
        /// along C's columns, no workspace being given): a
        /// batch-1 dense layer (784×512), every transpose, and
        /// with beta = 0 a NaN already in C must not reach the result.
        @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
        func vectorProductsMatchTripleLoopAndIgnoreOldC(transA: Bool, transB: Bool) throws {
            for (m, n, k) in [(1, 512, 784), (784, 1, 512), (1, 1, 300)] {
                try Self.check(Float.self, m: m, n: n, k: k, transA: transA, transB: transB,
                               padA: 0, padB: 0, padC: 0, alpha: 1, beta: 0)
                try Self.check(Float.self, m: m, n: n, k: k, transA: transA, transB: transB,
                               padA: 2, padB: 3, padC: 4, alpha: 0.5, beta: 1.5)
                let plan = try GemmPlan(m: m, n: n, k: k, transA: transA, transB: transB)
                let a = Self.random(m * k, seed: 4, as: Float.self), b = Self.random(k * n, seed: 5, as: Float.self)
                var c = [Float](repeating: .nan, count: m * n)
                let want = Self.naiveGemm(m: m, n: n, k: k, transA: transA, transB: transB, alpha: 1,
                                          a: a.map(Double.init), lda: plan.lda, b: b.map(Double.init), ldb: plan.ldb,
                                          beta: 0, c: [Double](repeating: 0, count: m * n), ldc: plan.ldc)
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            plan.run(a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!, threads: 2)
                        }
                    }
                }
                Self.expectClose(c, want, tolerance: 1e-5, "\(plan) over NaN")
            }
        }

        /// k = 0: the product is empty, so C ← beta·C; with beta = 0 even a NaN in C becomes 0.
        @Test func emptyInnerDimensionScalesC() throws {
            let plan = try GemmPlan(m: 2, n: 3, k: 0)
            let a: [Double] = [0], b: [Double] = [0]
            var c: [Double] = [1, 2, 3, 4, 5, .nan]
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        plan.run(a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!, beta: 2)
                    }
                }
            }
            #expect(Array(c[0 ..< 5]) == [2, 4, 6, 8, 10])
            c.withUnsafeMutableBufferPointer { cp in
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        plan.run(a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!, beta: 0)
                    }
                }
            }
            #expect(c == [0, 0, 0, 0, 0, 0])
        }

        @Test func invalidShapesAreErrorsNamingTheNumbers() {
            #expect(throws: KernelGeometryError.self) { try GemmPlan(m: -1, n: 2, k: 2) }
            do {
                _ = try GemmPlan(m: 4, n: 5, k: 6, lda: 5)
                Issue.record("lda 5 < k 6 was accepted")
            } catch {
                #expect(error.message.contains("lda = 5"))
                #expect(error.message.contains("6"))
            }
            // Transposed A is stored k×m: its rows hold m = 4 elements, so lda = 5 is fine there.
            #expect(throws: Never.self) { try GemmPlan(m: 4, n: 5, k: 6, transA: true, lda: 5) }
            #expect(throws: KernelGeometryError.self) { try GemmPlan(m: 4, n: 5, k: 6, transB: true, ldb: 5) }
            #expect(throws: KernelGeometryError.self) { try GemmPlan(m: 4, n: 5, k: 6, ldc: 4) }
            #expect(throws: KernelGeometryError.self) { try GemmPlan(m: 1 << 31, n: 1, k: 1) }
        }

        /// The counts a caller must provide: A 3×4 with lda 6 spans 2·6 + 4 = 16 elements.
        @Test func spansOfStoredMatrices() throws {
            let plan = try GemmPlan(m: 3, n: 2, k: 4, lda: 6, ldc: 5)
            #expect(plan.aCount == 16)
            #expect(plan.bCount == 8)          // tight 4×2
            #expect(plan.cCount == 2 * 5 + 2)
            #expect(plan.flops == 2 * 3 * 2 * 4)
        }

        /// Batched: 5 GEMMs at element strides, with B broadcast (stride 0),
        /// against the triple loop per item, with 1 and 2 threads.
        @Test(arguments: [1, 2])
        func batchedMatchesPerItemTripleLoop(threads: Int) throws {
            let (m, n, k, batch) = (4, 6, 5, 5)
            let gemm = try GemmPlan(m: m, n: n, k: k, transB: true)
            let batched = try BatchedGemmPlan(gemm, batch: batch, strideA: m * k + 3, strideB: 0, strideC: m * n + 1)
            let a = Self.random(batched.aCount, seed: 4, as: Double.self)
            let b = Self.random(gemm.bCount, seed: 5, as: Double.self)
            var c = Self.random(batched.cCount, seed: 6, as: Double.self)
            var want = c
            for i in 0 ..< batch {
                let item = Self.naiveGemm(m: m, n: n, k: k, transA: false, transB: true, alpha: 0.5,
                                          a: Array(a[(i * (m * k + 3))...]), lda: k, b: b, ldb: k, beta: 1.5,
                                          c: Array(c[(i * (m * n + 1)) ..< (i * (m * n + 1) + m * n)]), ldc: n)
                want.replaceSubrange((i * (m * n + 1)) ..< (i * (m * n + 1) + m * n), with: item)
            }
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        batched.run(a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!, alpha: 0.5, beta: 1.5,
                                    threads: threads)
                    }
                }
            }
            Self.expectClose(c, want, tolerance: 1e-12, "batched, threads \(threads)")
        }

        @Test func batchedRejectsOverlappingOutputs() throws {
            let gemm = try GemmPlan(m: 3, n: 3, k: 2)
            #expect(throws: KernelGeometryError.self) { try BatchedGemmPlan(gemm, batch: 2, strideC: 8) }
            #expect(throws: KernelGeometryError.self) { try BatchedGemmPlan(gemm, batch: -1) }
            // A single item may use any stride.
            #expect(throws: Never.self) { try BatchedGemmPlan(gemm, batch: 1, strideC: 0) }
            let dense = try BatchedGemmPlan(gemm, batch: 4)
            #expect(dense.strideA == 6 && dense.strideB == 6 && dense.strideC == 9)
        }
    }
}
