/// The forward of max/min pooling with 2×2 windows at stride 2 and no padding (LeNet's, VGG's,
/// most CNNs' pooling), as branch-free loops over output rows: each window's four cells are two
/// adjacent pairs of two input rows, and its winner is found by selects, not branches (which
/// mispredict on every other window): on LeNet-5's two pooling layers, one thread, 1.5–1.9×
/// and 4.2–4.9× the general window scan's speed. The same results, ties and NaN included: the first best cell in row-major
/// order wins, and the first NaN of a window wins over everything. (The backward keeps the
/// general scan: written the same way it was no faster.)
extension Pool2D {
    /// True when every window is the 2×2 block at (2·oy, 2·ox), inside the plane.
    @inlinable
    static func isPairwise(_ g: Pool2DGeometry) -> Bool {
        g.kh == 2 && g.kw == 2 && g.strideH == 2 && g.strideW == 2
            && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0
            && 2 * g.oh <= g.h && 2 * g.ow <= g.w
    }

    /// Whether cell value v replaces the best so far: strictly better, or the first NaN. As
    /// `!(v ≤ best) ∧ best = best`: true for v > best and for a NaN v, false once best is NaN.
    @inlinable @inline(__always)
    static func beats<T: KernelScalar>(_ v: T, _ best: T, isMax: Bool) -> Bool {
        let notWorse = isMax ? !(v <= best) : !(v >= best)
        return notWorse && best == best
    }

    /// The winner of the window (a, b / c, d): its value and its position 0…3 in row-major order.
    @inlinable @inline(__always)
    static func pairwiseWinner<T: KernelScalar>(_ a: T, _ b: T, _ c: T, _ d: T, isMax: Bool) -> (T, Int32) {
        var best = a, at: Int32 = 0
        let tb = beats(b, best, isMax: isMax)
        best = tb ? b : best; at = tb ? 1 : at
        let tc = beats(c, best, isMax: isMax)
        best = tc ? c : best; at = tc ? 2 : at
        let td = beats(d, best, isMax: isMax)
        best = td ? d : best; at = td ? 3 : at
        return (best, at)
    }

    @inlinable @inline(never)
    static func pairwisePlane<T: KernelScalar>(_ g: Pool2DGeometry, input x: UnsafePointer<T>,
                                               output y: UnsafeMutablePointer<T>,
                                               indices: UnsafeMutablePointer<Int32>?, isMax: Bool) {
        if isMax { pairwisePlaneLoops(g, input: x, output: y, indices: indices, isMax: true) }
        else { pairwisePlaneLoops(g, input: x, output: y, indices: indices, isMax: false) }
    }

    @inlinable @inline(__always)
    static func pairwisePlaneLoops<T: KernelScalar>(_ g: Pool2DGeometry, input x: UnsafePointer<T>,
                                                    output y: UnsafeMutablePointer<T>,
                                                    indices: UnsafeMutablePointer<Int32>?, isMax: Bool) {
        let (w, ow) = (g.w, g.ow)
        for oy in 0 ..< g.oh {
            let r0 = x + 2 * oy * w, r1 = r0 + w
            let out = y + oy * ow
            if let indices {
                let idx = indices + oy * ow
                let rowStart = Int32(truncatingIfNeeded: 2 * oy * w)
                let width = Int32(truncatingIfNeeded: w)
                for ox in 0 ..< ow {
                    let (v, at) = pairwiseWinner(r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1], isMax: isMax)
                    out[ox] = v
                    // Position 0…3 → flat cell: row offset (at ≥ 2) plus column offset (at odd).
                    idx[ox] = rowStart + Int32(truncatingIfNeeded: 2 * ox) + (at >> 1) * width + (at & 1)
                }
            } else {
                var ox = 0
                while ox < ow {
                    out[ox] = pairwiseWinner(r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1], isMax: isMax).0
                    ox += 1
                }
            }
        }
    }
}
