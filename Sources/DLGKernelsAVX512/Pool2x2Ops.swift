// The gradient of max and min pooling over 2×2 windows at stride 2 (f32,
// AVX-512), sixteen windows at a time: a row pair's 32 input cells are split into the windows'
// four corners (even and odd lanes of two rows), the winner is chosen by
// lane masks, the output gradient is routed to it, and the four corners are
// interleaved back into the two rows. (The forward, written the same way, ran
// slower than DLGKernels' portable pairwise loop on LeNet-5's poolings and
// was not kept.) Winner rule as
// DLGKernels' `Pool2D.pairwiseWinner`: the first best cell in row-major order,
// a NaN over everything, the first NaN over later ones.

#if arch(x86_64)

public enum Pool2x2Ops {
    typealias Vector32 = SIMD32<Float>

    /// Whether `v` replaces `best` (per lane): strictly better, or a NaN where `best` is not one.
    @inline(__always)
    static func beats(_ v: Vector16, _ best: Vector16, isMax: Bool) -> SIMDMask<SIMD16<Int32>> {
        let notWorse = isMax ? .!(v .<= best) : .!(v .>= best)
        return notWorse .& (best .== best)
    }

    /// The winners of 16 windows whose corners are a, b (top row) and c, d
    /// (bottom row): their values and positions 0…3.
    @inline(__always)
    static func winners(_ a: Vector16, _ b: Vector16, _ c: Vector16, _ d: Vector16,
                        isMax: Bool) -> (Vector16, Vector16) {
        var best = a, at = Vector16()
        let tb = beats(b, best, isMax: isMax)
        best.replace(with: b, where: tb); at.replace(with: 1, where: tb)
        let tc = beats(c, best, isMax: isMax)
        best.replace(with: c, where: tc); at.replace(with: 2, where: tc)
        let td = beats(d, best, isMax: isMax)
        best.replace(with: d, where: td); at.replace(with: 3, where: td)
        return (best, at)
    }

    /// 32 cells from `p` when `readable` cells are there, else the first `readable` (the others 0).
    @inline(__always)
    static func load32(_ p: UnsafePointer<Float>, readable: Int) -> Vector32 {
        if readable >= 32 { return UnsafeRawPointer(p).loadUnaligned(as: Vector32.self) }
        return partial32(p, max(0, readable))
    }

    @inline(never)
    static func partial32(_ p: UnsafePointer<Float>, _ count: Int) -> Vector32 {
        var v = Vector32()
        for l in 0 ..< count { v[l] = p[l] }
        return v
    }

    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>, readable: Int) -> Vector16 {
        readable >= 16 ? load(p) : TileOps.loadPartial(p, max(0, readable))
    }

    /// Stores `v` whole when `writable` cells are there, else its first `lanes` lanes.
    @inline(__always)
    static func store32(_ v: Vector32, _ p: UnsafeMutablePointer<Float>, lanes: Int, writable: Int) {
        if writable >= 32 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector32.self); return }
        storePartial32(v, p, lanes)
    }

    @inline(never)
    static func storePartial32(_ v: Vector32, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
        for l in 0 ..< lanes { p[l] = v[l] }
    }

    static let laneIndex = Vector16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

    // Lane shuffles: the even and odd halves' getters become permutes, and so does a vector
    // built of constant lanes of two others (the halves' setters go through memory lane by lane).
    @inline(__always)
    static func even(_ v: Vector32) -> Vector16 { v.evenHalf }

    @inline(__always)
    static func odd(_ v: Vector32) -> Vector16 { v.oddHalf }

    /// (a₀, b₀, a₁, b₁, …, a₁₅, b₁₅)
    @inline(__always)
    static func interleave(_ a: Vector16, _ b: Vector16) -> Vector32 {
        Vector32(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7],
                 a[8], b[8], a[9], b[9], a[10], b[10], a[11], b[11], a[12], b[12], a[13], b[13], a[14], b[14],
                 a[15], b[15])
    }

    /// The gradient of `planes` consecutive planes of exactly `2·oh × 2·ow` cells: each
    /// window's output gradient to its winning cell, zero (or, with `accumulate`, nothing)
    /// to the other three. `readableInput` cells from `x` on and `readableGradient` from
    /// `dy` on may be read. Lanes past a row carry a zero gradient, so a whole-vector
    /// store past the row writes zeros (or, accumulating, the cells' own values) that
    /// later stores overwrite; the planes' last rows, and the upper row of a row's
    /// later blocks, write lane by lane.
    public static func backward(input x: UnsafePointer<Float>, readableInput: Int, gradOutput dy: UnsafePointer<Float>,
                                readableGradient: Int, gradInput dx: UnsafeMutablePointer<Float>, oh: Int, ow: Int,
                                planes: Int, isMax: Bool, accumulate: Bool) {
        if isMax {
            backwardLoops(x, readableInput, dy, readableGradient, dx, oh, ow, planes, isMax: true, accumulate: accumulate)
        } else {
            backwardLoops(x, readableInput, dy, readableGradient, dx, oh, ow, planes, isMax: false, accumulate: accumulate)
        }
    }

    @inline(__always)
    static func backwardLoops(_ x: UnsafePointer<Float>, _ readableInput: Int, _ dy: UnsafePointer<Float>,
                              _ readableGradient: Int, _ dx: UnsafeMutablePointer<Float>, _ oh: Int, _ ow: Int,
                              _ planes: Int, isMax: Bool, accumulate: Bool) {
        let w = 2 * ow, cells = planes * 4 * oh * ow
        let zero = Vector16()
        for plane in 0 ..< planes {
            for oy in 0 ..< oh {
                let top = (plane * 2 * oh + 2 * oy) * w, g = (plane * oh + oy) * ow
                var ox = 0
                while ox < ow {
                    let lanes = min(16, ow - ox)
                    let r0 = top + 2 * ox, r1 = r0 + w
                    let t = load32(x + r0, readable: readableInput - r0)
                    let b = load32(x + r1, readable: readableInput - r1)
                    let (_, at) = winners(even(t), odd(t), even(b), odd(b), isMax: isMax)
                    let grad = zero.replacing(with: load16(dy + g + ox, readable: readableGradient - g - ox),
                                              where: laneIndex .< Vector16(repeating: Float(lanes)))
                    var upper = interleave(zero.replacing(with: grad, where: at .== 0),
                                           zero.replacing(with: grad, where: at .== 1))
                    var lower = interleave(zero.replacing(with: grad, where: at .== 2),
                                           zero.replacing(with: grad, where: at .== 3))
                    if accumulate {
                        upper += load32(UnsafePointer(dx + r0), readable: cells - r0)
                        lower += load32(UnsafePointer(dx + r1), readable: cells - r1)
                    }
                    // Past its row the upper store reaches the lower row, which only this
                    // block's lower store (the row's first block) rewrites afterwards.
                    store32(upper, dx + r0, lanes: 2 * lanes, writable: ox == 0 || lanes == 16 ? cells - r0 : 0)
                    store32(lower, dx + r1, lanes: 2 * lanes, writable: cells - r1)
                    ox += 16
                }
            }
        }
    }
}

#endif
