// The inner loops of the implicit-GEMM convolution (DLGKernels' ConvImplicit):
// matrix products whose right-hand operand is one buffer read at shifted
// offsets, one offset per reduction index. This module alone is compiled for
// AVX-512 (Package.swift); its functions may only run on a CPU that has
// AVX-512 F, BW, DQ and VL, which DLGKernels' `CPUFeatures` checks before
// calling them. Nothing here is `@inlinable`: inlined into another module the
// loops would be compiled for that module's baseline instruction set.
//
// A `SIMD16<Float>` is one zmm register here. The two product tiles keep 24
// accumulators, three or four loaded vectors and one broadcast weight in the
// 32 registers, with no spills (checked in the assembly when they were
// written: no stack traffic inside the loops).

#if arch(x86_64)

public typealias Vector16 = SIMD16<Float>

@inline(__always)
func load(_ p: UnsafePointer<Float>) -> Vector16 {
    UnsafeRawPointer(p).loadUnaligned(as: Vector16.self)
}

@inline(__always)
func store(_ v: Vector16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector16.self)
}

/// Products `C = A · B` where B's row `t` is the buffer `b` read from
/// `offsets[t]` on:
///
///     c[r·ldc + p] = Σ_{t < k} a[t·lda + r] · b[offsets[t] + p]      (r < m)
///
/// A is stored transposed (`lda` ≥ m elements per reduction index, so that
/// the `m` weights of one index are adjacent). Positions `p` run over whole
/// tiles of `tileWidth(rows:)` from `positions.lowerBound`
/// (which must be a multiple of it) up to the first tile end at or past
/// `positions.upperBound`: the caller provides readable `b` and writable `c`
/// up to there. Rows are taken `rowsPerTile` (8 or 6) at a time; A must hold
/// zeros in columns `m ..< roundUp(m, rowsPerTile)` up to `lda`, and `c` is
/// written for rows `< m` only.
public enum ShiftedProduct {
    /// The positions one tile covers: 48 with 8 rows (3 vectors), 64 with 6 rows (4 vectors).
    public static func tileWidth(rows: Int) -> Int { rows == 6 ? 64 : 48 }

    public static func run(a: UnsafePointer<Float>, lda: Int, m: Int, rowsPerTile: Int,
                           offsets: UnsafePointer<Int>, k: Int, b: UnsafePointer<Float>,
                           positions: Range<Int>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let width = tileWidth(rows: rowsPerTile)
        var p = positions.lowerBound
        while p < positions.upperBound {
            var r = 0
            while r < m {
                if rowsPerTile == 6 {
                    tile6x4(a + r, lda: lda, offsets: offsets, k: k, b: b + p, c: c + r &* ldc + p, ldc: ldc,
                            rows: min(6, m - r))
                } else {
                    tile8x3(a + r, lda: lda, offsets: offsets, k: k, b: b + p, c: c + r &* ldc + p, ldc: ldc,
                            rows: min(8, m - r))
                }
                r += rowsPerTile
            }
            p += width
        }
    }

    @inline(never)
    static func tile8x3(_ a: UnsafePointer<Float>, lda: Int, offsets: UnsafePointer<Int>, k: Int,
                        b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int) {
        var c00 = Vector16(), c01 = Vector16(), c02 = Vector16()
        var c10 = Vector16(), c11 = Vector16(), c12 = Vector16()
        var c20 = Vector16(), c21 = Vector16(), c22 = Vector16()
        var c30 = Vector16(), c31 = Vector16(), c32 = Vector16()
        var c40 = Vector16(), c41 = Vector16(), c42 = Vector16()
        var c50 = Vector16(), c51 = Vector16(), c52 = Vector16()
        var c60 = Vector16(), c61 = Vector16(), c62 = Vector16()
        var c70 = Vector16(), c71 = Vector16(), c72 = Vector16()
        var w = a
        var t = 0
        while t < k {
            let s = b + offsets[t]
            let b0 = load(s), b1 = load(s + 16), b2 = load(s + 32)
            var x = Vector16(repeating: w[0])
            c00.addProduct(x, b0); c01.addProduct(x, b1); c02.addProduct(x, b2)
            x = Vector16(repeating: w[1])
            c10.addProduct(x, b0); c11.addProduct(x, b1); c12.addProduct(x, b2)
            x = Vector16(repeating: w[2])
            c20.addProduct(x, b0); c21.addProduct(x, b1); c22.addProduct(x, b2)
            x = Vector16(repeating: w[3])
            c30.addProduct(x, b0); c31.addProduct(x, b1); c32.addProduct(x, b2)
            x = Vector16(repeating: w[4])
            c40.addProduct(x, b0); c41.addProduct(x, b1); c42.addProduct(x, b2)
            x = Vector16(repeating: w[5])
            c50.addProduct(x, b0); c51.addProduct(x, b1); c52.addProduct(x, b2)
            x = Vector16(repeating: w[6])
            c60.addProduct(x, b0); c61.addProduct(x, b1); c62.addProduct(x, b2)
            x = Vector16(repeating: w[7])
            c70.addProduct(x, b0); c71.addProduct(x, b1); c72.addProduct(x, b2)
            w += lda
            t &+= 1
        }
        var o = c
        store(c00, o); store(c01, o + 16); store(c02, o + 32)
        if rows < 2 { return }
        o += ldc; store(c10, o); store(c11, o + 16); store(c12, o + 32)
        if rows < 3 { return }
        o += ldc; store(c20, o); store(c21, o + 16); store(c22, o + 32)
        if rows < 4 { return }
        o += ldc; store(c30, o); store(c31, o + 16); store(c32, o + 32)
        if rows < 5 { return }
        o += ldc; store(c40, o); store(c41, o + 16); store(c42, o + 32)
        if rows < 6 { return }
        o += ldc; store(c50, o); store(c51, o + 16); store(c52, o + 32)
        if rows < 7 { return }
        o += ldc; store(c60, o); store(c61, o + 16); store(c62, o + 32)
        if rows < 8 { return }
        o += ldc; store(c70, o); store(c71, o + 16); store(c72, o + 32)
    }

    @inline(never)
    static func tile6x4(_ a: UnsafePointer<Float>, lda: Int, offsets: UnsafePointer<Int>, k: Int,
                        b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int) {
        var c00 = Vector16(), c01 = Vector16(), c02 = Vector16(), c03 = Vector16()
        var c10 = Vector16(), c11 = Vector16(), c12 = Vector16(), c13 = Vector16()
        var c20 = Vector16(), c21 = Vector16(), c22 = Vector16(), c23 = Vector16()
        var c30 = Vector16(), c31 = Vector16(), c32 = Vector16(), c33 = Vector16()
        var c40 = Vector16(), c41 = Vector16(), c42 = Vector16(), c43 = Vector16()
        var c50 = Vector16(), c51 = Vector16(), c52 = Vector16(), c53 = Vector16()
        var w = a
        var t = 0
        while t < k {
            let s = b + offsets[t]
            let b0 = load(s), b1 = load(s + 16), b2 = load(s + 32), b3 = load(s + 48)
            var x = Vector16(repeating: w[0])
            c00.addProduct(x, b0); c01.addProduct(x, b1); c02.addProduct(x, b2); c03.addProduct(x, b3)
            x = Vector16(repeating: w[1])
            c10.addProduct(x, b0); c11.addProduct(x, b1); c12.addProduct(x, b2); c13.addProduct(x, b3)
            x = Vector16(repeating: w[2])
            c20.addProduct(x, b0); c21.addProduct(x, b1); c22.addProduct(x, b2); c23.addProduct(x, b3)
            x = Vector16(repeating: w[3])
            c30.addProduct(x, b0); c31.addProduct(x, b1); c32.addProduct(x, b2); c33.addProduct(x, b3)
            x = Vector16(repeating: w[4])
            c40.addProduct(x, b0); c41.addProduct(x, b1); c42.addProduct(x, b2); c43.addProduct(x, b3)
            x = Vector16(repeating: w[5])
            c50.addProduct(x, b0); c51.addProduct(x, b1); c52.addProduct(x, b2); c53.addProduct(x, b3)
            w += lda
            t &+= 1
        }
        var o = c
        store(c00, o); store(c01, o + 16); store(c02, o + 32); store(c03, o + 48)
        if rows < 2 { return }
        o += ldc; store(c10, o); store(c11, o + 16); store(c12, o + 32); store(c13, o + 48)
        if rows < 3 { return }
        o += ldc; store(c20, o); store(c21, o + 16); store(c22, o + 32); store(c23, o + 48)
        if rows < 4 { return }
        o += ldc; store(c30, o); store(c31, o + 16); store(c32, o + 32); store(c33, o + 48)
        if rows < 5 { return }
        o += ldc; store(c40, o); store(c41, o + 16); store(c42, o + 32); store(c43, o + 48)
        if rows < 6 { return }
        o += ldc; store(c50, o); store(c51, o + 16); store(c52, o + 32); store(c53, o + 48)
    }
}

/// Correlations of rows with a buffer read at shifted offsets — the weight
/// gradient of the implicit-GEMM convolution:
///
///     out[r·ldo + t] (+)= Σ_{p < count} rows[r·ldr + p] · b[offsets[t] + p]
///
/// for rows `r` in `rowRange` and taps `t` in `taps`; `count` must be a
/// multiple of 16. Tiles of 4 rows × 6 taps or 6 rows × 4 taps
/// (`tapsPerTile(rows:taps:)`); a partial tile repeats its last row or tap
/// (reading valid memory) and discards those sums.
public enum ShiftedCorrelation {
    /// Taps per tile for `m` rows and `taps` taps: 6 (tiles of 4 rows × 6
    /// taps), or 4 (6 rows × 4 taps) when that computes fewer padded sums
    /// (6 rows: 6 × 28 instead of 8 × 30 for LeNet-5's first layer).
    public static func tapsPerTile(rows m: Int, taps: Int) -> Int {
        func up(_ x: Int, _ k: Int) -> Int { (x + k - 1) / k * k }
        return up(m, 6) * up(taps, 4) < up(m, 4) * up(taps, 6) ? 4 : 6
    }

    public static func run(rows: UnsafePointer<Float>, ldr: Int, rowRange: Range<Int>,
                           offsets: UnsafePointer<Int>, taps: Range<Int>, tapsPerTile: Int, b: UnsafePointer<Float>,
                           count: Int, out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        precondition(count % 16 == 0, "ShiftedCorrelation: count \(count) is not a multiple of 16")
        if tapsPerTile == 4 {
            runSixRows(rows: rows, ldr: ldr, rowRange: rowRange, offsets: offsets, taps: taps, b: b, count: count,
                       out: out, ldo: ldo, accumulate: accumulate)
            return
        }
        var r = rowRange.lowerBound
        while r < rowRange.upperBound {
            let nr = min(4, rowRange.upperBound - r)
            let r0 = rows + r &* ldr
            let r1 = rows + (r + min(1, nr - 1)) &* ldr
            let r2 = rows + (r + min(2, nr - 1)) &* ldr
            let r3 = rows + (r + min(3, nr - 1)) &* ldr
            var t = taps.lowerBound
            while t < taps.upperBound {
                let nt = min(6, taps.upperBound - t)
                var sums = Sums4x6()
                tile4x6(r0, r1, r2, r3,
                        b + offsets[t], b + offsets[t + min(1, nt - 1)], b + offsets[t + min(2, nt - 1)],
                        b + offsets[t + min(3, nt - 1)], b + offsets[t + min(4, nt - 1)], b + offsets[t + min(5, nt - 1)],
                        count: count, into: &sums)
                for i in 0 ..< nr {
                    let o = out + (r + i) &* ldo + t
                    for j in 0 ..< nt {
                        let s = sums[i, j]
                        o[j] = accumulate ? o[j] + s : s
                    }
                }
                t += 6
            }
            r += 4
        }
    }

    /// Tiles of 6 rows × 4 taps: the 4×6 tile with the roles of rows and
    /// taps exchanged (its products and sums are the same either way round).
    static func runSixRows(rows: UnsafePointer<Float>, ldr: Int, rowRange: Range<Int>, offsets: UnsafePointer<Int>,
                           taps: Range<Int>, b: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>,
                           ldo: Int, accumulate: Bool) {
        var r = rowRange.lowerBound
        while r < rowRange.upperBound {
            let nr = min(6, rowRange.upperBound - r)
            func row(_ i: Int) -> UnsafePointer<Float> { rows + (r + min(i, nr - 1)) &* ldr }
            var t = taps.lowerBound
            while t < taps.upperBound {
                let nt = min(4, taps.upperBound - t)
                func tap(_ j: Int) -> UnsafePointer<Float> { b + offsets[t + min(j, nt - 1)] }
                var sums = Sums4x6()
                tile4x6(tap(0), tap(1), tap(2), tap(3), row(0), row(1), row(2), row(3), row(4), row(5),
                        count: count, into: &sums)
                for i in 0 ..< nr {
                    let o = out + (r + i) &* ldo + t
                    for j in 0 ..< nt {
                        let s = sums[j, i]
                        o[j] = accumulate ? o[j] + s : s
                    }
                }
                t += 4
            }
            r += 6
        }
    }

    /// The 24 sums of one tile.
    struct Sums4x6 {
        var s: (Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float,
                Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float)
            = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        subscript(i: Int, j: Int) -> Float {
            withUnsafeBytes(of: s) { $0.load(fromByteOffset: (i * 6 + j) * 4, as: Float.self) }
        }
    }

    @inline(never)
    static func tile4x6(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>,
                        _ r3: UnsafePointer<Float>,
                        _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>, _ b2: UnsafePointer<Float>,
                        _ b3: UnsafePointer<Float>, _ b4: UnsafePointer<Float>, _ b5: UnsafePointer<Float>,
                        count: Int, into sums: inout Sums4x6) {
        var a00 = Vector16(), a01 = Vector16(), a02 = Vector16(), a03 = Vector16(), a04 = Vector16(), a05 = Vector16()
        var a10 = Vector16(), a11 = Vector16(), a12 = Vector16(), a13 = Vector16(), a14 = Vector16(), a15 = Vector16()
        var a20 = Vector16(), a21 = Vector16(), a22 = Vector16(), a23 = Vector16(), a24 = Vector16(), a25 = Vector16()
        var a30 = Vector16(), a31 = Vector16(), a32 = Vector16(), a33 = Vector16(), a34 = Vector16(), a35 = Vector16()
        var p = 0
        while p < count {
            let x0 = load(b0 + p), x1 = load(b1 + p), x2 = load(b2 + p)
            let x3 = load(b3 + p), x4 = load(b4 + p), x5 = load(b5 + p)
            var y = load(r0 + p)
            a00.addProduct(y, x0); a01.addProduct(y, x1); a02.addProduct(y, x2)
            a03.addProduct(y, x3); a04.addProduct(y, x4); a05.addProduct(y, x5)
            y = load(r1 + p)
            a10.addProduct(y, x0); a11.addProduct(y, x1); a12.addProduct(y, x2)
            a13.addProduct(y, x3); a14.addProduct(y, x4); a15.addProduct(y, x5)
            y = load(r2 + p)
            a20.addProduct(y, x0); a21.addProduct(y, x1); a22.addProduct(y, x2)
            a23.addProduct(y, x3); a24.addProduct(y, x4); a25.addProduct(y, x5)
            y = load(r3 + p)
            a30.addProduct(y, x0); a31.addProduct(y, x1); a32.addProduct(y, x2)
            a33.addProduct(y, x3); a34.addProduct(y, x4); a35.addProduct(y, x5)
            p &+= 16
        }
        sums.s = (a00.sum(), a01.sum(), a02.sum(), a03.sum(), a04.sum(), a05.sum(),
                  a10.sum(), a11.sum(), a12.sum(), a13.sum(), a14.sum(), a15.sum(),
                  a20.sum(), a21.sum(), a22.sum(), a23.sum(), a24.sum(), a25.sum(),
                  a30.sum(), a31.sum(), a32.sum(), a33.sum(), a34.sum(), a35.sum())
    }
}

#endif
