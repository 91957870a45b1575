/// How `Pad2D` fills the cells it adds around a plane.
public enum PadMode: Sendable, Hashable, Codable {
    /// 0.
    case zero
    /// A fixed value.
    case constant(Double)
    /// The nearest edge cell: source index clamped to `[0, size − 1]`.
    case replicate
    /// Mirror image without repeating the edge: source index −i ↦ i and
    /// size − 1 + i ↦ size − 1 − i (as `numpy.pad(mode: "reflect")`).
    case reflect
}

/// Spatial padding of an NCHW tensor: input `[n, c, h, w]`, output
/// `[n, c, top + h + bottom, left + w + right]`; output cell `(y, x)` takes
/// input cell `(y − top, x − left)` where that lies inside the input, and
/// otherwise the value `mode` prescribes.
public struct Pad2DGeometry: Sendable, Hashable, CustomStringConvertible {
    public let n: Int, c: Int, h: Int, w: Int
    public let top: Int, bottom: Int, left: Int, right: Int
    public let mode: PadMode

    /// Throws, with the numbers, when a size is not positive, a padding is
    /// negative, or (reflect) a padding is not smaller than the size of its
    /// axis, so that a single reflection reaches every padded cell.
    public init(n: Int, c: Int, h: Int, w: Int, top: Int, bottom: Int, left: Int, right: Int,
                mode: PadMode) throws(KernelGeometryError) {
        for (name, v) in [("batch n", n), ("channels c", c), ("height h", h), ("width w", w)] where v < 1 {
            throw KernelGeometryError("pad2d: \(name) = \(v) must be positive")
        }
        for (name, v) in [("top", top), ("bottom", bottom), ("left", left), ("right", right)] where v < 0 {
            throw KernelGeometryError("pad2d: padding \(name) = \(v) must not be negative")
        }
        if mode == .reflect {
            for (name, v, size, axis) in [("top", top, h, "height"), ("bottom", bottom, h, "height"),
                                          ("left", left, w, "width"), ("right", right, w, "width")] where v >= size {
                throw KernelGeometryError("pad2d: reflect padding \(name) = \(v) must be smaller than the input \(axis) \(size)")
            }
        }
        var total = 1
        for x in [n, c, h + top + bottom, w + left + right] {
            let (r, o) = total.multipliedReportingOverflow(by: x)
            if o { throw KernelGeometryError("pad2d: the padded tensor [\(n),\(c),\(h + top + bottom),\(w + left + right)] is too large") }
            total = r
        }
        self.n = n; self.c = c; self.h = h; self.w = w
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
        self.mode = mode
    }

    @inlinable public var oh: Int { top + h + bottom }
    @inlinable public var ow: Int { left + w + right }
    @inlinable public var planes: Int { n * c }
    @inlinable public var inputCount: Int { n * c * h * w }
    @inlinable public var outputCount: Int { n * c * oh * ow }

    /// The input index feeding padded index `i` (in input coordinates, so
    /// `i < 0` is the leading padding) along an axis of `size` cells, or nil
    /// for zero/constant padding cells.
    @inlinable
    func source(_ i: Int, size: Int) -> Int? {
        if i >= 0 && i < size { return i }
        switch mode {
        case .zero, .constant: return nil
        case .replicate: return i < 0 ? 0 : size - 1
        case .reflect: return i < 0 ? -i : 2 * (size - 1) - i
        }
    }

    public var description: String {
        "pad2d [\(n),\(c),\(h),\(w)] t\(top) b\(bottom) l\(left) r\(right) \(mode) → [\(n),\(c),\(oh),\(ow)]"
    }
}

/// Padding kernels, parallel over the n·c planes.
public enum Pad2D {
    /// `output ← pad(input)`: input `[n, c, h, w]`, output `[n, c, oh, ow]` (overwritten).
    @inlinable
    public static func forward<T: KernelScalar>(_ g: Pad2DGeometry, input: UnsafePointer<T>, output: UnsafeMutablePointer<T>,
                                                threads: Int = Threads.count) {
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let fill: T
        if case .constant(let v) = g.mode { fill = T(v) } else { fill = 0 }
        Threads.parallelFor(0 ..< g.planes, threads: threads, minChunk: max(1, 8192 / (oh * ow))) { planes in
            for u in planes {
                let x = input + u * h * w, y = output + u * oh * ow
                for oy in 0 ..< oh {
                    let d = y + oy * ow
                    guard let sy = g.source(oy - g.top, size: h) else {
                        d.update(repeating: fill, count: ow)
                        continue
                    }
                    let s = x + sy * w
                    (d + g.left).update(from: s, count: w)
                    for j in 0 ..< g.left {
                        d[j] = g.source(j - g.left, size: w).map { s[$0] } ?? fill
                    }
                    for j in 0 ..< g.right {
                        d[g.left + w + j] = g.source(w + j, size: w).map { s[$0] } ?? fill
                    }
                }
            }
        }
    }

    /// The adjoint of `forward`: `gradInput[i, ch, sy, sx] = Σ gradOutput[i,
    /// ch, y, x]` over the output cells (y, x) whose value came from input
    /// cell (sy, sx). For zero and constant padding that is the interior
    /// slice; for replicate and reflect the padded cells' gradients are
    /// added to their source cells. gradInput `[n, c, h, w]` is overwritten,
    /// or added to when `accumulate`.
    @inlinable
    public static func backward<T: KernelScalar>(_ g: Pad2DGeometry, gradOutput: UnsafePointer<T>,
                                                 gradInput: UnsafeMutablePointer<T>, accumulate: Bool = false,
                                                 threads: Int = Threads.count) {
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let sliceOnly: Bool
        switch g.mode {
        case .zero, .constant: sliceOnly = true
        case .replicate, .reflect: sliceOnly = false
        }
        Threads.parallelFor(0 ..< g.planes, threads: threads, minChunk: max(1, 8192 / (oh * ow))) { planes in
            for u in planes {
                let dx = gradInput + u * h * w, dy = gradOutput + u * oh * ow
                if sliceOnly && !accumulate {
                    for sy in 0 ..< h {
                        (dx + sy * w).update(from: dy + (sy + g.top) * ow + g.left, count: w)
                    }
                    continue
                }
                if !accumulate { dx.update(repeating: 0, count: h * w) }
                for oy in 0 ..< oh {
                    guard let sy = g.source(oy - g.top, size: h) else { continue }
                    let s = dy + oy * ow, d = dx + sy * w
                    Conv2D.addRow(d, s + g.left, count: w)
                    if sliceOnly { continue }
                    for j in 0 ..< g.left {
                        if let sx = g.source(j - g.left, size: w) { d[sx] += s[j] }
                    }
                    for j in 0 ..< g.right {
                        if let sx = g.source(w + j, size: w) { d[sx] += s[g.left + w + j] }
                    }
                }
            }
        }
    }
}
