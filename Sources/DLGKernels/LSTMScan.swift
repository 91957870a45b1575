#if arch(x86_64)
import DLGKernelsAVX512
#endif

/// The fused recurrence of an LSTM layer over all its time steps (the graph
/// ops `lstm_scan` and `lstm_scan_grad`): the input's share of the gate
/// pre-activations (x·W_ihᵀ + biases) is computed beforehand by one big matrix
/// product; what remains per step is h_prev·W_hhᵀ and the cell, which these
/// kernels run step after step without leaving the kernel.
///
/// Layouts (dense, row-major; gate order i, f, g, o as in PyTorch):
/// - `xb` [B, T, 4H]: the gate pre-activations from the input.
/// - `whh` [4H, H]: PyTorch's weight_hh (rows in gate order).
/// - `h0`, `c0` [B, H] each, both given or both nil (zeros).
/// - `tape` [B, T, 6H]: per (b, t) h_t | c_t | i_t | f_t | g_t | o_t, the gates
///   after their sigmoid/tanh.
/// - `dtape` [B, T, 6H]: the gradient w.r.t. the tape; only its h and c parts
///   are read (the gate activations are internal to the op: their parts of the
///   gradient are ignored). Or [B, T, H] (`dhOnly`): the gradient w.r.t. the
///   tape's h part alone, c's being zero (a layer whose only output is h).
/// - `dpre` [B, T, 4H], or [B, T + 1, 4H] with h0/c0: the gradient w.r.t. xb,
///   and in row T of each batch element dh0 | dc0 | zeros (2H).
///
/// `reverse` runs t = T−1, …, 0 (the state before t = T−1 is h0/c0).
///
/// Per step: a = xb_t + h_prev·W_hhᵀ; i = σ(a_i), f = σ(a_f), g = tanh(a_g),
/// o = σ(a_o); c = f⊙c_prev + i⊙g; h = o⊙tanh(c), with `SIMDMath.sigmoid` and
/// `SIMDMath.tanh` (the definitions the elementwise kernels use). Backward, in
/// the opposite order: dh = dtape_h + dpre_next·W_hh; dc = dtape_c + carry +
/// dh⊙o⊙(1 − tanh²c); carry ← dc⊙f; dpre = [dc⊙g⊙i(1−i), dc⊙c_prev⊙f(1−f),
/// dc⊙i⊙(1−g²), dh⊙tanh(c)⊙o(1−o)].
///
/// Two paths: the portable one (any `KernelScalar`, and f32 with
/// `DLG_KERNELS=baseline`) runs each step's product through `GemmPlan` and the
/// cell in SIMD16 loops; on AVX-512 CPUs f32 runs `LSTMTiles` (DLGKernelsAVX512),
/// which packs W_hh once per call and finishes each 8-row tile of the product
/// with the cell while it is in L1. The AVX-512 path splits the batch over the
/// threads when it has a block of 8 rows per thread (each thread then runs all
/// the steps of its rows, with no barrier between steps), else each step by
/// blocks of hidden units (one barrier per step); either way every element is
/// computed the same way whatever the thread count (the portable path's
/// `GemmPlan` may split a product's inner dimension and add partials).
public enum LSTMScan {
    // MARK: Workspace

    /// Workspace elements `forward` needs.
    public static func forwardWorkspace<T: KernelScalar>(_: T.Type, batch: Int, hidden: Int, threads: Int) -> Int {
        let b = max(0, batch), h = max(0, hidden), n = max(1, threads)
        var count = portableForwardWorkspace(batch: b, hidden: h, threads: n)
        #if arch(x86_64)
        if T.self == Float.self { count = max(count, LSTMTiles.forwardWorkspace(hidden: h, threads: n)) }
        #endif
        return count
    }

    /// Workspace elements `backward` needs.
    public static func backwardWorkspace<T: KernelScalar>(_: T.Type, batch: Int, hidden: Int, threads: Int) -> Int {
        let b = max(0, batch), h = max(0, hidden), n = max(1, threads)
        var count = portableBackwardWorkspace(batch: b, hidden: h, threads: n)
        #if arch(x86_64)
        if T.self == Float.self { count = max(count, LSTMTiles.backwardWorkspace(batch: b, hidden: h, threads: n)) }
        #endif
        return count
    }

    static func portableForwardWorkspace(batch: Int, hidden: Int, threads: Int) -> Int {
        // The gate pre-activations of one step [B, 4H], then the GEMM's partial products.
        let plan = try? GemmPlan(m: batch, n: 4 * hidden, k: hidden, transB: true)
        return batch * 4 * hidden + (plan?.workspaceCount(threads: threads) ?? 0)
    }

    static func portableBackwardWorkspace(batch: Int, hidden: Int, threads: Int) -> Int {
        // dh [B, H], the carried dc [B, H], then the GEMM's partial products.
        let plan = try? GemmPlan(m: batch, n: hidden, k: 4 * hidden)
        return 2 * batch * hidden + (plan?.workspaceCount(threads: threads) ?? 0)
    }

    // MARK: Entry points

    // The entry points are generic but not inlinable: `@_specialize` gives each a
    // Float and a Double body (specialized through the whole call tree), which
    // the generic entry jumps to (unspecialized, SIMD16<T> arithmetic goes
    // through witness tables: the portable path took 260 ms instead of a few).

    /// Runs the recurrence, writing every element of `tape` (batch·steps·6·hidden).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func forward<T: KernelScalar>(xb: UnsafePointer<T>, whh: UnsafePointer<T>, h0: UnsafePointer<T>?, c0: UnsafePointer<T>?,
                                                tape: UnsafeMutablePointer<T>, batch: Int, steps: Int, hidden: Int, reverse: Bool,
                                                workspace: UnsafeMutablePointer<T>, threads: Int, rowStable: Bool = false) {
        forward(xb: xb, whh: whh, h0: h0, c0: c0, tape: tape, batch: batch, steps: steps, hidden: hidden, reverse: reverse,
                workspace: workspace, threads: threads, fast: usesAVX512(T.self) && !rowStable, rowStable: rowStable)
    }

    /// The gradient w.r.t. the gate pre-activations (and dh0/dc0), writing every element of `dpre`.
    /// `dhOnly`: `dtape` is [B, T, H], the gradient of the tape's h part (c's is zero).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func backward<T: KernelScalar>(tape: UnsafePointer<T>, whh: UnsafePointer<T>, h0: UnsafePointer<T>?, c0: UnsafePointer<T>?,
                                                 dtape: UnsafePointer<T>, dhOnly: Bool = false, dpre: UnsafeMutablePointer<T>,
                                                 batch: Int, steps: Int, hidden: Int, reverse: Bool,
                                                 workspace: UnsafeMutablePointer<T>, threads: Int, rowStable: Bool = false) {
        backward(tape: tape, whh: whh, h0: h0, c0: c0, dtape: dtape, dhOnly: dhOnly, dpre: dpre, batch: batch, steps: steps,
                 hidden: hidden, reverse: reverse, workspace: workspace, threads: threads,
                 fast: usesAVX512(T.self) && !rowStable, rowStable: rowStable)
    }

    /// `forward` on the path `fast` names (true: the AVX-512 f32 tiles, only when
    /// `usesAVX512(T.self)`; false: the portable path). `rowStable` (a batch-invariant
    /// program's, `dlg run` and `dlg serve`): the portable path with every step's product
    /// row-stable (`GemmPlan.runRowStable`), so a sequence's result does not depend on the
    /// batch it runs in or the thread count.
    static func forward<T: KernelScalar>(xb: UnsafePointer<T>, whh: UnsafePointer<T>, h0: UnsafePointer<T>?, c0: UnsafePointer<T>?,
                                         tape: UnsafeMutablePointer<T>, batch: Int, steps: Int, hidden: Int, reverse: Bool,
                                         workspace: UnsafeMutablePointer<T>, threads: Int, fast: Bool, rowStable: Bool = false) {
        let (B, T_, H) = (batch, steps, hidden)
        if B <= 0 || T_ <= 0 || H <= 0 { return }
        let threads = max(1, threads)
        #if arch(x86_64)
        if fast && usesAVX512(T.self) {
            fastForward(xb: f32(xb), whh: f32(whh), h0: h0.map { f32($0) }, c0: c0.map { f32($0) }, tape: f32(tape),
                        batch: B, steps: T_, hidden: H, reverse: reverse, workspace: f32(workspace), threads: threads)
            return
        }
        #endif
        let tapeRow = T_ * 6 * H, xbRow = T_ * 4 * H
        let pre = workspace, partials = workspace + B * 4 * H
        let plan0 = try? GemmPlan(m: B, n: 4 * H, k: H, transB: true, lda: H)
        let planTape = try? GemmPlan(m: B, n: 4 * H, k: H, transB: true, lda: tapeRow)
        let partialCount = plan0?.workspaceCount(threads: threads) ?? 0
        for s in 0 ..< T_ {
            let t = reverse ? T_ - 1 - s : s
            let tPrev = reverse ? t + 1 : t - 1
            let hPrev: UnsafePointer<T>?, hStride: Int, cPrev: UnsafePointer<T>?, cStride: Int
            if s == 0 {
                (hPrev, hStride, cPrev, cStride) = (h0, H, c0, H)
            } else {
                let row = UnsafePointer(tape + tPrev * 6 * H)
                (hPrev, hStride, cPrev, cStride) = (row, tapeRow, row + H, tapeRow)
            }
            // pre ← h_prev·W_hhᵀ (0 without a previous state).
            if let hPrev {
                if let plan = s == 0 ? plan0 : planTape {
                    if rowStable {
                        plan.runRowStable(a: hPrev, b: whh, c: pre, threads: threads)
                    } else {
                        plan.run(a: hPrev, b: whh, c: pre, threads: threads,
                                 workspace: UnsafeMutableBufferPointer(start: partials, count: partialCount))
                    }
                } else {
                    plainProduct(a: hPrev, lda: hStride, b: whh, bTransposed: true, ldb: H, m: B, n: 4 * H, k: H, c: pre, ldc: 4 * H)
                }
            } else {
                pre.update(repeating: 0, count: B * 4 * H)
            }
            Threads.parallelFor(0 ..< B, threads: threads, minChunk: max(1, 2048 / H)) { rows in
                for b in rows {
                    cellForward(pre: pre + b * 4 * H, xb: xb + b * xbRow + t * 4 * H, cPrev: cPrev.map { $0 + b * cStride },
                                out: tape + b * tapeRow + t * 6 * H, hidden: H)
                }
            }
        }
    }

    /// `backward` on the path `fast` names.
    static func backward<T: KernelScalar>(tape: UnsafePointer<T>, whh: UnsafePointer<T>, h0: UnsafePointer<T>?, c0: UnsafePointer<T>?,
                                          dtape: UnsafePointer<T>, dhOnly: Bool = false, dpre: UnsafeMutablePointer<T>,
                                          batch: Int, steps: Int, hidden: Int, reverse: Bool,
                                          workspace: UnsafeMutablePointer<T>, threads: Int, fast: Bool, rowStable: Bool = false) {
        let (B, T_, H) = (batch, steps, hidden)
        if B <= 0 || H <= 0 || T_ < 0 { return }
        let withState = h0 != nil && c0 != nil
        let Tp = T_ + (withState ? 1 : 0)
        let threads = max(1, threads)
        if T_ == 0 {
            // No step: dh0 = dc0 = 0.
            if withState { dpre.update(repeating: 0, count: B * 4 * H) }
            return
        }
        #if arch(x86_64)
        if fast && usesAVX512(T.self) {
            fastBackward(tape: f32(tape), whh: f32(whh), c0: withState ? c0.map { f32($0) } : nil, dtape: f32(dtape),
                         dhOnly: dhOnly, dpre: f32(dpre), batch: B, steps: T_, hidden: H, reverse: reverse,
                         withState: withState, workspace: f32(workspace), threads: threads)
            return
        }
        #endif
        let tapeRow = T_ * 6 * H, dpreRow = Tp * 4 * H
        let dtapeWidth = dhOnly ? H : 6 * H, dtapeRow = T_ * dtapeWidth
        let dh = workspace, carry = workspace + B * H, partials = workspace + 2 * B * H
        let plan = try? GemmPlan(m: B, n: H, k: 4 * H, lda: dpreRow)
        let partialCount = plan?.workspaceCount(threads: threads) ?? 0
        carry.update(repeating: 0, count: B * H)
        // dh ← dpre_next·W_hh, or 0 without a next step.
        func product(_ a: UnsafePointer<T>?, into c: UnsafeMutablePointer<T>, ldc: Int) {
            guard let a else {
                for b in 0 ..< B { (c + b * ldc).update(repeating: 0, count: H) }
                return
            }
            if let plan = ldc == H ? plan : try? GemmPlan(m: B, n: H, k: 4 * H, lda: dpreRow, ldc: ldc) {
                if rowStable {
                    plan.runRowStable(a: a, b: whh, c: c, threads: threads)
                } else {
                    plan.run(a: a, b: whh, c: c, threads: threads,
                             workspace: UnsafeMutableBufferPointer(start: partials, count: partialCount))
                }
            } else {
                plainProduct(a: a, lda: dpreRow, b: whh, bTransposed: false, ldb: H, m: B, n: H, k: 4 * H, c: c, ldc: ldc)
            }
        }
        for s in stride(from: T_ - 1, through: 0, by: -1) {
            let t = reverse ? T_ - 1 - s : s
            let tPrev = reverse ? t + 1 : t - 1, tNext = reverse ? t - 1 : t + 1
            product(s == T_ - 1 ? nil : UnsafePointer(dpre + tNext * 4 * H), into: dh, ldc: H)
            let cPrev: UnsafePointer<T>?, cStride: Int
            if s == 0 {
                (cPrev, cStride) = (withState ? c0 : nil, H)
            } else {
                (cPrev, cStride) = (tape + tPrev * 6 * H + H, tapeRow)
            }
            Threads.parallelFor(0 ..< B, threads: threads, minChunk: max(1, 2048 / H)) { rows in
                for b in rows {
                    cellBackward(dh: dh + b * H, row: tape + b * tapeRow + t * 6 * H,
                                 dtape: dtape + b * dtapeRow + t * dtapeWidth, dhOnly: dhOnly,
                                 cPrev: cPrev.map { $0 + b * cStride }, carry: carry + b * H, out: dpre + b * dpreRow + t * 4 * H,
                                 hidden: H)
                }
            }
        }
        if withState {
            // Row T: dh0 = dpre_first·W_hh | dc0 = the last carry | zeros.
            let first = reverse ? T_ - 1 : 0
            product(UnsafePointer(dpre + first * 4 * H), into: dpre + T_ * 4 * H, ldc: dpreRow)
            for b in 0 ..< B {
                let row = dpre + b * dpreRow + T_ * 4 * H
                (row + H).update(from: carry + b * H, count: H)
                (row + 2 * H).update(repeating: 0, count: 2 * H)
            }
        }
    }

    // MARK: Portable pieces

    /// C (m × n, row stride ldc) ← A·op(B) with plain loops: for sizes `GemmPlan` refuses (beyond BLAS's 32-bit range).
    static func plainProduct<T: KernelScalar>(a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, bTransposed: Bool, ldb: Int,
                                              m: Int, n: Int, k: Int, c: UnsafeMutablePointer<T>, ldc: Int) {
        for i in 0 ..< m {
            for j in 0 ..< n {
                var s: T = 0
                for p in 0 ..< k { s += a[i * lda + p] * (bTransposed ? b[j * ldb + p] : b[p * ldb + j]) }
                c[i * ldc + j] = s
            }
        }
    }

    @inlinable @inline(__always)
    static func load<T: KernelScalar>(_ p: UnsafePointer<T>, _ n: Int) -> SIMD16<T> {
        n == 16 ? SIMDMath.load(p) : SIMDMath.loadPartial(p, n, fill: 0)
    }

    @inlinable @inline(__always)
    static func store<T: KernelScalar>(_ v: SIMD16<T>, _ p: UnsafeMutablePointer<T>, _ n: Int) {
        if n == 16 { SIMDMath.store(v, p) } else { SIMDMath.storePartial(v, p, n) }
    }

    /// One batch row of one step: `pre` = h_prev·W_hhᵀ (4H), `xb` (4H), c_prev
    /// (H, nil for zeros) → `out` = h | c | i | f | g | o (6H).
    static func cellForward<T: KernelScalar>(pre: UnsafePointer<T>, xb: UnsafePointer<T>, cPrev: UnsafePointer<T>?,
                                             out: UnsafeMutablePointer<T>, hidden H: Int) {
        var j = 0
        while j < H {
            let w = min(16, H - j)
            let i = SIMDMath.sigmoid(load(pre + j, w) + load(xb + j, w))
            let f = SIMDMath.sigmoid(load(pre + H + j, w) + load(xb + H + j, w))
            let g = SIMDMath.tanh(load(pre + 2 * H + j, w) + load(xb + 2 * H + j, w))
            let o = SIMDMath.sigmoid(load(pre + 3 * H + j, w) + load(xb + 3 * H + j, w))
            let cp = cPrev.map { load($0 + j, w) } ?? SIMD16<T>()
            let c = f * cp + i * g
            let h = o * SIMDMath.tanh(c)
            store(h, out + j, w)
            store(c, out + H + j, w)
            store(i, out + 2 * H + j, w)
            store(f, out + 3 * H + j, w)
            store(g, out + 4 * H + j, w)
            store(o, out + 5 * H + j, w)
            j += 16
        }
    }

    /// One batch row of one backward step: `dh` = dpre_next·W_hh (H), the tape's
    /// row (6H), dtape's row (its h and c parts; `dhOnly`: h's alone, c's zero),
    /// c_prev (nil for zeros), the carried dc (H, replaced by dc⊙f) → `out` = dpre's row (4H).
    static func cellBackward<T: KernelScalar>(dh dhNext: UnsafePointer<T>, row: UnsafePointer<T>, dtape: UnsafePointer<T>,
                                              dhOnly: Bool, cPrev: UnsafePointer<T>?, carry: UnsafeMutablePointer<T>,
                                              out: UnsafeMutablePointer<T>, hidden H: Int) {
        var j = 0
        while j < H {
            let w = min(16, H - j)
            let dh = load(dhNext + j, w) + load(dtape + j, w)
            let c = load(row + H + j, w)
            let i = load(row + 2 * H + j, w), f = load(row + 3 * H + j, w)
            let g = load(row + 4 * H + j, w), o = load(row + 5 * H + j, w)
            let tc = SIMDMath.tanh(c)
            let dcIn = dhOnly ? SIMD16<T>() : load(dtape + H + j, w)
            let dc = dcIn + load(carry + j, w) + dh * o * (1 - tc * tc)
            let cp = cPrev.map { load($0 + j, w) } ?? SIMD16<T>()
            store(dc * f, carry + j, w)
            store(dc * g * (i * (1 - i)), out + j, w)
            store(dc * cp * (f * (1 - f)), out + H + j, w)
            store(dc * i * (1 - g * g), out + 2 * H + j, w)
            store(dh * tc * (o * (1 - o)), out + 3 * H + j, w)
            j += 16
        }
    }
}

#if arch(x86_64)
extension LSTMScan {
    /// Parts of a step's panels per thread: at least `GemmPlan.splitWork` multiply-adds each.
    static func minimumPanels(perPanel: Int) -> Int {
        max(1, (GemmPlan.splitWork + perPanel - 1) / max(perPanel, 1))
    }

    /// Blocks of 8 batch rows per thread when the scan splits the batch (each
    /// thread then runs every step of its own rows, with no barrier between
    /// steps), or nil when there are fewer blocks than threads and each step's
    /// hidden units are split instead (one barrier per step).
    static func rowSplit(batch: Int, threads: Int) -> Int? {
        let blocks = (batch + 7) / 8
        return threads > 1 && blocks >= threads ? blocks : nil
    }

    /// The AVX-512 f32 forward: W_hhᵀ packed once, then the steps
    /// (`LSTMTiles.forwardStep`), split over the threads by batch rows when
    /// there are enough (`rowSplit`), else per step by panels of 16 hidden units.
    static func fastForward(xb: UnsafePointer<Float>, whh: UnsafePointer<Float>, h0: UnsafePointer<Float>?, c0: UnsafePointer<Float>?,
                            tape: UnsafeMutablePointer<Float>, batch B: Int, steps T: Int, hidden H: Int, reverse: Bool,
                            workspace: UnsafeMutablePointer<Float>, threads: Int) {
        let panels = LSTMTiles.forwardPanels(hidden: H)
        let packed = workspace, scratch = workspace + panels * 64 * H
        Threads.parallelChunks(0 ..< panels, threads: threads, minChunk: max(1, 2048 / H)) { _, range in
            LSTMTiles.packForward(whh: whh, hidden: H, panels: range, into: packed)
        }
        let tapeRow = T * 6 * H, xbRow = T * 4 * H
        func step(_ s: Int, rows: Range<Int>, panels range: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
            let t = reverse ? T - 1 - s : s
            let tPrev = reverse ? t + 1 : t - 1
            let hPrev: UnsafePointer<Float>?, hStride: Int, cPrev: UnsafePointer<Float>?, cStride: Int
            if s == 0 {
                (hPrev, hStride, cPrev, cStride) = (h0, H, c0, H)
            } else {
                let row = UnsafePointer(tape + tPrev * 6 * H)
                (hPrev, hStride, cPrev, cStride) = (row, tapeRow, row + H, tapeRow)
            }
            LSTMTiles.forwardStep(hPrev: hPrev, hRowStride: hStride, cPrev: cPrev, cRowStride: cStride,
                                  xb: xb + t * 4 * H, xbRowStride: xbRow, tape: tape + t * 6 * H, tapeRowStride: tapeRow,
                                  packed: packed, rows: rows, hidden: H, panels: range,
                                  nextStep: s == T - 1 ? 0 : (reverse ? -1 : 1), scratch: scratch)
        }
        if let blocks = rowSplit(batch: B, threads: threads) {
            Threads.parallelChunks(0 ..< blocks, threads: threads) { chunk, range in
                let rows = range.lowerBound * 8 ..< min(B, range.upperBound * 8)
                for s in 0 ..< T { step(s, rows: rows, panels: 0 ..< panels, scratch: scratch + chunk * LSTMTiles.scratchPerThread) }
            }
            return
        }
        let minChunk = minimumPanels(perPanel: B * 64 * H)
        for s in 0 ..< T {
            Threads.parallelChunks(0 ..< panels, threads: threads, minChunk: minChunk) { chunk, range in
                step(s, rows: 0 ..< B, panels: range, scratch: scratch + chunk * LSTMTiles.scratchPerThread)
            }
        }
    }

    /// The AVX-512 f32 backward: W_hh packed once, then the steps in reverse
    /// processing order (`LSTMTiles.backwardStep`), split like the forward's
    /// (`rowSplit`; per step by panels of 32 hidden units otherwise); with
    /// h0/c0, dh0 by one more packed product.
    static func fastBackward(tape: UnsafePointer<Float>, whh: UnsafePointer<Float>, c0: UnsafePointer<Float>?,
                             dtape: UnsafePointer<Float>, dhOnly: Bool, dpre: UnsafeMutablePointer<Float>, batch B: Int, steps T: Int,
                             hidden H: Int, reverse: Bool, withState: Bool, workspace: UnsafeMutablePointer<Float>, threads: Int) {
        let panels = LSTMTiles.backwardPanels(hidden: H)
        let packed = workspace, carry = workspace + panels * 32 * 4 * H, scratch = carry + B * H
        Threads.parallelChunks(0 ..< panels, threads: threads, minChunk: max(1, 1024 / H)) { _, range in
            LSTMTiles.packBackward(whh: whh, hidden: H, panels: range, into: packed)
        }
        carry.update(repeating: 0, count: B * H)
        let tapeRow = T * 6 * H, dpreRow = (T + (withState ? 1 : 0)) * 4 * H
        let dtapeWidth = dhOnly ? H : 6 * H
        func step(_ s: Int, rows: Range<Int>, panels range: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
            let t = reverse ? T - 1 - s : s
            let tPrev = reverse ? t + 1 : t - 1, tNext = reverse ? t - 1 : t + 1
            let dNext: UnsafePointer<Float>? = s == T - 1 ? nil : UnsafePointer(dpre + tNext * 4 * H)
            let cPrev: UnsafePointer<Float>?, cStride: Int
            if s == 0 {
                (cPrev, cStride) = (c0, H)
            } else {
                (cPrev, cStride) = (tape + tPrev * 6 * H + H, tapeRow)
            }
            LSTMTiles.backwardStep(dNext: dNext, dNextRowStride: dpreRow, tape: tape + t * 6 * H, tapeRowStride: tapeRow,
                                   dtape: dtape + t * dtapeWidth, dtapeRowStride: T * dtapeWidth, dtapeWidth: dtapeWidth,
                                   cPrev: cPrev, cRowStride: cStride, carry: carry,
                                   dpre: dpre + t * 4 * H, dpreRowStride: dpreRow, packed: packed, rows: rows, hidden: H,
                                   panels: range, nextStep: s == 0 ? 0 : (reverse ? 1 : -1), scratch: scratch)
        }
        let minChunk = minimumPanels(perPanel: B * 32 * 4 * H)
        if let blocks = rowSplit(batch: B, threads: threads) {
            Threads.parallelChunks(0 ..< blocks, threads: threads) { chunk, range in
                let rows = range.lowerBound * 8 ..< min(B, range.upperBound * 8)
                for s in stride(from: T - 1, through: 0, by: -1) {
                    step(s, rows: rows, panels: 0 ..< panels, scratch: scratch + chunk * LSTMTiles.scratchPerThread)
                }
            }
        } else {
            for s in stride(from: T - 1, through: 0, by: -1) {
                Threads.parallelChunks(0 ..< panels, threads: threads, minChunk: minChunk) { chunk, range in
                    step(s, rows: 0 ..< B, panels: range, scratch: scratch + chunk * LSTMTiles.scratchPerThread)
                }
            }
        }
        if withState {
            // Row T: dh0 = dpre_first·W_hh | dc0 = the last carry | zeros.
            let first = UnsafePointer(dpre + (reverse ? T - 1 : 0) * 4 * H)
            Threads.parallelChunks(0 ..< panels, threads: threads, minChunk: minChunk) { _, range in
                PackedProduct.run(a: first, aRowStride: dpreRow, aColumnStride: 1, packed: packed, k: 4 * H, n: H,
                                  c: dpre + T * 4 * H, ldc: dpreRow, rows: 0 ..< B, panels: range, epilogue: .init())
            }
            for b in 0 ..< B {
                let row = dpre + b * dpreRow + T * 4 * H
                (row + H).update(from: carry + b * H, count: H)
                (row + 2 * H).update(repeating: 0, count: 2 * H)
            }
        }
    }
}
#endif
