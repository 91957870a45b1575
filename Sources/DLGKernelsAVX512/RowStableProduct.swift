// The AVX-512 tiles of DLGKernels' row-stable matrix product
// (`GemmPlan.runRowStable`): every element of C is the same chain of
// operations, wherever it sits in a tile and whatever the tile's size, so
// that a row's result depends on its row of A and on B alone, never on how
// many rows the product has or how they are split over threads.
//
// The chain for C[i, j] is s ← 0, then s ← s + A(i, κ)·B(κ, j) for
// κ = 0, 1, …, k − 1, the product and the sum each rounded (no fused
// multiply-add: DLGKernels' portable loop computes the same chain lane by
// lane, so the two give equal results), and finally C[i, j] ← s, or
// s + beta·C[i, j] when beta ≠ 0.

#if arch(x86_64)

public enum RowStableProduct {
    /// C[i, j] for rows `rows` and columns `columns` of C, with
    /// A(i, κ) = a[i·aRowStride + κ·aColumnStride] and
    /// B(κ, j) = b[κ·bRowStride + j·bColumnStride]: any of the four
    /// transpositions. B's columns are loaded 16 at a time, contiguously when
    /// `bColumnStride` is 1, element by element otherwise.
    public static func run(a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int,
                           b: UnsafePointer<Float>, bRowStride: Int, bColumnStride: Int, k: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rows: Range<Int>, columns: Range<Int>,
                           beta: Float) {
        let operands = Operands(a: a, aRowStride: aRowStride, aColumnStride: aColumnStride, b: b,
                                bRowStride: bRowStride, bColumnStride: bColumnStride, k: k, c: c, ldc: ldc, beta: beta)
        var i = rows.lowerBound
        while i < rows.upperBound {
            let height = min(4, rows.upperBound - i)
            var j = columns.lowerBound
            if height == 4 {
                while j + 64 <= columns.upperBound {
                    operands.tile4x64(row: i, column: j)
                    j += 64
                }
            }
            while j < columns.upperBound {
                let width = min(16, columns.upperBound - j)
                operands.column(row: i, height: height, column: j, width: width)
                j += 16
            }
            i += height
        }
    }

    struct Operands {
        let a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int
        let b: UnsafePointer<Float>, bRowStride: Int, bColumnStride: Int, k: Int
        let c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float

        /// B(κ, j ..< j + width) in the first `width` lanes, zeros after.
        @inline(__always)
        func loadB(_ p: UnsafePointer<Float>, width: Int) -> Vector16 {
            if bColumnStride == 1 {
                if width == 16 { return load(p) }
                var v = Vector16()
                for l in 0 ..< width { v[l] = p[l] }
                return v
            }
            var v = Vector16()
            var q = p
            for l in 0 ..< width {
                v[l] = q[0]
                q += bColumnStride
            }
            return v
        }

        /// C[i, j ..< j + width] ← s (or s + beta·C).
        @inline(__always)
        func finish(_ s: Vector16, _ p: UnsafeMutablePointer<Float>, width: Int) {
            if width == 16 {
                store(beta == 0 ? s : s + Vector16(repeating: beta) * load(p), p)
                return
            }
            for l in 0 ..< width { p[l] = beta == 0 ? s[l] : s[l] + beta * p[l] }
        }

        /// Rows i ..< i + 4, columns j ..< j + 64: sixteen accumulators.
        @inline(never)
        func tile4x64(row i: Int, column j: Int) {
            var s00 = Vector16(), s01 = Vector16(), s02 = Vector16(), s03 = Vector16()
            var s10 = Vector16(), s11 = Vector16(), s12 = Vector16(), s13 = Vector16()
            var s20 = Vector16(), s21 = Vector16(), s22 = Vector16(), s23 = Vector16()
            var s30 = Vector16(), s31 = Vector16(), s32 = Vector16(), s33 = Vector16()
            var pa = a + i &* aRowStride
            var pb = b + j &* bColumnStride
            let column16 = 16 &* bColumnStride
            for _ in 0 ..< k {
                let b0 = loadB(pb, width: 16), b1 = loadB(pb + column16, width: 16)
                let b2 = loadB(pb + 2 &* column16, width: 16), b3 = loadB(pb + 3 &* column16, width: 16)
                var x = Vector16(repeating: pa[0])
                s00 = s00 + x * b0; s01 = s01 + x * b1; s02 = s02 + x * b2; s03 = s03 + x * b3
                x = Vector16(repeating: pa[aRowStride])
                s10 = s10 + x * b0; s11 = s11 + x * b1; s12 = s12 + x * b2; s13 = s13 + x * b3
                x = Vector16(repeating: pa[2 &* aRowStride])
                s20 = s20 + x * b0; s21 = s21 + x * b1; s22 = s22 + x * b2; s23 = s23 + x * b3
                x = Vector16(repeating: pa[3 &* aRowStride])
                s30 = s30 + x * b0; s31 = s31 + x * b1; s32 = s32 + x * b2; s33 = s33 + x * b3
                pa += aColumnStride
                pb += bRowStride
            }
            var o = c + i &* ldc + j
            finish(s00, o, width: 16); finish(s01, o + 16, width: 16); finish(s02, o + 32, width: 16); finish(s03, o + 48, width: 16)
            o += ldc
            finish(s10, o, width: 16); finish(s11, o + 16, width: 16); finish(s12, o + 32, width: 16); finish(s13, o + 48, width: 16)
            o += ldc
            finish(s20, o, width: 16); finish(s21, o + 16, width: 16); finish(s22, o + 32, width: 16); finish(s23, o + 48, width: 16)
            o += ldc
            finish(s30, o, width: 16); finish(s31, o + 16, width: 16); finish(s32, o + 32, width: 16); finish(s33, o + 48, width: 16)
        }

        /// Rows i ..< i + height (at most 4), columns j ..< j + width (at most
        /// 16): one accumulator per row. Rows past `height` repeat row i and
        /// are not stored.
        @inline(never)
        func column(row i: Int, height: Int, column j: Int, width: Int) {
            var s0 = Vector16(), s1 = Vector16(), s2 = Vector16(), s3 = Vector16()
            let r1 = height > 1 ? aRowStride : 0, r2 = height > 2 ? 2 &* aRowStride : 0
            let r3 = height > 3 ? 3 &* aRowStride : 0
            var pa = a + i &* aRowStride
            var pb = b + j &* bColumnStride
            for _ in 0 ..< k {
                let bv = loadB(pb, width: width)
                s0 = s0 + Vector16(repeating: pa[0]) * bv
                s1 = s1 + Vector16(repeating: pa[r1]) * bv
                s2 = s2 + Vector16(repeating: pa[r2]) * bv
                s3 = s3 + Vector16(repeating: pa[r3]) * bv
                pa += aColumnStride
                pb += bRowStride
            }
            let o = c + i &* ldc + j
            finish(s0, o, width: width)
            if height > 1 { finish(s1, o + ldc, width: width) }
            if height > 2 { finish(s2, o + 2 &* ldc, width: width) }
            if height > 3 { finish(s3, o + 3 &* ldc, width: width) }
        }
    }
}

#endif
