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
        // Tiles of 6 rows × 4 taps are the 4×6 tile with the roles of rows and taps exchanged
        // (its products and sums are the same either way round).
        let rowsPerTile = tapsPerTile == 4 ? 6 : 4
        var r = rowRange.lowerBound
        while r < rowRange.upperBound {
            let nr = min(rowsPerTile, rowRange.upperBound - r)
            var t = taps.lowerBound
            while t < taps.upperBound {
                let nt = min(tapsPerTile, taps.upperBound - t)
                // A partial tile repeats its last row or tap.
                func row(_ i: Int) -> UnsafePointer<Float> { rows + (r + min(i, nr - 1)) &* ldr }
                func tap(_ j: Int) -> UnsafePointer<Float> { b + offsets[t + min(j, nt - 1)] }
                let (four, six) = tapsPerTile == 4 ? (tap, row) : (row, tap)
                var sums = Sums4x6()
                tile4x6(four(0), four(1), four(2), four(3), six(0), six(1), six(2), six(3), six(4), six(5),
                        count: count, into: &sums)
                for i in 0 ..< nr {
                    let o = out + (r + i) &* ldo + t
                    for j in 0 ..< nt {
                        let s = tapsPerTile == 4 ? sums[j, i] : sums[i, j]
                        o[j] = accumulate ? o[j] + s : s
                    }
                }
                t += tapsPerTile
            }
            r += rowsPerTile
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

#if arch(x86_64)

/// The weight gradient of a 3-wide kernel with the output channels in the
/// vector lanes — for layers whose filter count is a multiple of 16:
///
///     out[(16v + l)·ldo + q·3 + kx] (+)= Σ_{p < count} dy[p·ldd + 16v + l] · b[rowOffsets[q] + p + kx]
///
/// for kernel rows `q` (one input channel and kernel row each) in `rows`,
/// the filters 16v + l, and kx < 3. `dy`
/// is the output gradient laid out position-major (the filters of one
/// position adjacent, `ldd` apart from the next position's). Each position
/// costs one or a few vector loads of `dy` and one broadcast per tap — no
/// unaligned vector loads and no sums across lanes, which the row-major
/// `ShiftedCorrelation` needs.
public enum LaneGradient {
    /// Vectors of filters per tile for `filters` filters (a multiple of 16).
    public static func vectors(filters: Int) -> Int { filters % 64 == 0 ? 4 : filters % 32 == 0 ? 2 : 1 }

    /// `filters` (a multiple of 16) in blocks of `vectors(filters:)` vectors; `rowOffsets[q·rowStride]`
    /// is the offset of kernel row q's first tap.
    public static func run(dy: UnsafePointer<Float>, ldd: Int, filters: Int, rowOffsets: UnsafePointer<Int>,
                           rowStride: Int, rows: Range<Int>, b: UnsafePointer<Float>, count: Int,
                           out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        let vectors = self.vectors(filters: filters)
        var f0 = 0
        while f0 < filters {
            runBlock(dy: dy + f0, ldd: ldd, vectors: vectors, rowOffsets: rowOffsets, rowStride: rowStride, rows: rows,
                     b: b, count: count, out: out + f0 &* ldo, ldo: ldo, accumulate: accumulate)
            f0 += 16 * vectors
        }
    }

    static func runBlock(dy: UnsafePointer<Float>, ldd: Int, vectors: Int, rowOffsets: UnsafePointer<Int>,
                         rowStride: Int, rows: Range<Int>, b: UnsafePointer<Float>, count: Int,
                         out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        let perTile = vectors == 1 ? 8 : vectors == 2 ? 4 : 2
        // The tile's 24 sums on the stack (withUnsafeTemporaryAllocation put 1.5 KB on the heap).
        var sums = TileSums()
        withUnsafeMutableBytes(of: &sums.vectors) { raw in
            let s = raw.baseAddress!.assumingMemoryBound(to: Vector16.self)
            var q = rows.lowerBound
            while q < rows.upperBound {
                let nq = min(perTile, rows.upperBound - q)
                func row(_ i: Int) -> UnsafePointer<Float> { b + rowOffsets[(q + min(i, nq - 1)) &* rowStride] }
                switch vectors {
                case 1: tile1x8(dy, ldd, row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7), count, s)
                case 2: tile2x4(dy, ldd, row(0), row(1), row(2), row(3), count, s)
                default: tile4x2(dy, ldd, row(0), row(1), count, s)
                }
                // sums[(v·perTile + i)·3 + kx] holds filters 16v ..< 16v + 16 of tap (q + i, kx).
                for v in 0 ..< vectors {
                    for i in 0 ..< nq {
                        for kx in 0 ..< 3 {
                            let vec = s[(v * perTile + i) * 3 + kx]
                            let o = out + (16 * v) &* ldo + (q + i) * 3 + kx
                            for l in 0 ..< 16 {
                                let p = o + l &* ldo
                                p.pointee = accumulate ? p.pointee + vec[l] : vec[l]
                            }
                        }
                    }
                }
                q += perTile
            }
        }
    }

    /// 24 vectors of sums, stored inline.
    struct TileSums {
        var vectors = (Vector16(), Vector16(), Vector16(), Vector16(), Vector16(), Vector16(), Vector16(), Vector16(),
                       Vector16(), Vector16(), Vector16(), Vector16(), Vector16(), Vector16(), Vector16(), Vector16(),
                       Vector16(), Vector16(), Vector16(), Vector16(), Vector16(), Vector16(), Vector16(), Vector16())
    }

    @inline(__always)
    static func broadcast(_ p: UnsafePointer<Float>) -> Vector16 { Vector16(repeating: p.pointee) }

    @inline(never)
    static func tile1x8(_ dy: UnsafePointer<Float>, _ ldd: Int,
                        _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>,
                        _ r3: UnsafePointer<Float>, _ r4: UnsafePointer<Float>, _ r5: UnsafePointer<Float>,
                        _ r6: UnsafePointer<Float>, _ r7: UnsafePointer<Float>, _ count: Int,
                        _ sums: UnsafeMutablePointer<Vector16>) {
        var a00 = Vector16(), a01 = Vector16(), a02 = Vector16(), a10 = Vector16(), a11 = Vector16(), a12 = Vector16()
        var a20 = Vector16(), a21 = Vector16(), a22 = Vector16(), a30 = Vector16(), a31 = Vector16(), a32 = Vector16()
        var a40 = Vector16(), a41 = Vector16(), a42 = Vector16(), a50 = Vector16(), a51 = Vector16(), a52 = Vector16()
        var a60 = Vector16(), a61 = Vector16(), a62 = Vector16(), a70 = Vector16(), a71 = Vector16(), a72 = Vector16()
        var d = dy
        var p = 0
        while p < count {
            let y = load(d)
            a00.addProduct(y, broadcast(r0 + p)); a01.addProduct(y, broadcast(r0 + p + 1)); a02.addProduct(y, broadcast(r0 + p + 2))
            a10.addProduct(y, broadcast(r1 + p)); a11.addProduct(y, broadcast(r1 + p + 1)); a12.addProduct(y, broadcast(r1 + p + 2))
            a20.addProduct(y, broadcast(r2 + p)); a21.addProduct(y, broadcast(r2 + p + 1)); a22.addProduct(y, broadcast(r2 + p + 2))
            a30.addProduct(y, broadcast(r3 + p)); a31.addProduct(y, broadcast(r3 + p + 1)); a32.addProduct(y, broadcast(r3 + p + 2))
            a40.addProduct(y, broadcast(r4 + p)); a41.addProduct(y, broadcast(r4 + p + 1)); a42.addProduct(y, broadcast(r4 + p + 2))
            a50.addProduct(y, broadcast(r5 + p)); a51.addProduct(y, broadcast(r5 + p + 1)); a52.addProduct(y, broadcast(r5 + p + 2))
            a60.addProduct(y, broadcast(r6 + p)); a61.addProduct(y, broadcast(r6 + p + 1)); a62.addProduct(y, broadcast(r6 + p + 2))
            a70.addProduct(y, broadcast(r7 + p)); a71.addProduct(y, broadcast(r7 + p + 1)); a72.addProduct(y, broadcast(r7 + p + 2))
            d += ldd
            p &+= 1
        }
        sums[0] = a00; sums[1] = a01; sums[2] = a02; sums[3] = a10; sums[4] = a11; sums[5] = a12
        sums[6] = a20; sums[7] = a21; sums[8] = a22; sums[9] = a30; sums[10] = a31; sums[11] = a32
        sums[12] = a40; sums[13] = a41; sums[14] = a42; sums[15] = a50; sums[16] = a51; sums[17] = a52
        sums[18] = a60; sums[19] = a61; sums[20] = a62; sums[21] = a70; sums[22] = a71; sums[23] = a72
    }

    @inline(never)
    static func tile2x4(_ dy: UnsafePointer<Float>, _ ldd: Int,
                        _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>,
                        _ r3: UnsafePointer<Float>, _ count: Int, _ sums: UnsafeMutablePointer<Vector16>) {
        var a00 = Vector16(), a01 = Vector16(), a02 = Vector16(), a10 = Vector16(), a11 = Vector16(), a12 = Vector16()
        var a20 = Vector16(), a21 = Vector16(), a22 = Vector16(), a30 = Vector16(), a31 = Vector16(), a32 = Vector16()
        var c00 = Vector16(), c01 = Vector16(), c02 = Vector16(), c10 = Vector16(), c11 = Vector16(), c12 = Vector16()
        var c20 = Vector16(), c21 = Vector16(), c22 = Vector16(), c30 = Vector16(), c31 = Vector16(), c32 = Vector16()
        var d = dy
        var p = 0
        while p < count {
            let y = load(d), z = load(d + 16)
            var x = broadcast(r0 + p); a00.addProduct(y, x); c00.addProduct(z, x)
            x = broadcast(r0 + p + 1); a01.addProduct(y, x); c01.addProduct(z, x)
            x = broadcast(r0 + p + 2); a02.addProduct(y, x); c02.addProduct(z, x)
            x = broadcast(r1 + p); a10.addProduct(y, x); c10.addProduct(z, x)
            x = broadcast(r1 + p + 1); a11.addProduct(y, x); c11.addProduct(z, x)
            x = broadcast(r1 + p + 2); a12.addProduct(y, x); c12.addProduct(z, x)
            x = broadcast(r2 + p); a20.addProduct(y, x); c20.addProduct(z, x)
            x = broadcast(r2 + p + 1); a21.addProduct(y, x); c21.addProduct(z, x)
            x = broadcast(r2 + p + 2); a22.addProduct(y, x); c22.addProduct(z, x)
            x = broadcast(r3 + p); a30.addProduct(y, x); c30.addProduct(z, x)
            x = broadcast(r3 + p + 1); a31.addProduct(y, x); c31.addProduct(z, x)
            x = broadcast(r3 + p + 2); a32.addProduct(y, x); c32.addProduct(z, x)
            d += ldd
            p &+= 1
        }
        // Vector 0 (filters 0..<16) of rows 0…3, then vector 1.
        sums[0] = a00; sums[1] = a01; sums[2] = a02; sums[3] = a10; sums[4] = a11; sums[5] = a12
        sums[6] = a20; sums[7] = a21; sums[8] = a22; sums[9] = a30; sums[10] = a31; sums[11] = a32
        sums[12] = c00; sums[13] = c01; sums[14] = c02; sums[15] = c10; sums[16] = c11; sums[17] = c12
        sums[18] = c20; sums[19] = c21; sums[20] = c22; sums[21] = c30; sums[22] = c31; sums[23] = c32
    }

    @inline(never)
    static func tile4x2(_ dy: UnsafePointer<Float>, _ ldd: Int, _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>,
                        _ count: Int, _ sums: UnsafeMutablePointer<Vector16>) {
        var a00 = Vector16(), a01 = Vector16(), a02 = Vector16(), a10 = Vector16(), a11 = Vector16(), a12 = Vector16()
        var b00 = Vector16(), b01 = Vector16(), b02 = Vector16(), b10 = Vector16(), b11 = Vector16(), b12 = Vector16()
        var c00 = Vector16(), c01 = Vector16(), c02 = Vector16(), c10 = Vector16(), c11 = Vector16(), c12 = Vector16()
        var e00 = Vector16(), e01 = Vector16(), e02 = Vector16(), e10 = Vector16(), e11 = Vector16(), e12 = Vector16()
        var d = dy
        var p = 0
        while p < count {
            let y0 = load(d), y1 = load(d + 16), y2 = load(d + 32), y3 = load(d + 48)
            var x = broadcast(r0 + p)
            a00.addProduct(y0, x); b00.addProduct(y1, x); c00.addProduct(y2, x); e00.addProduct(y3, x)
            x = broadcast(r0 + p + 1)
            a01.addProduct(y0, x); b01.addProduct(y1, x); c01.addProduct(y2, x); e01.addProduct(y3, x)
            x = broadcast(r0 + p + 2)
            a02.addProduct(y0, x); b02.addProduct(y1, x); c02.addProduct(y2, x); e02.addProduct(y3, x)
            x = broadcast(r1 + p)
            a10.addProduct(y0, x); b10.addProduct(y1, x); c10.addProduct(y2, x); e10.addProduct(y3, x)
            x = broadcast(r1 + p + 1)
            a11.addProduct(y0, x); b11.addProduct(y1, x); c11.addProduct(y2, x); e11.addProduct(y3, x)
            x = broadcast(r1 + p + 2)
            a12.addProduct(y0, x); b12.addProduct(y1, x); c12.addProduct(y2, x); e12.addProduct(y3, x)
            d += ldd
            p &+= 1
        }
        sums[0] = a00; sums[1] = a01; sums[2] = a02; sums[3] = a10; sums[4] = a11; sums[5] = a12
        sums[6] = b00; sums[7] = b01; sums[8] = b02; sums[9] = b10; sums[10] = b11; sums[11] = b12
        sums[12] = c00; sums[13] = c01; sums[14] = c02; sums[15] = c10; sums[16] = c11; sums[17] = c12
        sums[18] = e00; sums[19] = e01; sums[20] = e02; sums[21] = e10; sums[22] = e11; sums[23] = e12
    }
}

#endif

#if arch(x86_64)
extension LaneGradient {
    /// One image's output gradient, `filters` (a multiple of 16) planes of
    /// `rows × cols` at `src`, into the position-major grid at `dst` (rows
    /// `pitch` positions apart): `dst[(y·pitch + x)·filters + o] = src[o·plane + y·cols + x]`.
    /// The grid's other positions are left as they are.
    public static func stageTransposed(_ src: UnsafePointer<Float>, filters: Int, rows: Int, cols: Int, pitch: Int,
                                       into dst: UnsafeMutablePointer<Float>) {
        let plane = rows * cols
        for y in 0 ..< rows {
            for x in 0 ..< cols {
                let at = y * cols + x
                let d = dst + (y * pitch + x) * filters
                var o = 0
                while o < filters {
                    let s = src + o * plane + at
                    let v = Vector16(s[0], s[plane], s[2 * plane], s[3 * plane], s[4 * plane], s[5 * plane],
                                     s[6 * plane], s[7 * plane], s[8 * plane], s[9 * plane], s[10 * plane], s[11 * plane],
                                     s[12 * plane], s[13 * plane], s[14 * plane], s[15 * plane])
                    store(v, d + o)
                    o += 16
                }
            }
        }
    }
}
#endif
