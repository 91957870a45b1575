#if arch(x86_64)
import DLGKernelsAVX512
#endif

extension GemmPlan {
    /// C ← op(A)·op(B) + beta·C with every element of C computed by the same
    /// chain of operations whatever m is and however the product is split
    /// over threads:
    ///
    ///     s ← 0;  s ← s + op(A)[i, κ]·op(B)[κ, j]  for κ = 0, 1, …, k − 1;  C[i, j] ← s + beta·C[i, j]
    ///
    /// each product and each sum rounded (no fused multiply-add), and
    /// C[i, j] ← s exactly when beta = 0. A row of C therefore depends on its
    /// row of op(A) and on op(B) only: an example gets the same result alone
    /// or in a batch of any size, which `run` does not promise (it multiplies
    /// a row by gemv, splits the inner dimension over threads and adds the
    /// partial products, and OpenBLAS itself picks other kernels, summing in
    /// another order, for small products). Inference programs lowered
    /// batch-invariant (`dlg run`, `dlg serve`) take this path.
    ///
    /// The work is cut into tiles of 4 rows × 64 columns, spread over
    /// `threads` threads; f32 on AVX-512 CPUs runs the tiles of
    /// `RowStableProduct` (DLGKernelsAVX512), everything else a portable loop
    /// with the same chain. C must not overlap A or B.
    @inlinable
    public func runRowStable<T: KernelScalar>(a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>,
                                              beta: T = 0, threads: Int = Threads.count) {
        if m == 0 || n == 0 { return }
        let rowBlocks = (m + 3) / 4, panels = (n + 63) / 64
        let units = rowBlocks * panels
        let perUnit = 4 * 64 * Swift.max(k, 1)
        let plan = self
        Threads.parallelFor(0 ..< units, threads: threads, minChunk: (Self.splitWork + perUnit - 1) / perUnit) { range in
            for u in range {
                let r0 = (u / panels) * 4, c0 = (u % panels) * 64
                plan.rowStableTile(a: a, b: b, c: c, beta: beta, rows: r0 ..< Swift.min(r0 + 4, plan.m),
                                   columns: c0 ..< Swift.min(c0 + 64, plan.n))
            }
        }
    }

    /// One tile of `runRowStable`.
    @inlinable
    func rowStableTile<T: KernelScalar>(a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>, beta: T,
                                        rows: Range<Int>, columns: Range<Int>) {
        // A(i, κ) = a[i·ra + κ·ca], B(κ, j) = b[κ·rb + j·cb].
        let (ra, ca) = transA ? (1, lda) : (lda, 1)
        let (rb, cb) = transB ? (1, ldb) : (ldb, 1)
        #if arch(x86_64)
        if usesAVX512(T.self) {
            RowStableProduct.run(a: f32(a), aRowStride: ra, aColumnStride: ca, b: f32(b), bRowStride: rb,
                                 bColumnStride: cb, k: k, c: f32(c), ldc: ldc, rows: rows, columns: columns,
                                 beta: Float(beta))
            return
        }
        #endif
        for i in rows {
            var j = columns.lowerBound
            while j < columns.upperBound {
                let width = Swift.min(16, columns.upperBound - j)
                var s = SIMD16<T>()
                var pa = a + i * ra, pb = b + j * cb
                for _ in 0 ..< k {
                    var v = SIMD16<T>()
                    if cb == 1 && width == 16 {
                        v = SIMDMath.load(pb)
                    } else {
                        for l in 0 ..< width { v[l] = pb[l * cb] }
                    }
                    s = s + SIMD16(repeating: pa[0]) * v
                    pa += ca
                    pb += rb
                }
                let out = c + i * ldc + j
                for l in 0 ..< width { out[l] = beta == 0 ? s[l] : s[l] + beta * out[l] }
                j += 16
            }
        }
    }
}
