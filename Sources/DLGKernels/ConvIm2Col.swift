#if arch(x86_64)
import DLGKernelsAVX512
#endif

// Building blocks of the im2col convolution: column packing and its adjoint,
// row gathering, the bias + activation epilogue, and small SIMD row loops.

extension Conv2D {
    /// The output positions `x` in `0 ..< outSize` whose input coordinate
    /// `x·stride + offset` lies in `0 ..< inSize`, as a range `lo ..< hi`.
    @inlinable @inline(__always)
    static func validRange(offset: Int, stride: Int, inSize: Int, outSize: Int) -> Range<Int> {
        let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let last = inSize - 1 - offset
        let hi = last < 0 ? 0 : min(outSize, last / stride + 1)
        return min(lo, hi) ..< hi
    }

    /// Whether every row of the column matrix is the input plane shifted by
    /// a constant, read as one flat array: stride 1 both ways and an output
    /// as wide as the input (`padLeft + padRight = dilationW·(kw − 1)`, as
    /// in 'same' convolutions). Then, for tap (ki, kj),
    /// `col[y·ow + x] = input[y·w + x + shift]` with
    /// `shift = (ki·dH − padTop)·w + kj·dW − padLeft`, wherever (y, x) reads
    /// inside the input; `flatShift` gives the contiguous stretch to copy
    /// and the columns at its row ends that wrapped into a neighbouring
    /// input row.
    @inlinable @inline(__always)
    static func isFlatShift(_ g: Conv2DGeometry) -> Bool {
        g.strideH == 1 && g.strideW == 1 && g.ow == g.w
    }

    /// One tap of a flat-shift convolution (see `isFlatShift`).
    @usableFromInline
    struct FlatShift {
        /// Output positions `y·ow + x` copied in one stretch: from the first
        /// valid column of the first valid row to the last valid column of
        /// the last valid row (empty when no position reads the input).
        @usableFromInline var copied: Range<Int>
        /// Input index minus output position.
        @usableFromInline var shift: Int
        /// Valid output rows and columns.
        @usableFromInline var rows: Range<Int>, columns: Range<Int>
        @inlinable init(copied: Range<Int>, shift: Int, rows: Range<Int>, columns: Range<Int>) {
            self.copied = copied; self.shift = shift; self.rows = rows; self.columns = columns
        }
    }

    @inlinable @inline(__always)
    static func flatShift(_ g: Conv2DGeometry, ki: Int, kj: Int) -> FlatShift {
        let rowOffset = ki * g.dilationH - g.padTop, offset = kj * g.dilationW - g.padLeft
        let rows = validRange(offset: rowOffset, stride: 1, inSize: g.h, outSize: g.oh)
        let columns = validRange(offset: offset, stride: 1, inSize: g.w, outSize: g.ow)
        let copied = rows.isEmpty || columns.isEmpty
            ? 0 ..< 0
            : rows.lowerBound * g.ow + columns.lowerBound ..< (rows.upperBound - 1) * g.ow + columns.upperBound
        return FlatShift(copied: copied, shift: rowOffset * g.w + offset, rows: rows, columns: columns)
    }

    /// Zeroes, in one tap's row of the column matrix, the positions inside
    /// the copied stretch whose column lies outside the valid columns: they
    /// wrapped around into the previous or next input row.
    @inlinable @inline(__always)
    static func zeroWrappedColumns<T: KernelScalar>(_ row: UnsafeMutablePointer<T>, _ s: FlatShift, ow: Int) {
        let left = s.columns.lowerBound, right = ow - s.columns.upperBound
        if left == 0 && right == 0 { return }
        for y in s.rows {
            let r = row + y * ow
            for x in 0 ..< left { r[x] = 0 }
            for x in s.columns.upperBound ..< ow { r[x] = 0 }
        }
    }

    /// Packs the receptive fields of images `firstImage ..< firstImage + images`
    /// and the channels of `group` into the column matrix
    /// `col[colRows, images·oh·ow]` (row stride `images·oh·ow`):
    ///
    ///     col[(cl·kh + ki)·kw + kj, j·oh·ow + y·ow + x]
    ///         = input[firstImage + j, group·cg + cl, y·sH − padTop + ki·dH, x·sW − padLeft + kj·dW]  (0 outside)
    ///
    /// Only the units `j·cg + cl` in `units` are written. Not inlined into
    /// the parallel loop's closure, so that its loops keep bounds and
    /// pointers in registers.
    @inlinable @inline(never)
    static func im2col<T: KernelScalar>(_ g: Conv2DGeometry, input: UnsafePointer<T>, firstImage i0: Int, images: Int,
                                        group: Int, col: UnsafeMutablePointer<T>, units: Range<Int>) {
        let cg = g.channelsPerGroup, p = g.outputPlane, ld = images * p
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let (sh, sw) = (g.strideH, g.strideW)
        let flat = isFlatShift(g)
        for u in units {
            let j = u / cg, cl = u % cg
            let plane = input + ((i0 + j) * g.c + group * cg + cl) * h * w
            if flat {
                for ki in 0 ..< g.kh {
                    for kj in 0 ..< g.kw {
                        let dst = col + ((cl * g.kh + ki) * g.kw + kj) * ld + j * p
                        let s = flatShift(g, ki: ki, kj: kj)
                        if s.copied.isEmpty { dst.update(repeating: 0, count: p); continue }
                        dst.update(repeating: 0, count: s.copied.lowerBound)
                        (dst + s.copied.lowerBound).update(from: plane + (s.copied.lowerBound + s.shift),
                                                           count: s.copied.count)
                        (dst + s.copied.upperBound).update(repeating: 0, count: p - s.copied.upperBound)
                        zeroWrappedColumns(dst, s, ow: ow)
                    }
                }
                continue
            }
            for ki in 0 ..< g.kh {
                let rowOffset = ki * g.dilationH - g.padTop
                for kj in 0 ..< g.kw {
                    let offset = kj * g.dilationW - g.padLeft
                    let valid = validRange(offset: offset, stride: sw, inSize: w, outSize: ow)
                    let dst = col + ((cl * g.kh + ki) * g.kw + kj) * ld + j * p
                    for y in 0 ..< oh {
                        let d = dst + y * ow
                        let iy = y * sh + rowOffset
                        if iy < 0 || iy >= h {
                            d.update(repeating: 0, count: ow)
                            continue
                        }
                        let src = plane + iy * w
                        if valid.lowerBound > 0 { d.update(repeating: 0, count: valid.lowerBound) }
                        if sw == 1 {
                            (d + valid.lowerBound).update(from: src + (valid.lowerBound + offset), count: valid.count)
                        } else {
                            for x in valid { d[x] = src[x * sw + offset] }
                        }
                        if valid.upperBound < ow { (d + valid.upperBound).update(repeating: 0, count: ow - valid.upperBound) }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every column entry back to the input
    /// cell it was copied from, into `gradInput` planes of the units
    /// `j·cg + cl` in `units` (each plane zeroed first unless `accumulate`).
    /// On the flat-shift path (`isFlatShift`) it adds each tap's row as one
    /// stretch, after zeroing in `col` the entries that read padding there
    /// (their values are discarded anyway), so `col` is scratch afterwards.
    /// Not inlined, as `im2col`.
    @inlinable @inline(never)
    static func col2im<T: KernelScalar>(_ g: Conv2DGeometry, col: UnsafeMutablePointer<T>, firstImage i0: Int,
                                        images: Int, group: Int, gradInput: UnsafeMutablePointer<T>, accumulate: Bool,
                                        units: Range<Int>) {
        let cg = g.channelsPerGroup, p = g.outputPlane, ld = images * p
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let (sh, sw) = (g.strideH, g.strideW)
        let flat = isFlatShift(g)
        for u in units {
            let j = u / cg, cl = u % cg
            let plane = gradInput + ((i0 + j) * g.c + group * cg + cl) * h * w
            if !accumulate { plane.update(repeating: 0, count: h * w) }
            if flat {
                for ki in 0 ..< g.kh {
                    for kj in 0 ..< g.kw {
                        let src = col + ((cl * g.kh + ki) * g.kw + kj) * ld + j * p
                        let s = flatShift(g, ki: ki, kj: kj)
                        if s.copied.isEmpty { continue }
                        zeroWrappedColumns(src, s, ow: ow)
                        addRow(plane + (s.copied.lowerBound + s.shift), src + s.copied.lowerBound, count: s.copied.count)
                    }
                }
                continue
            }
            for ki in 0 ..< g.kh {
                let rowOffset = ki * g.dilationH - g.padTop
                let validY = validRange(offset: rowOffset, stride: sh, inSize: h, outSize: oh)
                for kj in 0 ..< g.kw {
                    let offset = kj * g.dilationW - g.padLeft
                    let valid = validRange(offset: offset, stride: sw, inSize: w, outSize: ow)
                    if valid.isEmpty { continue }
                    let src = col + ((cl * g.kh + ki) * g.kw + kj) * ld + j * p
                    for y in validY {
                        let s = src + y * ow
                        let d = plane + (y * sh + rowOffset) * w
                        if sw == 1 {
                            addRow(d + (valid.lowerBound + offset), s + valid.lowerBound, count: valid.count)
                        } else {
                            for x in valid { d[x * sw + offset] += s[x] }
                        }
                    }
                }
            }
        }
    }

    /// Copies the rows of `group`'s filters for images `firstImage ..< +images`
    /// from `[n, f, oh·ow]` into `buffer[filtersPerGroup, images·oh·ow]`.
    @inlinable
    static func gatherGroupRows<T: KernelScalar>(_ g: Conv2DGeometry, from src: UnsafePointer<T>, firstImage i0: Int,
                                                 images: Int, group: Int, into buffer: UnsafeMutablePointer<T>,
                                                 threads: Int) {
        let fg = g.filtersPerGroup, p = g.outputPlane, columns = images * p
        Threads.parallelFor(0 ..< images * fg, threads: threads) { units in
            for u in units {
                let j = u / fg, fl = u % fg
                (buffer + fl * columns + j * p).update(from: src + ((i0 + j) * g.f + group * fg + fl) * p, count: p)
            }
        }
    }

    /// `rows` consecutive rows of `plane` elements, in place:
    /// `row[r] ← epilogue(row[r] + bias[r])` (bias 0 when nil). Does nothing
    /// when there is neither bias nor activation.
    @inlinable
    static func applyEpilogueRows<T: KernelScalar>(_ data: UnsafeMutablePointer<T>, rows: Int, plane: Int,
                                                   bias: UnsafePointer<T>?, epilogue: UnaryFunction?, threads: Int) {
        if bias == nil && epilogue == nil { return }
        Threads.parallelFor(0 ..< rows, threads: threads, minChunk: max(1, 4096 / max(1, plane))) { range in
            for r in range {
                let row = data + r * plane
                applyEpilogueInPlace(row, count: plane, bias: bias.map { $0[r] } ?? 0, epilogue: epilogue)
            }
        }
    }

    /// `dst[i] = epilogue(src[i] + bias)` for i < count (the activation's one
    /// definition, `UnaryDefinition.forward`, compiled for AVX-512 on CPUs
    /// that have it); `dst` may equal `src`. Never inlined: as a function of
    /// its own, with its arguments in registers, the loop stays tight inside
    /// a parallel loop's closure.
    @inlinable @inline(never)
    static func applyEpilogue<T: KernelScalar>(_ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>, count: Int,
                                               bias: T, epilogue: UnaryFunction?) {
        #if arch(x86_64)
        if usesAVX512(T.self) {
            TileOps.biasUnary(epilogue, f32(src), bias: unsafeBitCast(bias, to: Float.self), f32(dst), count)
            return
        }
        #endif
        let b = SIMD16<T>(repeating: bias)
        guard let f = epilogue else {
            SIMDMath.map(src, dst, count) { $0 + b }
            return
        }
        _ = f.op.visitUnary(BiasEpilogueLoop(x: src, y: dst, count: count, a: T(f.alpha), bias: b))
    }

    /// `data[i] = epilogue(data[i] + bias)` for i < count; nothing without a bias or an activation.
    @inlinable
    static func applyEpilogueInPlace<T: KernelScalar>(_ data: UnsafeMutablePointer<T>, count: Int, bias: T,
                                                      epilogue: UnaryFunction?) {
        if bias == 0 && epilogue == nil { return }
        applyEpilogue(data, data, count: count, bias: bias, epilogue: epilogue)
    }

    /// The loop of `applyEpilogue` for one activation.
    @usableFromInline
    struct BiasEpilogueLoop<T: KernelScalar>: UnaryVisitor {
        @usableFromInline let x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, count: Int, a: T, bias: SIMD16<T>
        @inlinable init(x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, count: Int, a: T, bias: SIMD16<T>) {
            self.x = x; self.y = y; self.count = count; self.a = a; self.bias = bias
        }
        @inlinable @inline(__always)
        func visit<F: UnaryDefinition>(_: F.Type) {
            let a = self.a, b = bias
            SIMDMath.map(x, y, count) { F.forward($0 + b, a) }
        }
    }

    @inlinable @inline(__always)
    static func load16<T: KernelScalar>(_ p: UnsafePointer<T>) -> SIMD16<T> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<T>.self)
    }

    @inlinable @inline(__always)
    static func load16<T: KernelScalar>(_ p: UnsafeMutablePointer<T>) -> SIMD16<T> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<T>.self)
    }

    @inlinable @inline(__always)
    static func store16<T: KernelScalar>(_ v: SIMD16<T>, _ p: UnsafeMutablePointer<T>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<T>.self)
    }

    /// `dst[i] += src[i]` for i < count.
    @inlinable
    static func addRow<T: KernelScalar>(_ dst: UnsafeMutablePointer<T>, _ src: UnsafePointer<T>, count: Int) {
        var i = 0
        while i + 16 <= count {
            store16(load16(dst + i) + load16(src + i), dst + i)
            i += 16
        }
        while i < count { dst[i] += src[i]; i += 1 }
    }

    /// `dst[i] += alpha · src[i]` for i < count.
    @inlinable
    static func axpyRow<T: KernelScalar>(_ dst: UnsafeMutablePointer<T>, _ src: UnsafePointer<T>, alpha: T, count: Int) {
        let a = SIMD16<T>(repeating: alpha)
        var i = 0
        while i + 16 <= count {
            store16(load16(dst + i) + a * load16(src + i), dst + i)
            i += 16
        }
        while i < count { dst[i] += alpha * src[i]; i += 1 }
    }

    /// Σ src[i] for i < count: 16 lane sums, then the lanes and the tail.
    @inlinable
    static func sumRow<T: KernelScalar>(_ src: UnsafePointer<T>, count: Int) -> T {
        var acc = SIMD16<T>(repeating: 0)
        var i = 0
        while i + 16 <= count {
            acc += load16(src + i)
            i += 16
        }
        var s = acc.sum()
        while i < count { s += src[i]; i += 1 }
        return s
    }

    /// Σ a[i]·b[i] for i < count: 16 lane sums, then the lanes and the tail.
    @inlinable
    static func dotRow<T: KernelScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count: Int) -> T {
        var acc = SIMD16<T>(repeating: 0)
        var i = 0
        while i + 16 <= count {
            acc += load16(a + i) * load16(b + i)
            i += 16
        }
        var s = acc.sum()
        while i < count { s += a[i] * b[i]; i += 1 }
        return s
    }
}
