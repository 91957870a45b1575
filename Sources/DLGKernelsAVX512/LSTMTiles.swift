// The AVX-512 f32 steps of DLGKernels' `LSTMScan` (the fused LSTM recurrence):
// each step's product with W_hh runs through `PackedProduct`'s 8 × 32 tile,
// and the cell is applied to the tile while it is in L1, straight into the
// tape (forward) or into dpre (backward). W_hh is packed once per call.
//
// Forward: panel p of the packed W_hhᵀ holds, in its 32 columns, the four
// gates (i, f, g, o) of the 8 hidden units 8p ..< 8p + 8 (column q·8 + u =
// gate q of unit 8p + u; zeros past H), so one tile of 8 batch rows holds all
// the gates of its 8 units. Backward: dh = dpre_next·W_hh, W_hh (4H × H) packed
// as is, in panels of 32 hidden units; the tile of dh is followed by the cell's
// backward for the same rows and units.
//
// The sigmoid and tanh are `SIMDMath`'s (DLGOps), the one definition the
// elementwise kernels use. Nothing here is `@inlinable` (see ShiftedProducts).

#if arch(x86_64)
import DLGOps

public enum LSTMTiles {
    typealias Vector8 = SIMD8<Float>

    /// Floats of scratch per thread: one 8 × 32 tile.
    public static let scratchPerThread = 8 * 32

    /// Panels of the forward packing: 8 hidden units each.
    public static func forwardPanels(hidden: Int) -> Int { (hidden + 7) / 8 }

    /// Panels of the backward packing: 32 hidden units each.
    public static func backwardPanels(hidden: Int) -> Int { (hidden + 31) / 32 }

    /// Workspace floats of the forward pass: the packed W_hhᵀ, then one tile of scratch per thread.
    public static func forwardWorkspace(hidden: Int, threads: Int) -> Int {
        forwardPanels(hidden: hidden) * 32 * hidden + threads * scratchPerThread
    }

    /// Workspace floats of the backward pass: the packed W_hh, the carried dc (B × H),
    /// then one tile of scratch per thread.
    public static func backwardWorkspace(batch: Int, hidden: Int, threads: Int) -> Int {
        backwardPanels(hidden: hidden) * 32 * 4 * hidden + batch * hidden + threads * scratchPerThread
    }

    // MARK: Forward

    /// Packs panels `panels` of W_hhᵀ (W_hh: 4H × H) for the forward steps into
    /// `packed + p·32·H`: row κ of panel p holds W_hh[q·H + 8p + u, κ] at q·8 + u.
    public static func packForward(whh: UnsafePointer<Float>, hidden H: Int, panels: Range<Int>,
                                   into packed: UnsafeMutablePointer<Float>) {
        for p in panels {
            let out = packed + p &* 32 &* H
            for q in 0 ..< 4 {
                for u in 0 ..< 8 {
                    let j = p &* 8 &+ u
                    var dst = out + (q &* 8 &+ u)
                    if j < H {
                        var src = whh + (q &* H &+ j) &* H
                        for _ in 0 ..< H {
                            dst[0] = src[0]
                            src += 1
                            dst += 32
                        }
                    } else {
                        for _ in 0 ..< H {
                            dst[0] = 0
                            dst += 32
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>, _ n: Int) -> Vector8 {
        if n == 8 { return UnsafeRawPointer(p).loadUnaligned(as: Vector8.self) }
        var v = Vector8()
        for l in 0 ..< n { v[l] = p[l] }
        return v
    }

    @inline(__always)
    static func store8(_ v: Vector8, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n == 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector8.self)
        } else {
            for l in 0 ..< n { p[l] = v[l] }
        }
    }

    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>, _ n: Int) -> Vector16 {
        if n == 16 { return load(p) }
        var v = Vector16()
        for l in 0 ..< n { v[l] = p[l] }
        return v
    }

    @inline(__always)
    static func store16(_ v: Vector16, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n == 16 {
            store(v, p)
        } else {
            for l in 0 ..< n { p[l] = v[l] }
        }
    }

    /// The 8 × 32 tile A·(panel) into `scratch` (row stride 32) for rows
    /// `0 ..< height` of A (height 1…8); zeros when `a` is nil.
    @inline(__always)
    static func tile(a: UnsafePointer<Float>?, aRowStride: Int, panel: UnsafePointer<Float>, k: Int, height: Int,
                     scratch: UnsafeMutablePointer<Float>) {
        guard let a, k > 0 else {
            scratch.update(repeating: 0, count: height &* 32)
            return
        }
        let t = PackedProduct.Tile(packed: panel, k: k, aColumnStride: 1, ldc: 32, width: 32, addBias: false,
                                   bias0: Vector16(), bias1: Vector16(), relu: false,
                                   accumulate: false)
        if height > 4 {
            t.rows8(a: a, aRowStride: aRowStride, height: height, c: scratch)
        } else {
            t.rows4(a: a, aRowStride: aRowStride, height: height, c: scratch)
        }
    }

    /// One forward step for panels `panels` (8 units each) and all `batch` rows:
    /// tape row b (at `tape + b·tapeRowStride`, the step's h | c | i | f | g | o)
    /// ← the cell of xb row b + h_prev row b·W_hhᵀ, c_prev row b. `hPrev` nil: a
    /// zero state (and `cPrev` nil: zero c). `scratch`: `scratchPerThread` floats.
    public static func forwardStep(hPrev: UnsafePointer<Float>?, hRowStride: Int, cPrev: UnsafePointer<Float>?, cRowStride: Int,
                                   xb: UnsafePointer<Float>, xbRowStride: Int, tape: UnsafeMutablePointer<Float>, tapeRowStride: Int,
                                   packed: UnsafePointer<Float>, batch: Int, hidden H: Int, panels: Range<Int>,
                                   scratch: UnsafeMutablePointer<Float>) {
        for p in panels {
            let j0 = p &* 8, units = min(8, H &- j0)
            let panel = packed + p &* 32 &* H
            var i0 = 0
            while i0 < batch {
                let height = min(8, batch &- i0)
                tile(a: hPrev.map { $0 + i0 &* hRowStride }, aRowStride: hRowStride, panel: panel, k: H, height: height,
                     scratch: scratch)
                // Rows in pairs (an odd last row paired with itself): a pair's g, o, c and h are one vector each.
                var r = 0
                while r < height {
                    let r2 = min(r &+ 1, height &- 1)
                    let ba = i0 &+ r, bb = i0 &+ r2
                    let xa = xb + ba &* xbRowStride + j0, xbb = xb + bb &* xbRowStride + j0
                    let va0 = load(scratch + r &* 32), va1 = load(scratch + (r &* 32 &+ 16))
                    let vb0 = load(scratch + r2 &* 32), vb1 = load(scratch + (r2 &* 32 &+ 16))
                    let ai = Vector16(lowHalf: va0.lowHalf + load8(xa, units), highHalf: vb0.lowHalf + load8(xbb, units))
                    let af = Vector16(lowHalf: va0.highHalf + load8(xa + H, units), highHalf: vb0.highHalf + load8(xbb + H, units))
                    let ag = Vector16(lowHalf: va1.lowHalf + load8(xa + 2 &* H, units),
                                      highHalf: vb1.lowHalf + load8(xbb + 2 &* H, units))
                    let ao = Vector16(lowHalf: va1.highHalf + load8(xa + 3 &* H, units),
                                      highHalf: vb1.highHalf + load8(xbb + 3 &* H, units))
                    let i = SIMDMath.sigmoid(ai), f = SIMDMath.sigmoid(af)
                    let g = SIMDMath.tanh(ag), o = SIMDMath.sigmoid(ao)
                    var cp = Vector16()
                    if let cPrev {
                        cp = Vector16(lowHalf: load8(cPrev + ba &* cRowStride + j0, units),
                                      highHalf: load8(cPrev + bb &* cRowStride + j0, units))
                    }
                    let c = f * cp + i * g
                    let h = o * SIMDMath.tanh(c)
                    // Row b first, then (if different) row bb: the halves of each vector.
                    let ta = tape + ba &* tapeRowStride + j0
                    store8(h.lowHalf, ta, units)
                    store8(c.lowHalf, ta + H, units)
                    store8(i.lowHalf, ta + 2 &* H, units)
                    store8(f.lowHalf, ta + 3 &* H, units)
                    store8(g.lowHalf, ta + 4 &* H, units)
                    store8(o.lowHalf, ta + 5 &* H, units)
                    if r2 != r {
                        let tb = tape + bb &* tapeRowStride + j0
                        store8(h.highHalf, tb, units)
                        store8(c.highHalf, tb + H, units)
                        store8(i.highHalf, tb + 2 &* H, units)
                        store8(f.highHalf, tb + 3 &* H, units)
                        store8(g.highHalf, tb + 4 &* H, units)
                        store8(o.highHalf, tb + 5 &* H, units)
                    }
                    r &+= 2
                }
                i0 &+= 8
            }
        }
    }

    // MARK: Backward

    /// Packs panels `panels` of W_hh (4H × H, 32 hidden units per panel) for the backward steps.
    public static func packBackward(whh: UnsafePointer<Float>, hidden H: Int, panels: Range<Int>,
                                    into packed: UnsafeMutablePointer<Float>) {
        PackedProduct.pack(b: whh, rowStride: H, columnStride: 1, k: 4 &* H, n: H, panels: panels, into: packed)
    }

    /// One backward step for panels `panels` (32 units each) and all `batch`
    /// rows: dh = dtape_h + dNext·W_hh (dNext nil: no next step), then the
    /// cell's backward into dpre row b, `carry` (B × H, dense) updated to dc⊙f.
    /// Row b of `tape`/`dtape` is at `+ b·tapeRowStride` (the step's 6H values),
    /// of `dpre` at `+ b·dpreRowStride` (4H), of `cPrev` at `+ b·cRowStride` (nil: zeros).
    public static func backwardStep(dNext: UnsafePointer<Float>?, dNextRowStride: Int, tape: UnsafePointer<Float>,
                                    dtape: UnsafePointer<Float>, tapeRowStride: Int, cPrev: UnsafePointer<Float>?, cRowStride: Int,
                                    carry: UnsafeMutablePointer<Float>, dpre: UnsafeMutablePointer<Float>, dpreRowStride: Int,
                                    packed: UnsafePointer<Float>, batch: Int, hidden H: Int, panels: Range<Int>,
                                    scratch: UnsafeMutablePointer<Float>) {
        let k = 4 &* H
        for p in panels {
            let j0 = p &* 32, width = min(32, H &- j0)
            let panel = packed + p &* 32 &* k
            var i0 = 0
            while i0 < batch {
                let height = min(8, batch &- i0)
                tile(a: dNext.map { $0 + i0 &* dNextRowStride }, aRowStride: dNextRowStride, panel: panel, k: k, height: height,
                     scratch: scratch)
                for r in 0 ..< height {
                    let b = i0 &+ r
                    let row = tape + b &* tapeRowStride + j0, drow = dtape + b &* tapeRowStride + j0
                    let out = dpre + b &* dpreRowStride + j0, cr = carry + b &* H + j0
                    var half = 0
                    while half < width {
                        let n = min(16, width &- half)
                        let dh = load(scratch + (r &* 32 &+ half)) + load16(drow + half, n)
                        let c = load16(row + H + half, n)
                        let i = load16(row + 2 &* H + half, n), f = load16(row + 3 &* H + half, n)
                        let g = load16(row + 4 &* H + half, n), o = load16(row + 5 &* H + half, n)
                        let tc = SIMDMath.tanh(c)
                        let dc = load16(drow + H + half, n) + load16(cr + half, n) + dh * o * (1 - tc * tc)
                        var cp = Vector16()
                        if let cPrev { cp = load16(cPrev + (b &* cRowStride &+ j0 &+ half), n) }
                        store16(dc * f, cr + half, n)
                        store16(dc * g * (i * (1 - i)), out + half, n)
                        store16(dc * cp * (f * (1 - f)), out + H + half, n)
                        store16(dc * i * (1 - g * g), out + 2 &* H + half, n)
                        store16(dh * tc * (o * (1 - o)), out + 3 &* H + half, n)
                        half &+= 16
                    }
                }
                i0 &+= 8
            }
        }
    }
}

#endif
