// The AVX-512 f32 steps of DLGKernels' `LSTMScan` (the fused LSTM recurrence):
// each step's product with W_hh runs through `PackedProduct`'s 8 × 32 tile,
// and the cell is applied to the tile while it is in L1, straight into the
// tape (forward) or into dpre (backward). W_hh is packed once per call.
//
// Forward: panel p of the packed W_hhᵀ holds the four gates (i, f, g, o) of
// the 16 hidden units 16p ..< 16p + 16 in two 32-column blocks (i | f, g | o),
// so two tiles of 8 batch rows hold all the gates of their 16 units, one
// vector per gate and row. Backward: dh = dpre_next·W_hh, W_hh (4H × H) packed
// as is, in panels of 32 hidden units; the tile of dh is followed by the cell's
// backward for the same rows and units.
//
// The sigmoid and tanh are VectorMath's: the bits of `SIMDMath`'s (DLGOps),
// the one definition the elementwise kernels use, compiled for AVX-512.
// Nothing here is `@inlinable` (see ShiftedProducts).

#if arch(x86_64)
import CPrefetch
import DLGOps

public enum LSTMTiles {
    /// Batch rows the forward multiplies by one block of W_hhᵀ before the next block.
    static let groupRows = 32

    /// Floats of scratch per thread: the forward's `groupRows` × 64 products (the backward uses 8 × 32 of it).
    public static let scratchPerThread = groupRows * 64

    /// Panels of the forward packing: 16 hidden units each.
    public static func forwardPanels(hidden: Int) -> Int { (hidden + 15) / 16 }

    /// Panels of the backward packing: 32 hidden units each.
    public static func backwardPanels(hidden: Int) -> Int { (hidden + 31) / 32 }

    /// Workspace floats of the forward pass: the packed W_hhᵀ, then `scratchPerThread` floats per thread.
    public static func forwardWorkspace(hidden: Int, threads: Int) -> Int {
        forwardPanels(hidden: hidden) * 64 * hidden + threads * scratchPerThread
    }

    /// Workspace floats of the backward pass: the packed W_hh, the carried dc (B × H),
    /// then `scratchPerThread` floats per thread.
    public static func backwardWorkspace(batch: Int, hidden: Int, threads: Int) -> Int {
        backwardPanels(hidden: hidden) * 32 * 4 * hidden + batch * hidden + threads * scratchPerThread
    }

    // MARK: Forward

    /// Packs panels `panels` of W_hhᵀ (W_hh: 4H × H) for the forward steps into
    /// `packed + p·64·H`: two packed 32-column blocks of H rows each, the first
    /// with gates i, f and the second with g, o of the 16 units 16p ..< 16p + 16;
    /// in block e, row κ holds W_hh[(2e + q)·H + 16p + u, κ] at q·16 + u (zeros past H).
    public static func packForward(whh: UnsafePointer<Float>, hidden H: Int, panels: Range<Int>,
                                   into packed: UnsafeMutablePointer<Float>) {
        for p in panels {
            for gate in 0 ..< 4 {
                let block = packed + p &* 64 &* H + (gate >> 1) &* 32 &* H
                for u in 0 ..< 16 {
                    let j = p &* 16 &+ u
                    var dst = block + ((gate & 1) &* 16 &+ u)
                    if j < H {
                        var src = whh + (gate &* H &+ j) &* H
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

    /// The 8 × 32 tile A·(block) into `scratch` (row stride `ldc`) for rows
    /// `0 ..< height` of A (height 1…8); zeros when `a` is nil.
    @inline(__always)
    static func tile(a: UnsafePointer<Float>?, aRowStride: Int, panel: UnsafePointer<Float>, k: Int, height: Int,
                     scratch: UnsafeMutablePointer<Float>, ldc: Int = 32) {
        guard let a, k > 0 else {
            for r in 0 ..< height { (scratch + r &* ldc).update(repeating: 0, count: 32) }
            return
        }
        let t = PackedProduct.Tile(packed: panel, k: k, aColumnStride: 1, ldc: ldc, width: 32, addBias: false,
                                   bias0: Vector16(), bias1: Vector16(), relu: false,
                                   accumulate: false)
        if height > 4 {
            t.rows8(a: a, aRowStride: aRowStride, height: height, c: scratch)
        } else {
            t.rows4(a: a, aRowStride: aRowStride, height: height, c: scratch)
        }
    }

    /// One forward step for panels `panels` (16 units each) and batch rows `rows`:
    /// tape row b (at `tape + b·tapeRowStride`, the step's h | c | i | f | g | o)
    /// ← the cell of xb row b + h_prev row b·W_hhᵀ, c_prev row b. `hPrev` nil: a
    /// zero state (and `cPrev` nil: zero c). `scratch`: `scratchPerThread` floats.
    public static func forwardStep(hPrev: UnsafePointer<Float>?, hRowStride: Int, cPrev: UnsafePointer<Float>?, cRowStride: Int,
                                   xb: UnsafePointer<Float>, xbRowStride: Int, tape: UnsafeMutablePointer<Float>, tapeRowStride: Int,
                                   packed: UnsafePointer<Float>, rows batch: Range<Int>, hidden H: Int, panels: Range<Int>,
                                   nextStep: Int, scratch: UnsafeMutablePointer<Float>) {
        // Rows in groups of up to `groupRows`: each of the panel's two 32 KiB blocks of W_hhᵀ
        // multiplies every row block of the group while it is in L1, then the group's cells run.
        for p in panels {
            let j0 = p &* 16, units = min(16, H &- j0)
            let panel = packed + p &* 64 &* H
            let ahead = Ahead(panel: p, of: panels, width: 16, nextStep: nextStep, steps: (4 &* H, 6 &* H, 0))
            var g0 = batch.lowerBound
            while g0 < batch.upperBound {
                let g1 = min(batch.upperBound, g0 &+ groupRows)
                for block in 0 ..< 2 {
                    var i0 = g0
                    while i0 < g1 {
                        // Row r of the group in scratch row r: i | f | g | o, 16 units each.
                        let a = hPrev.map { $0 + i0 &* hRowStride }
                        let weights = panel + block &* 32 &* H
                        let out = scratch + ((i0 &- g0) &* 64 &+ block &* 32)
                        tile(a: a, aRowStride: hRowStride, panel: weights, k: H, height: min(8, g1 &- i0), scratch: out, ldc: 64)
                        i0 &+= 8
                    }
                }
                let rows = g0 ..< g1
                if units == 16 {
                    forwardCells(scratch: scratch, rows: rows, column: j0, hidden: H, xb: xb, xbRowStride: xbRowStride,
                                 cPrev: cPrev, cRowStride: cRowStride, tape: tape, tapeRowStride: tapeRowStride,
                                 ahead: ahead)
                } else {
                    forwardCellsPartial(scratch: scratch, rows: rows, units: units, column: j0, hidden: H, xb: xb,
                                        xbRowStride: xbRowStride, cPrev: cPrev, cRowStride: cRowStride,
                                        tape: tape, tapeRowStride: tapeRowStride, ahead: ahead)
                }
                g0 = g1
            }
        }
    }

    /// Where a cell prefetches: the distances in floats from its xb (or, in the
    /// backward, dpre) and tape pointers to the lines it will need next; 0: none.
    struct Ahead {
        var x: Int, tape: Int, dtape: Int
        /// For panel `p` of `panels`, `width` units each: the next panel's units,
        /// and from the last panel the first one's at the next step processed
        /// (`nextStep` = ±1, or 0 at the last step), `steps` floats away (in xb or
        /// dpre, the tape, dtape).
        @inline(__always)
        init(panel p: Int, of panels: Range<Int>, width: Int, nextStep: Int, steps: (x: Int, tape: Int, dtape: Int)) {
            if p &+ 1 < panels.upperBound {
                x = width
                tape = width
                dtape = width
            } else if nextStep != 0 {
                let back = (p &- panels.lowerBound) &* width
                x = nextStep &* steps.x &- back
                tape = nextStep &* steps.tape &- back
                dtape = nextStep &* steps.dtape &- back
            } else {
                x = 0
                tape = 0
                dtape = 0
            }
        }
    }

    /// The cells of one tile, 16 units from `j0`: gate pre-activations =
    /// scratch row (i | f | g | o) + xb row; c and h from c_prev; all six into the tape.
    ///
    /// The cells are where the scan meets memory: xb and the tape stream through
    /// (megabytes, read and written once), four and six cache lines a vector, and
    /// before prefetching the cells took over a third of the forward step, most
    /// of it waiting for those lines. So each cell prefetches the lines of the
    /// same row that the next panel's cells will use (`ahead`). A whole step
    /// ahead was too early: the step streams all of W_hh (1 MiB) through the
    /// caches, and the lines were gone before their use; one panel is some
    /// microseconds, a tile's product.
    @inline(__always)
    static func cell(scratch s: UnsafePointer<Float>, xb x: UnsafePointer<Float>, cPrev: UnsafePointer<Float>?,
                     tape t: UnsafeMutablePointer<Float>, hidden H: Int, units n: Int, ahead: Ahead) {
        if ahead.x != 0 {
            let nx = x + ahead.x, nt = t + ahead.tape
            for q in 0 ..< 4 { dlg_prefetch(nx + q &* H) }
            for q in 0 ..< 6 { dlg_prefetch_for_write(nt + q &* H) }
            if let cPrev { dlg_prefetch(cPrev + ahead.tape) }
        }
        let i = VectorMath.sigmoid(load(s) + load16(x, n))
        let f = VectorMath.sigmoid(load(s + 16) + load16(x + H, n))
        let g = VectorMath.tanh(load(s + 32) + load16(x + 2 &* H, n))
        let o = VectorMath.sigmoid(load(s + 48) + load16(x + 3 &* H, n))
        let cp = cPrev.map { load16($0, n) } ?? Vector16()
        let c = f * cp + i * g
        let h = o * VectorMath.tanh(c)
        store16(h, t, n)
        store16(c, t + H, n)
        store16(i, t + 2 &* H, n)
        store16(f, t + 3 &* H, n)
        store16(g, t + 4 &* H, n)
        store16(o, t + 5 &* H, n)
    }

    // The loops over a tile's rows are functions of their own, kept small, so
    // that the optimizer inlines the sigmoid and tanh into them: it stops
    // inlining into a caller past a size limit, and then every vector pays a
    // call and the function's whole latency. One body, two entry points: with
    // all 16 units (the width a constant, so no partial loads or stores in
    // the loop) and with the last units of H.

    /// `cell` for rows `rows`, `units` units from `j0`.
    @inline(__always)
    static func forwardRows(scratch: UnsafePointer<Float>, rows: Range<Int>, units: Int, column j0: Int, hidden H: Int,
                            xb: UnsafePointer<Float>, xbRowStride: Int, cPrev: UnsafePointer<Float>?, cRowStride: Int,
                            tape: UnsafeMutablePointer<Float>, tapeRowStride: Int, ahead: Ahead) {
        var s = scratch
        for b in rows {
            cell(scratch: s, xb: xb + b &* xbRowStride + j0, cPrev: cPrev.map { $0 + b &* cRowStride + j0 },
                 tape: tape + b &* tapeRowStride + j0, hidden: H, units: units, ahead: ahead)
            s += 64
        }
    }

    /// `cell` for rows `rows`, 16 units from `j0` (all inside H).
    @inline(never)
    static func forwardCells(scratch: UnsafePointer<Float>, rows: Range<Int>, column j0: Int, hidden H: Int,
                             xb: UnsafePointer<Float>, xbRowStride: Int, cPrev: UnsafePointer<Float>?, cRowStride: Int,
                             tape: UnsafeMutablePointer<Float>, tapeRowStride: Int, ahead: Ahead) {
        forwardRows(scratch: scratch, rows: rows, units: 16, column: j0, hidden: H, xb: xb, xbRowStride: xbRowStride,
                    cPrev: cPrev, cRowStride: cRowStride, tape: tape, tapeRowStride: tapeRowStride, ahead: ahead)
    }

    /// `cell` for rows `rows`, the last `units` (< 16) units of H from `j0`.
    @inline(never)
    static func forwardCellsPartial(scratch: UnsafePointer<Float>, rows: Range<Int>, units: Int, column j0: Int, hidden H: Int,
                                    xb: UnsafePointer<Float>, xbRowStride: Int, cPrev: UnsafePointer<Float>?, cRowStride: Int,
                                    tape: UnsafeMutablePointer<Float>, tapeRowStride: Int, ahead: Ahead) {
        forwardRows(scratch: scratch, rows: rows, units: units, column: j0, hidden: H, xb: xb, xbRowStride: xbRowStride,
                    cPrev: cPrev, cRowStride: cRowStride, tape: tape, tapeRowStride: tapeRowStride, ahead: ahead)
    }

    // MARK: Backward

    /// Packs panels `panels` of W_hh (4H × H, 32 hidden units per panel) for the backward steps.
    public static func packBackward(whh: UnsafePointer<Float>, hidden H: Int, panels: Range<Int>,
                                    into packed: UnsafeMutablePointer<Float>) {
        PackedProduct.pack(b: whh, rowStride: H, columnStride: 1, k: 4 &* H, n: H, panels: panels, into: packed)
    }

    /// One backward step for panels `panels` (32 units each) and batch rows
    /// `rows`: dh = dtape_h + dNext·W_hh (dNext nil: no next step), then the
    /// cell's backward into dpre row b, `carry` (B × H, dense) updated to dc⊙f.
    /// Row b of `tape` is at `+ b·tapeRowStride` (the step's 6H values), of
    /// `dtape` at `+ b·dtapeRowStride` (its `dtapeWidth` values: 6H, or H when
    /// it is the gradient of h alone and c's is zero), of `dpre` at
    /// `+ b·dpreRowStride` (4H), of `cPrev` at `+ b·cRowStride` (nil: zeros).
    public static func backwardStep(dNext: UnsafePointer<Float>?, dNextRowStride: Int, tape: UnsafePointer<Float>,
                                    tapeRowStride: Int, dtape: UnsafePointer<Float>, dtapeRowStride: Int, dtapeWidth: Int,
                                    cPrev: UnsafePointer<Float>?, cRowStride: Int,
                                    carry: UnsafeMutablePointer<Float>, dpre: UnsafeMutablePointer<Float>, dpreRowStride: Int,
                                    packed: UnsafePointer<Float>, rows batch: Range<Int>, hidden H: Int, panels: Range<Int>,
                                    nextStep: Int, scratch: UnsafeMutablePointer<Float>) {
        let k = 4 &* H
        for p in panels {
            let j0 = p &* 32, width = min(32, H &- j0)
            let panel = packed + p &* 32 &* k
            let ahead = Ahead(panel: p, of: panels, width: 32, nextStep: nextStep, steps: (4 &* H, 6 &* H, dtapeWidth))
            var i0 = batch.lowerBound
            while i0 < batch.upperBound {
                let height = min(8, batch.upperBound &- i0)
                tile(a: dNext.map { $0 + i0 &* dNextRowStride }, aRowStride: dNextRowStride, panel: panel, k: k, height: height,
                     scratch: scratch)
                let rows = i0 ..< i0 &+ height
                let d = BackwardDtape(base: dtape, rowStride: dtapeRowStride, hasC: dtapeWidth != H)
                if width == 32 {
                    backwardCells(scratch: scratch, rows: rows, column: j0, hidden: H, tape: tape,
                                  tapeRowStride: tapeRowStride, dtape: d, cPrev: cPrev, cRowStride: cRowStride, carry: carry,
                                  dpre: dpre, dpreRowStride: dpreRowStride, ahead: ahead)
                } else {
                    backwardCellsPartial(scratch: scratch, rows: rows, width: width, column: j0, hidden: H, tape: tape,
                                         tapeRowStride: tapeRowStride, dtape: d, cPrev: cPrev, cRowStride: cRowStride,
                                         carry: carry, dpre: dpre, dpreRowStride: dpreRowStride, ahead: ahead)
                }
                i0 &+= 8
            }
        }
    }

    /// The gradient operand of the backward step: the step's first row, the row
    /// stride, and whether each row has c's gradient after h's (else it is zero).
    struct BackwardDtape {
        var base: UnsafePointer<Float>, rowStride: Int, hasC: Bool
    }

    /// The cell's backward for one row, `n` (≤ 16) units: dh = `dhW` (dNext·W_hh)
    /// + dtape's h; dc = dtape's c (`hasC`, else 0) + the carry + dh·o·(1 − tanh²c);
    /// the carry ← dc·f; dpre ← the four gates' pre-activation gradients.
    /// Like the forward's cells, each prefetches the lines the next panel's cells will use (`ahead`).
    @inline(__always)
    static func cellBackward(dhW: UnsafePointer<Float>, row: UnsafePointer<Float>, drow: UnsafePointer<Float>, hasC: Bool,
                             cPrev: UnsafePointer<Float>?, carry cr: UnsafeMutablePointer<Float>,
                             dpre out: UnsafeMutablePointer<Float>, hidden H: Int, units n: Int, ahead: Ahead) {
        if ahead.x != 0 {
            let nr = row + ahead.tape, nd = drow + ahead.dtape, no = out + ahead.x
            for q in 1 ..< 6 { dlg_prefetch(nr + q &* H) }
            // c_prev is the c of the step before, in the tape too: not a line of this step's.
            if let cPrev { dlg_prefetch(cPrev + ahead.tape) }
            dlg_prefetch(nd)
            if hasC { dlg_prefetch(nd + H) }
            for q in 0 ..< 4 { dlg_prefetch_for_write(no + q &* H) }
        }
        let dh = load(dhW) + load16(drow, n)
        let c = load16(row + H, n)
        let i = load16(row + 2 &* H, n), f = load16(row + 3 &* H, n)
        let g = load16(row + 4 &* H, n), o = load16(row + 5 &* H, n)
        let tc = VectorMath.tanh(c)
        let dcIn = hasC ? load16(drow + H, n) : Vector16()
        let dc = dcIn + load16(cr, n) + dh * o * (1 - tc * tc)
        let cp = cPrev.map { load16($0, n) } ?? Vector16()
        store16(dc * f, cr, n)
        store16(dc * g * (i * (1 - i)), out, n)
        store16(dc * cp * (f * (1 - f)), out + H, n)
        store16(dc * i * (1 - g * g), out + 2 &* H, n)
        store16(dh * tc * (o * (1 - o)), out + 3 &* H, n)
    }

    /// `cellBackward` for rows `rows`, `width` units from `j0`, 16 at a time.
    @inline(__always)
    static func backwardRows(scratch: UnsafePointer<Float>, rows: Range<Int>, width: Int, column j0: Int, hidden H: Int,
                             tape: UnsafePointer<Float>, tapeRowStride: Int, dtape: BackwardDtape,
                             cPrev: UnsafePointer<Float>?, cRowStride: Int, carry: UnsafeMutablePointer<Float>,
                             dpre: UnsafeMutablePointer<Float>, dpreRowStride: Int, ahead: Ahead) {
        var s = scratch
        for b in rows {
            var half = 0
            while half < width {
                let j = j0 &+ half
                cellBackward(dhW: s + half, row: tape + b &* tapeRowStride + j, drow: dtape.base + b &* dtape.rowStride + j,
                             hasC: dtape.hasC,
                             cPrev: cPrev.map { $0 + b &* cRowStride + j }, carry: carry + b &* H + j,
                             dpre: dpre + b &* dpreRowStride + j, hidden: H, units: min(16, width &- half),
                             ahead: ahead)
                half &+= 16
            }
            s += 32
        }
    }

    /// `cellBackward` for rows `rows`, the 32 units from `j0` (all inside H);
    /// a function of its own for the reason the forward's loops are.
    @inline(never)
    static func backwardCells(scratch: UnsafePointer<Float>, rows: Range<Int>, column j0: Int, hidden H: Int,
                              tape: UnsafePointer<Float>, tapeRowStride: Int, dtape: BackwardDtape,
                              cPrev: UnsafePointer<Float>?, cRowStride: Int, carry: UnsafeMutablePointer<Float>,
                              dpre: UnsafeMutablePointer<Float>, dpreRowStride: Int, ahead: Ahead) {
        backwardRows(scratch: scratch, rows: rows, width: 32, column: j0, hidden: H, tape: tape,
                     tapeRowStride: tapeRowStride, dtape: dtape, cPrev: cPrev, cRowStride: cRowStride, carry: carry, dpre: dpre,
                     dpreRowStride: dpreRowStride, ahead: ahead)
    }

    /// `cellBackward` for rows `rows`, the last `width` (< 32) units of H from `j0`.
    @inline(never)
    static func backwardCellsPartial(scratch: UnsafePointer<Float>, rows: Range<Int>, width: Int, column j0: Int, hidden H: Int,
                                     tape: UnsafePointer<Float>, tapeRowStride: Int, dtape: BackwardDtape,
                                     cPrev: UnsafePointer<Float>?, cRowStride: Int, carry: UnsafeMutablePointer<Float>,
                                     dpre: UnsafeMutablePointer<Float>, dpreRowStride: Int, ahead: Ahead) {
        backwardRows(scratch: scratch, rows: rows, width: width, column: j0, hidden: H, tape: tape,
                     tapeRowStride: tapeRowStride, dtape: dtape, cPrev: cPrev, cRowStride: cRowStride, carry: carry, dpre: dpre,
                     dpreRowStride: dpreRowStride, ahead: ahead)
    }
}

#endif
