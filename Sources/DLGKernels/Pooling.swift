#if arch(x86_64)
import DLGKernelsAVX512
#endif

/// The shape of a 2-D pooling, layout NCHW: input `[n, c, h, w]`, output
/// `[n, c, oh, ow]`. Output window `(y, x)` covers the input rows
/// `y·strideH − padTop ..< y·strideH − padTop + kh` and the columns
/// `x·strideW − padLeft ..< x·strideW − padLeft + kw`; cells outside the
/// input `[0, h) × [0, w)` are padding.
///
/// `oh` and `ow` are given by the caller (the compiler chooses floor or ceil
/// rounding, see `outputSize`); the initializer checks that every window
/// overlaps the input in at least one cell.
public struct Pool2DGeometry: Sendable, Hashable, CustomStringConvertible {
    public let n: Int, c: Int, h: Int, w: Int
    public let kh: Int, kw: Int
    public let strideH: Int, strideW: Int
    public let padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    public let oh: Int, ow: Int

    /// Throws, with the numbers, when a size, kernel extent, stride or output
    /// size is not positive, a padding is negative, a window lies entirely in
    /// the padding (first window: `kh ≤ padTop`; last window:
    /// `(oh−1)·strideH − padTop ≥ h`, likewise for the width), or a plane is
    /// too large for 32-bit indices.
    public init(n: Int, c: Int, h: Int, w: Int, kernelH kh: Int, kernelW kw: Int,
                strideH: Int, strideW: Int, padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0,
                oh: Int, ow: Int) throws(KernelGeometryError) {
        for (name, v) in [("batch n", n), ("channels c", c), ("height h", h), ("width w", w),
                          ("kernel height kh", kh), ("kernel width kw", kw), ("strideH", strideH),
                          ("strideW", strideW), ("output height oh", oh), ("output width ow", ow)] where v < 1 {
            throw KernelGeometryError("pool2d: \(name) = \(v) must be positive")
        }
        for (name, v) in [("padTop", padTop), ("padBottom", padBottom), ("padLeft", padLeft), ("padRight", padRight)] where v < 0 {
            throw KernelGeometryError("pool2d: \(name) = \(v) must not be negative")
        }
        if kh <= padTop {
            throw KernelGeometryError("pool2d: the first window (rows −\(padTop) ..< \(kh - padTop)) lies entirely in the top padding: kernel height \(kh) ≤ padTop \(padTop)")
        }
        if kw <= padLeft {
            throw KernelGeometryError("pool2d: the first window (columns −\(padLeft) ..< \(kw - padLeft)) lies entirely in the left padding: kernel width \(kw) ≤ padLeft \(padLeft)")
        }
        if (oh - 1) * strideH - padTop >= h {
            throw KernelGeometryError("pool2d: the last window of oh = \(oh) starts at row (oh−1)·strideH − padTop = (\(oh)−1)·\(strideH) − \(padTop) = \((oh - 1) * strideH - padTop), outside the input height \(h)")
        }
        if (ow - 1) * strideW - padLeft >= w {
            throw KernelGeometryError("pool2d: the last window of ow = \(ow) starts at column (ow−1)·strideW − padLeft = (\(ow)−1)·\(strideW) − \(padLeft) = \((ow - 1) * strideW - padLeft), outside the input width \(w)")
        }
        let (plane, o1) = h.multipliedReportingOverflow(by: w)
        if o1 || plane > Int(Int32.max) {
            throw KernelGeometryError("pool2d: an input plane of h·w = \(h)·\(w) cells is too large for 32-bit indices")
        }
        var total = 1
        for x in [n, c, max(h * w, oh * ow)] {
            let (r, o) = total.multipliedReportingOverflow(by: x)
            if o { throw KernelGeometryError("pool2d: the tensor [\(n),\(c),\(h),\(w)] → [\(n),\(c),\(oh),\(ow)] is too large") }
            total = r
        }
        self.n = n; self.c = c; self.h = h; self.w = w
        self.kh = kh; self.kw = kw
        self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padBottom = padBottom; self.padLeft = padLeft; self.padRight = padRight
        self.oh = oh; self.ow = ow
    }

    /// The output size along one axis:
    ///
    /// - floor mode: `(input + padBegin + padEnd − kernel) / stride + 1` (floor);
    /// - ceil mode: the same with the division rounded up, then reduced by
    ///   one if the last window would start at or after `input + padBegin`
    ///   in padded coordinates — PyTorch's rule that the last window must
    ///   start inside the input or the leading padding.
    ///
    /// Throws when a size or stride is not positive, a padding is negative,
    /// or the window is larger than the padded input.
    public static func outputSize(input: Int, kernel: Int, stride: Int, padBegin: Int, padEnd: Int,
                                  ceilMode: Bool) throws(KernelGeometryError) -> Int {
        if input < 1 || kernel < 1 || stride < 1 {
            throw KernelGeometryError("pool2d: input size \(input), kernel \(kernel) and stride \(stride) must be positive")
        }
        if padBegin < 0 || padEnd < 0 {
            throw KernelGeometryError("pool2d: paddings \(padBegin) and \(padEnd) must not be negative")
        }
        let span = input + padBegin + padEnd - kernel
        if span < 0 {
            throw KernelGeometryError("pool2d: output size (\(input) + \(padBegin) + \(padEnd) − \(kernel))/\(stride) + 1 is not positive: the window \(kernel) exceeds the padded input \(input + padBegin + padEnd)")
        }
        var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
        if ceilMode && (out - 1) * stride >= input + padBegin { out -= 1 }
        return out
    }

    @inlinable public var inputPlane: Int { h * w }
    @inlinable public var outputPlane: Int { oh * ow }
    @inlinable public var planes: Int { n * c }
    @inlinable public var inputCount: Int { n * c * h * w }
    @inlinable public var outputCount: Int { n * c * oh * ow }

    public var description: String {
        "pool2d [\(n),\(c),\(h),\(w)] window \(kh)×\(kw) stride \(strideH)×\(strideW) pad t\(padTop) b\(padBottom) l\(padLeft) r\(padRight) → [\(n),\(c),\(oh),\(ow)]"
    }
}

/// What a pooling window computes.
public enum PoolKind: Sendable, Hashable, Codable {
    /// The largest input cell of the window; padding cells are ignored.
    case max
    /// The smallest input cell of the window; padding cells are ignored.
    case min
    /// The sum of the window's input cells divided by the number of cells of
    /// the window that lie inside the padded input
    /// `[−padTop, h + padBottom) × [−padLeft, w + padRight)` when
    /// `countIncludePad`, or inside the input `[0, h) × [0, w)` otherwise.
    case average(countIncludePad: Bool)
}

/// Pooling kernels, parallel over the n·c planes.
///
/// Max/min: the first extreme cell in row-major window order wins ties; a NaN
/// in the window wins (the first NaN) and propagates. Argmax/argmin indices
/// are `Int32` flat indices `iy·w + ix` into the input plane.
public enum Pool2D {
    // MARK: Windowed pooling

    /// `output[i, ch, y, x] = kind(window (y, x) of input plane (i, ch))`.
    ///
    /// - input `[n, c, h, w]`, output `[n, c, oh, ow]` (overwritten).
    /// - indices `[n, c, oh, ow]` or nil: for max and min, receives the
    ///   winning cell's index in its input plane; ignored for average.
    @inlinable
    public static func forward<T: KernelScalar>(_ g: Pool2DGeometry, kind: PoolKind, input: UnsafePointer<T>,
                                                output: UnsafeMutablePointer<T>,
                                                indices: UnsafeMutablePointer<Int32>? = nil,
                                                threads: Int = Threads.count) {
        let inPlane = g.inputPlane, outPlane = g.outputPlane
        let pairwise = isPairwise(g)
        Threads.parallelFor(0 ..< g.planes, threads: threads, minChunk: max(1, 8192 / inPlane)) { planes in
            for u in planes {
                switch kind {
                case .max, .min:
                    if pairwise {
                        pairwisePlane(g, input: input + u * inPlane, output: output + u * outPlane,
                                      indices: indices.map { $0 + u * outPlane }, isMax: kind == .max)
                    } else {
                        extremumPlane(g, input: input + u * inPlane, output: output + u * outPlane,
                                      indices: indices.map { $0 + u * outPlane }, isMax: kind == .max)
                    }
                case .average(let countIncludePad):
                    averagePlane(g, countIncludePad: countIncludePad, input: input + u * inPlane,
                                 output: output + u * outPlane)
                }
            }
        }
    }

    /// The number of cells that the divisor of window (y, x) counts along
    /// one axis: the window `[start, start + k)` clipped to `[−padBegin,
    /// size + padEnd)` (countIncludePad) or to `[0, size)`.
    @inlinable @inline(__always)
    static func windowCells(start: Int, kernel: Int, size: Int, padEnd: Int, countIncludePad: Bool) -> Int {
        countIncludePad ? Swift.min(start + kernel, size + padEnd) - start
                        : Swift.min(start + kernel, size) - Swift.max(start, 0)
    }

    /// Max or min pooling of one plane, window by window (see `extremum`).
    /// Not inlined: as its own function its loops keep their bounds and
    /// pointers in registers. `isMax` is turned into a constant of each
    /// copy of the loops: tested inside the window scan, it costs 5×.
    @inlinable @inline(never)
    static func extremumPlane<T: KernelScalar>(_ g: Pool2DGeometry, input x: UnsafePointer<T>,
                                               output y: UnsafeMutablePointer<T>,
                                               indices: UnsafeMutablePointer<Int32>?, isMax: Bool) {
        if isMax {
            extremumPlaneLoops(g, input: x, output: y, indices: indices, isMax: true)
        } else {
            extremumPlaneLoops(g, input: x, output: y, indices: indices, isMax: false)
        }
    }

    @inlinable @inline(__always)
    static func extremumPlaneLoops<T: KernelScalar>(_ g: Pool2DGeometry, input x: UnsafePointer<T>,
                                                    output y: UnsafeMutablePointer<T>,
                                                    indices: UnsafeMutablePointer<Int32>?, isMax: Bool) {
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let (sh, sw, pt, pl) = (g.strideH, g.strideW, g.padTop, g.padLeft)
        let unrolled = (g.kh == 2 && g.kw == 2) || (g.kh == 3 && g.kw == 3)
        for oy in 0 ..< oh {
            let y0 = oy * sh - pt
            let rows = Swift.max(y0, 0) ..< Swift.min(y0 + g.kh, h)
            // Windows that lie inside the input horizontally, when the row also does.
            let inner = unrolled && rows.count == g.kh
                ? Conv2D.validRange(offset: -pl, stride: sw, inSize: w - g.kw + 1, outSize: ow) : 0 ..< 0
            for ox in 0 ..< ow {
                let x0 = ox * sw - pl
                let (best, at): (T, Int)
                if inner.contains(ox) {
                    (best, at) = g.kh == 2 ? extremum2x2(x, width: w, y0: y0, x0: x0, isMax: isMax)
                                           : extremum3x3(x, width: w, y0: y0, x0: x0, isMax: isMax)
                } else {
                    let columns = Swift.max(x0, 0) ..< Swift.min(x0 + g.kw, w)
                    (best, at) = extremum(x, width: w, rows: rows, columns: columns, isMax: isMax)
                }
                y[oy * ow + ox] = best
                indices?[oy * ow + ox] = Int32(truncatingIfNeeded: at)
            }
        }
    }

    /// One step of a window scan: take `v` (at flat index `cell`) when it is
    /// strictly better than the best so far.
    @inlinable @inline(__always)
    static func scanStep<T: KernelScalar>(_ v: T, _ cell: Int, _ best: inout T, _ at: inout Int, isMax: Bool) {
        let take = isMax ? v > best : v < best
        best = take ? v : best
        at = take ? cell : at
    }

    /// `extremum` of the 2×2 window at (y0, x0), inside the plane, unrolled:
    /// without an inner loop the selects stay branch-free (a select chain
    /// carried around a loop is turned into branches by the x86 backend).
    /// A NaN anywhere (detected through the sum) falls back to `extremum`.
    @inlinable @inline(__always)
    static func extremum2x2<T: KernelScalar>(_ plane: UnsafePointer<T>, width w: Int, y0: Int, x0: Int,
                                             isMax: Bool) -> (T, Int) {
        let c = y0 * w + x0
        let p = plane + c
        let (a, b, d, e) = (p[0], p[1], p[w], p[w + 1])
        let sum = a + b + d + e
        if sum != sum {
            return extremum(plane, width: w, rows: y0 ..< y0 + 2, columns: x0 ..< x0 + 2, isMax: isMax)
        }
        var best = a, at = c
        scanStep(b, c + 1, &best, &at, isMax: isMax)
        scanStep(d, c + w, &best, &at, isMax: isMax)
        scanStep(e, c + w + 1, &best, &at, isMax: isMax)
        return (best, at)
    }

    /// `extremum` of the 3×3 window at (y0, x0), inside the plane, unrolled
    /// as `extremum2x2`.
    @inlinable @inline(__always)
    static func extremum3x3<T: KernelScalar>(_ plane: UnsafePointer<T>, width w: Int, y0: Int, x0: Int,
                                             isMax: Bool) -> (T, Int) {
        let c = y0 * w + x0
        let p0 = plane + c, p1 = p0 + w, p2 = p1 + w
        let (a0, a1, a2) = (p0[0], p0[1], p0[2])
        let (b0, b1, b2) = (p1[0], p1[1], p1[2])
        let (d0, d1, d2) = (p2[0], p2[1], p2[2])
        let sum = a0 + a1 + a2 + b0 + b1 + b2 + d0 + d1 + d2
        if sum != sum {
            return extremum(plane, width: w, rows: y0 ..< y0 + 3, columns: x0 ..< x0 + 3, isMax: isMax)
        }
        var best = a0, at = c
        scanStep(a1, c + 1, &best, &at, isMax: isMax)
        scanStep(a2, c + 2, &best, &at, isMax: isMax)
        scanStep(b0, c + w, &best, &at, isMax: isMax)
        scanStep(b1, c + w + 1, &best, &at, isMax: isMax)
        scanStep(b2, c + w + 2, &best, &at, isMax: isMax)
        scanStep(d0, c + 2 * w, &best, &at, isMax: isMax)
        scanStep(d1, c + 2 * w + 1, &best, &at, isMax: isMax)
        scanStep(d2, c + 2 * w + 2, &best, &at, isMax: isMax)
        return (best, at)
    }

    /// Average pooling of one plane, window by window: the sum of the
    /// window's input cells in row-major order divided by the cell count.
    @inlinable @inline(never)
    static func averagePlane<T: KernelScalar>(_ g: Pool2DGeometry, countIncludePad: Bool, input x: UnsafePointer<T>,
                                              output y: UnsafeMutablePointer<T>) {
        if countIncludePad {
            averagePlaneLoops(g, countIncludePad: true, input: x, output: y)
        } else {
            averagePlaneLoops(g, countIncludePad: false, input: x, output: y)
        }
    }

    @inlinable @inline(__always)
    static func averagePlaneLoops<T: KernelScalar>(_ g: Pool2DGeometry, countIncludePad: Bool, input x: UnsafePointer<T>,
                                                   output y: UnsafeMutablePointer<T>) {
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let (sh, sw, pt, pl) = (g.strideH, g.strideW, g.padTop, g.padLeft)
        let unrolled = (g.kh == 2 && g.kw == 2) || (g.kh == 3 && g.kw == 3)
        let full = T(g.kh * g.kw)
        for oy in 0 ..< oh {
            let y0 = oy * sh - pt
            let rows = Swift.max(y0, 0) ..< Swift.min(y0 + g.kh, h)
            let rowCells = windowCells(start: y0, kernel: g.kh, size: h, padEnd: g.padBottom, countIncludePad: countIncludePad)
            let inner = unrolled && rows.count == g.kh
                ? Conv2D.validRange(offset: -pl, stride: sw, inSize: w - g.kw + 1, outSize: ow) : 0 ..< 0
            for ox in 0 ..< ow {
                let x0 = ox * sw - pl
                if inner.contains(ox) {
                    // A window inside the input: kh·kw cells whatever the padding convention.
                    let p = x + y0 * w + x0
                    let sum = g.kh == 2
                        ? p[0] + p[1] + p[w] + p[w + 1]
                        : p[0] + p[1] + p[2] + p[w] + p[w + 1] + p[w + 2] + p[2 * w] + p[2 * w + 1] + p[2 * w + 2]
                    y[oy * ow + ox] = sum / full
                    continue
                }
                let columns = Swift.max(x0, 0) ..< Swift.min(x0 + g.kw, w)
                var sum: T = 0
                for iy in rows {
                    let row = x + iy * w
                    for ix in columns { sum += row[ix] }
                }
                let cells = rowCells * windowCells(start: x0, kernel: g.kw, size: w, padEnd: g.padRight,
                                                   countIncludePad: countIncludePad)
                y[oy * ow + ox] = sum / T(cells)
            }
        }
    }

    /// The first extreme value of a window in row-major order and its flat
    /// index `iy·w + ix`; the first NaN if the window holds one. Callers pass
    /// `isMax` as a constant. In this loop the x86 backend turns the index
    /// select into a branch, which random data mispredicts; the unrolled
    /// 2×2 and 3×3 versions avoid that for windows inside the input.
    @inlinable @inline(__always)
    static func extremum<T: KernelScalar>(_ plane: UnsafePointer<T>, width w: Int, rows: Range<Int>, columns: Range<Int>,
                                          isMax: Bool) -> (T, Int) {
        var at = rows.lowerBound * w + columns.lowerBound
        var best = plane[at]
        if best != best { return (best, at) }
        if isMax {
            for iy in rows {
                let row = plane + iy * w
                for ix in columns {
                    let v = row[ix]
                    if v != v { return (v, iy * w + ix) }
                    let take = v > best
                    best = take ? v : best
                    at = take ? iy * w + ix : at
                }
            }
        } else {
            for iy in rows {
                let row = plane + iy * w
                for ix in columns {
                    let v = row[ix]
                    if v != v { return (v, iy * w + ix) }
                    let take = v < best
                    best = take ? v : best
                    at = take ? iy * w + ix : at
                }
            }
        }
        return (best, at)
    }

    /// Gradient of max or min pooling from the indices its forward wrote:
    /// `gradInput[i, ch, indices[i, ch, y, x]] += gradOutput[i, ch, y, x]`,
    /// into gradInput `[n, c, h, w]` (zeroed first unless `accumulate`).
    /// An index outside the plane is a caller bug and traps.
    @inlinable
    public static func backward<T: KernelScalar>(_ g: Pool2DGeometry, indices: UnsafePointer<Int32>,
                                                 gradOutput: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
                                                 accumulate: Bool = false, threads: Int = Threads.count) {
        let inPlane = g.inputPlane, outPlane = g.outputPlane
        Threads.parallelFor(0 ..< g.planes, threads: threads, minChunk: max(1, 8192 / inPlane)) { planes in
            for u in planes {
                scatterPlane(gradOutput + u * outPlane, indices: indices + u * outPlane, count: outPlane,
                             into: gradInput + u * inPlane, planeSize: inPlane, accumulate: accumulate)
            }
        }
    }

    /// `dx[indices[o]] += dy[o]` for o < count, dx zeroed first unless `accumulate`.
    @inlinable @inline(never)
    static func scatterPlane<T: KernelScalar>(_ dy: UnsafePointer<T>, indices: UnsafePointer<Int32>, count: Int,
                                              into dx: UnsafeMutablePointer<T>, planeSize: Int, accumulate: Bool) {
        if !accumulate { dx.update(repeating: 0, count: planeSize) }
        for o in 0 ..< count {
            let at = Int(indices[o])
            precondition(at >= 0 && at < planeSize, "pool2d backward: index \(at) outside the plane of \(planeSize) cells")
            dx[at] += dy[o]
        }
    }

    /// Gradient of any pooling kind without stored indices: max and min
    /// recompute each window's winner from `input` (same tie rule as the
    /// forward); average spreads `gradOutput / divisor` over the window's
    /// input cells (`input` is not read). gradInput `[n, c, h, w]` is zeroed
    /// first unless `accumulate`.
    @inlinable
    public static func backward<T: KernelScalar>(_ g: Pool2DGeometry, kind: PoolKind, input: UnsafePointer<T>,
                                                 gradOutput: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
                                                 accumulate: Bool = false, threads: Int = Threads.count) {
        if case .average(let countIncludePad) = kind {
            averageBackward(g, countIncludePad: countIncludePad, gradOutput: gradOutput, gradInput: gradInput,
                            accumulate: accumulate, threads: threads)
            return
        }
        let inPlane = g.inputPlane, outPlane = g.outputPlane
        #if arch(x86_64)
        if usesAVX512(T.self) && isPairwise(g) && g.h == 2 * g.oh && g.w == 2 * g.ow {
            Threads.parallelFor(0 ..< g.planes, threads: threads, minChunk: max(1, 8192 / inPlane)) { planes in
                let first = planes.lowerBound
                Pool2x2Ops.backward(input: f32(input + first * inPlane), readableInput: (g.planes - first) * inPlane,
                                    gradOutput: f32(gradOutput + first * outPlane),
                                    readableGradient: (g.planes - first) * outPlane,
                                    gradInput: f32(gradInput + first * inPlane), oh: g.oh, ow: g.ow,
                                    planes: planes.count, isMax: kind == .max, accumulate: accumulate)
            }
            return
        }
        #endif
        Threads.parallelFor(0 ..< g.planes, threads: threads, minChunk: max(1, 8192 / inPlane)) { planes in
            for u in planes {
                extremumBackwardPlane(g, input: input + u * inPlane, gradOutput: gradOutput + u * outPlane,
                                      gradInput: gradInput + u * inPlane, isMax: kind == .max, accumulate: accumulate)
            }
        }
    }

    /// Recomputes each window's winner of one plane (as the forward does)
    /// and routes the window's gradient to it.
    @inlinable @inline(never)
    static func extremumBackwardPlane<T: KernelScalar>(_ g: Pool2DGeometry, input x: UnsafePointer<T>,
                                                       gradOutput dy: UnsafePointer<T>, gradInput dx: UnsafeMutablePointer<T>,
                                                       isMax: Bool, accumulate: Bool) {
        if !accumulate { dx.update(repeating: 0, count: g.inputPlane) }
        if isMax {
            extremumBackwardLoops(g, input: x, gradOutput: dy, gradInput: dx, isMax: true)
        } else {
            extremumBackwardLoops(g, input: x, gradOutput: dy, gradInput: dx, isMax: false)
        }
    }

    @inlinable @inline(__always)
    static func extremumBackwardLoops<T: KernelScalar>(_ g: Pool2DGeometry, input x: UnsafePointer<T>,
                                                       gradOutput dy: UnsafePointer<T>, gradInput dx: UnsafeMutablePointer<T>,
                                                       isMax: Bool) {
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let (sh, sw, pt, pl) = (g.strideH, g.strideW, g.padTop, g.padLeft)
        let unrolled = (g.kh == 2 && g.kw == 2) || (g.kh == 3 && g.kw == 3)
        for oy in 0 ..< oh {
            let y0 = oy * sh - pt
            let rows = Swift.max(y0, 0) ..< Swift.min(y0 + g.kh, h)
            let inner = unrolled && rows.count == g.kh
                ? Conv2D.validRange(offset: -pl, stride: sw, inSize: w - g.kw + 1, outSize: ow) : 0 ..< 0
            for ox in 0 ..< ow {
                let x0 = ox * sw - pl
                let at: Int
                if inner.contains(ox) {
                    at = g.kh == 2 ? extremum2x2(x, width: w, y0: y0, x0: x0, isMax: isMax).1
                                   : extremum3x3(x, width: w, y0: y0, x0: x0, isMax: isMax).1
                } else {
                    let columns = Swift.max(x0, 0) ..< Swift.min(x0 + g.kw, w)
                    at = extremum(x, width: w, rows: rows, columns: columns, isMax: isMax).1
                }
                dx[at] += dy[oy * ow + ox]
            }
        }
    }

    /// Gradient of average pooling: each input cell of window (y, x) gets
    /// `gradOutput[y, x] / divisor(y, x)`, the divisor as in the forward.
    /// gradInput `[n, c, h, w]` is zeroed first unless `accumulate`.
    @inlinable
    public static func averageBackward<T: KernelScalar>(_ g: Pool2DGeometry, countIncludePad: Bool,
                                                        gradOutput: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
                                                        accumulate: Bool = false, threads: Int = Threads.count) {
        let inPlane = g.inputPlane, outPlane = g.outputPlane
        Threads.parallelFor(0 ..< g.planes, threads: threads, minChunk: max(1, 8192 / inPlane)) { planes in
            for u in planes {
                averageBackwardPlane(g, countIncludePad: countIncludePad, gradOutput: gradOutput + u * outPlane,
                                     gradInput: gradInput + u * inPlane, accumulate: accumulate)
            }
        }
    }

    @inlinable @inline(never)
    static func averageBackwardPlane<T: KernelScalar>(_ g: Pool2DGeometry, countIncludePad: Bool,
                                                      gradOutput dy: UnsafePointer<T>, gradInput dx: UnsafeMutablePointer<T>,
                                                      accumulate: Bool) {
        if !accumulate { dx.update(repeating: 0, count: g.inputPlane) }
        if countIncludePad {
            averageBackwardLoops(g, countIncludePad: true, gradOutput: dy, gradInput: dx)
        } else {
            averageBackwardLoops(g, countIncludePad: false, gradOutput: dy, gradInput: dx)
        }
    }

    @inlinable @inline(__always)
    static func averageBackwardLoops<T: KernelScalar>(_ g: Pool2DGeometry, countIncludePad: Bool,
                                                      gradOutput dy: UnsafePointer<T>, gradInput dx: UnsafeMutablePointer<T>) {
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let (sh, sw, pt, pl) = (g.strideH, g.strideW, g.padTop, g.padLeft)
        let unrolled = (g.kh == 2 && g.kw == 2) || (g.kh == 3 && g.kw == 3)
        let full = T(g.kh * g.kw)
        for oy in 0 ..< oh {
            let y0 = oy * sh - pt
            let ylo = Swift.max(y0, 0), yhi = Swift.min(y0 + g.kh, h)
            let rows = windowCells(start: y0, kernel: g.kh, size: h, padEnd: g.padBottom, countIncludePad: countIncludePad)
            let inner = unrolled && yhi - ylo == g.kh
                ? Conv2D.validRange(offset: -pl, stride: sw, inSize: w - g.kw + 1, outSize: ow) : 0 ..< 0
            for ox in 0 ..< ow {
                let x0 = ox * sw - pl
                if inner.contains(ox) {
                    let share = dy[oy * ow + ox] / full
                    let p = dx + y0 * w + x0
                    p[0] += share; p[1] += share; p[w] += share; p[w + 1] += share
                    if g.kh == 3 {
                        p[2] += share; p[w + 2] += share
                        p[2 * w] += share; p[2 * w + 1] += share; p[2 * w + 2] += share
                    }
                    continue
                }
                let xlo = Swift.max(x0, 0), xhi = Swift.min(x0 + g.kw, w)
                let cols = windowCells(start: x0, kernel: g.kw, size: w, padEnd: g.padRight, countIncludePad: countIncludePad)
                let share = dy[oy * ow + ox] / T(rows * cols)
                for iy in ylo ..< yhi {
                    let row = dx + iy * w
                    for ix in xlo ..< xhi { row[ix] += share }
                }
            }
        }
    }

    // MARK: Global pooling

    /// `extremum` over a whole plane of `count` cells, with `isMax` made a
    /// constant of each loop copy.
    @inlinable @inline(never)
    static func planeExtremum<T: KernelScalar>(_ x: UnsafePointer<T>, count: Int, isMax: Bool) -> (T, Int) {
        isMax ? extremum(x, width: count, rows: 0 ..< 1, columns: 0 ..< count, isMax: true)
              : extremum(x, width: count, rows: 0 ..< 1, columns: 0 ..< count, isMax: false)
    }

    /// Global pooling over each plane: input `[planes, planeSize]` (for NCHW,
    /// planes = n·c and planeSize = h·w), output `[planes]` (that is
    /// `[n, c]`). Average divides the plane's sum by planeSize; max and min
    /// follow the windowed rules and write the winner's flat index into
    /// `indices[planes]` when given.
    @inlinable
    public static func globalForward<T: KernelScalar>(kind: PoolKind, planes: Int, planeSize: Int, input: UnsafePointer<T>,
                                                      output: UnsafeMutablePointer<T>,
                                                      indices: UnsafeMutablePointer<Int32>? = nil,
                                                      threads: Int = Threads.count) {
        precondition(planes >= 0 && planeSize >= 1 && planeSize <= Int(Int32.max),
                     "global pooling: \(planes) planes of \(planeSize) cells")
        Threads.parallelFor(0 ..< planes, threads: threads, minChunk: max(1, 8192 / planeSize)) { range in
            for u in range {
                let x = input + u * planeSize
                switch kind {
                case .average:
                    output[u] = Conv2D.sumRow(x, count: planeSize) / T(planeSize)
                case .max, .min:
                    let (best, at) = planeExtremum(x, count: planeSize, isMax: kind == .max)
                    output[u] = best
                    indices?[u] = Int32(truncatingIfNeeded: at)
                }
            }
        }
    }

    /// Gradient of global max or min pooling from its indices:
    /// `gradInput[u, indices[u]] = gradOutput[u]`, every other cell 0 (or
    /// unchanged when `accumulate`, the gradient then being added).
    @inlinable
    public static func globalBackward<T: KernelScalar>(planes: Int, planeSize: Int, indices: UnsafePointer<Int32>,
                                                       gradOutput: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
                                                       accumulate: Bool = false, threads: Int = Threads.count) {
        precondition(planes >= 0 && planeSize >= 1, "global pooling: \(planes) planes of \(planeSize) cells")
        Threads.parallelFor(0 ..< planes, threads: threads, minChunk: max(1, 8192 / planeSize)) { range in
            for u in range {
                let dx = gradInput + u * planeSize
                if !accumulate { dx.update(repeating: 0, count: planeSize) }
                let at = Int(indices[u])
                precondition(at >= 0 && at < planeSize, "global pooling backward: index \(at) outside the plane of \(planeSize) cells")
                dx[at] += gradOutput[u]
            }
        }
    }

    /// Gradient of global pooling without indices: average spreads
    /// `gradOutput[u] / planeSize` over plane u (`input` is not read); max and
    /// min recompute the winner from `input`.
    @inlinable
    public static func globalBackward<T: KernelScalar>(kind: PoolKind, planes: Int, planeSize: Int, input: UnsafePointer<T>,
                                                       gradOutput: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
                                                       accumulate: Bool = false, threads: Int = Threads.count) {
        precondition(planes >= 0 && planeSize >= 1, "global pooling: \(planes) planes of \(planeSize) cells")
        Threads.parallelFor(0 ..< planes, threads: threads, minChunk: max(1, 8192 / planeSize)) { range in
            for u in range {
                let dx = gradInput + u * planeSize
                switch kind {
                case .average:
                    let share = gradOutput[u] / T(planeSize)
                    if accumulate {
                        for i in 0 ..< planeSize { dx[i] += share }
                    } else {
                        dx.update(repeating: share, count: planeSize)
                    }
                case .max, .min:
                    if !accumulate { dx.update(repeating: 0, count: planeSize) }
                    let at = planeExtremum(input + u * planeSize, count: planeSize, isMax: kind == .max).1
                    dx[at] += gradOutput[u]
                }
            }
        }
    }
}
