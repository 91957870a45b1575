/// Data-movement kernels over row-major (C-order) tensors: transpose by a
/// permutation, concat/split along an axis, strided slice and its backward,
/// broadcastTo, one-hot encoding and dtype casts.
///
/// Shape-dependent kernels take a *plan*, built once from the shapes (which it
/// validates, throwing `LayoutError`) and reused for every call; the kernels
/// themselves do no validation and never allocate per element.

/// What is wrong with the shapes or indices given to a layout plan.
public enum LayoutError: Error, Hashable, Sendable, CustomStringConvertible {
    case negativeDimension(shape: [Int])
    case invalidPermutation(perm: [Int], rank: Int)
    case axisOutOfRange(axis: Int, rank: Int)
    case concatNoInputs
    case concatRankMismatch(input: Int, rank: Int, expected: Int)
    case concatSizeMismatch(input: Int, axis: Int, size: Int, expected: Int)
    case sliceRankMismatch(rank: Int, starts: Int, ends: Int, steps: Int)
    case sliceOutOfRange(axis: Int, start: Int, end: Int, size: Int)
    case sliceStep(axis: Int, step: Int)
    case notBroadcastable(from: [Int], to: [Int], axis: Int)

    public var description: String {
        switch self {
        case .negativeDimension(let s):
            "shape \(s) has a negative dimension"
        case .invalidPermutation(let p, let r):
            "\(p) is not a permutation of 0..<\(r)"
        case .axisOutOfRange(let a, let r):
            "axis \(a) is out of range for rank \(r)"
        case .concatNoInputs:
            "concat needs at least one input"
        case .concatRankMismatch(let i, let r, let e):
            "concat input \(i) has rank \(r), expected \(e)"
        case .concatSizeMismatch(let i, let a, let s, let e):
            "concat input \(i) has size \(s) on axis \(a), expected \(e)"
        case .sliceRankMismatch(let r, let s, let e, let st):
            "slice of a rank-\(r) tensor needs \(r) starts, ends and steps; got \(s), \(e) and \(st)"
        case .sliceOutOfRange(let a, let s, let e, let n):
            "slice \(s)..<\(e) on axis \(a) is outside 0...\(n) (or start > end)"
        case .sliceStep(let a, let s):
            "slice step \(s) on axis \(a) must be at least 1"
        case .notBroadcastable(let f, let t, let a):
            "shape \(f) cannot be broadcast to \(t) (axis \(a) of the target)"
        }
    }
}

// MARK: - Strided loop engine (shared by layout, broadcast and reduction kernels)

@usableFromInline
enum StridedLoops {
    /// Row-major strides of a shape, in elements.
    @inlinable
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s *= shape[i]
        }
        return strides
    }

    @inlinable
    static func product(_ dims: some Sequence<Int>) -> Int {
        dims.reduce(1, *)
    }

    /// Removes size-1 axes and merges adjacent axes i, i+1 whenever every
    /// stride set satisfies s[i] == s[i+1]·d[i+1] (contiguous runs and runs of
    /// zero strides both qualify). The element order is unchanged. Always
    /// returns at least one axis.
    @inlinable
    static func collapse(_ dims: [Int], _ strideSets: [[Int]]) -> (dims: [Int], strides: [[Int]]) {
        var d: [Int] = []
        var s: [[Int]] = strideSets.map { _ in [] }
        for i in dims.indices where dims[i] != 1 {
            if !d.isEmpty,
               strideSets.indices.allSatisfy({ k in s[k][s[k].count - 1] == strideSets[k][i] * dims[i] }) {
                d[d.count - 1] *= dims[i]
                for k in s.indices { s[k][s[k].count - 1] = strideSets[k][i] }
            } else {
                d.append(dims[i])
                for k in s.indices { s[k].append(strideSets[k][i]) }
            }
        }
        if d.isEmpty {
            return ([1], s.map { _ in [0] })
        }
        return (d, s)
    }

    /// Calls `body(offsetA, offsetB)` for every index of `dims[0..<rank−1]` in
    /// row-major order, with the element offsets of that index in two strided
    /// operands; the body handles the innermost axis itself. `dims` is non-empty.
    @inlinable @inline(__always)
    static func forEachRun(_ dims: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int) -> Void) {
        let rank = dims.count
        var outer = 1
        for i in 0..<(rank - 1) { outer *= dims[i] }
        if outer == 0 { return }
        if rank == 1 { body(0, 0); return }
        var index = [Int](repeating: 0, count: rank)
        var oa = 0, ob = 0
        for _ in 0..<outer {
            body(oa, ob)
            var ax = rank - 2
            while ax >= 0 {
                index[ax] += 1
                oa += sa[ax]
                ob += sb[ax]
                if index[ax] < dims[ax] { break }
                oa -= sa[ax] * dims[ax]
                ob -= sb[ax] * dims[ax]
                index[ax] = 0
                ax -= 1
            }
        }
    }

    /// dst (contiguous, row-major over `dims`) = src read with `strides`.
    @inlinable
    static func gatherCopy<T>(_ src: UnsafePointer<T>, _ dims: [Int], _ strides: [Int],
                              _ dst: UnsafeMutablePointer<T>) {
        let n = dims[dims.count - 1], s = strides[strides.count - 1]
        var out = dst
        forEachRun(dims, strides, strides) { o, _ in
            let p = src + o
            if s == 1 {
                out.update(from: p, count: n)
            } else if s == 0 {
                out.update(repeating: p.pointee, count: n)
            } else {
                for j in 0..<n { out[j] = p[j * s] }
            }
            out += n
        }
    }

    /// dst read with `strides` = src (contiguous, row-major over `dims`).
    @inlinable
    static func scatterCopy<T>(_ src: UnsafePointer<T>, _ dims: [Int], _ strides: [Int],
                               _ dst: UnsafeMutablePointer<T>) {
        let n = dims[dims.count - 1], s = strides[strides.count - 1]
        var input = src
        forEachRun(dims, strides, strides) { o, _ in
            let p = dst + o
            if s == 1 {
                p.update(from: input, count: n)
            } else {
                for j in 0..<n { p[j * s] = input[j] }
            }
            input += n
        }
    }
}

// MARK: - Transpose

/// y = x with axes permuted: output axis i is input axis perm[i], so
/// outputShape[i] = shape[perm[i]] and y[i0, …] = x[j] where j[perm[i]] = i_i.
public struct TransposePlan: Sendable, Hashable {
    public let inputShape: [Int]
    public let perm: [Int]
    public let outputShape: [Int]
    public let count: Int

    @usableFromInline enum Kind: Sendable, Hashable {
        case copy
        /// y[j, i] = x[i, j] for batch × (rows × cols)
        case matrix(batch: Int, rows: Int, cols: Int)
        case general(dims: [Int], strides: [Int])
    }
    @usableFromInline let kind: Kind

    public init(shape: [Int], perm: [Int]) throws(LayoutError) {
        if shape.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: shape) }
        let rank = shape.count
        if perm.count != rank || Set(perm) != Set(0..<rank) {
            throw .invalidPermutation(perm: perm, rank: rank)
        }
        inputShape = shape
        self.perm = perm
        outputShape = perm.map { shape[$0] }
        count = StridedLoops.product(shape)

        // Drop size-1 axes, then merge input axes that stay adjacent and in order.
        let kept = (0..<rank).filter { shape[$0] != 1 }
        var newIndex = [Int](repeating: -1, count: rank)
        for (j, a) in kept.enumerated() { newIndex[a] = j }
        let p = perm.compactMap { newIndex[$0] >= 0 ? newIndex[$0] : nil }
        let d = kept.map { shape[$0] }
        var groups: [[Int]] = []
        for a in p {
            if let last = groups.last?.last, a == last + 1 {
                groups[groups.count - 1].append(a)
            } else {
                groups.append([a])
            }
        }
        let order = groups.indices.sorted { groups[$0][0] < groups[$1][0] }
        var position = [Int](repeating: 0, count: groups.count)
        for (j, g) in order.enumerated() { position[g] = j }
        let cdims = order.map { g in StridedLoops.product(groups[g].map { d[$0] }) }
        let cperm = groups.indices.map { position[$0] }

        if cperm.count <= 1 {
            kind = .copy
        } else if cperm == [1, 0] {
            kind = .matrix(batch: 1, rows: cdims[0], cols: cdims[1])
        } else if cperm == [0, 2, 1] {
            kind = .matrix(batch: cdims[0], rows: cdims[1], cols: cdims[2])
        } else {
            let inStrides = StridedLoops.contiguousStrides(cdims)
            kind = .general(dims: cperm.map { cdims[$0] }, strides: cperm.map { inStrides[$0] })
        }
    }
}

/// y = transpose(x) per the plan. `x` and `y` must not overlap.
@inlinable
public func transpose<T: KernelScalar>(_ plan: TransposePlan, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
    if plan.count == 0 { return }
    switch plan.kind {
    case .copy:
        y.update(from: x, count: plan.count)
    case .matrix(let batch, let rows, let cols):
        for b in 0..<batch {
            transposeMatrix(x + b * rows * cols, y + b * rows * cols, rows: rows, cols: cols)
        }
    case .general(let dims, let strides):
        StridedLoops.gatherCopy(x, dims, strides, y)
    }
}

/// y[j·rows + i] = x[i·cols + j]: a rows × cols row-major matrix transposed,
/// in 16 × 16 tiles so that both sides stay in cache; 8 × 8 when a row of
/// either side spans a multiple of 2 KiB, since then a tile's lines all fall
/// in the same cache sets.
@inlinable
public func transposeMatrix<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                             rows: Int, cols: Int) {
    let size = MemoryLayout<T>.stride
    let tile = (rows * size) % 2048 == 0 || (cols * size) % 2048 == 0 ? 8 : 16
    var i0 = 0
    while i0 < rows {
        let i1 = Swift.min(i0 + tile, rows)
        var j0 = 0
        while j0 < cols {
            let j1 = Swift.min(j0 + tile, cols)
            for j in j0..<j1 {
                let dst = y + j * rows
                var src = x + i0 * cols + j
                for i in i0..<i1 {
                    dst[i] = src.pointee
                    src += cols
                }
            }
            j0 = j1
        }
        i0 = i1
    }
}

// MARK: - Concat and split

/// Concatenation of tensors that agree on every axis but `axis`.
public struct ConcatPlan: Sendable, Hashable {
    public let inputShapes: [[Int]]
    /// The normalized axis (negative axes count from the end).
    public let axis: Int
    public let outputShape: [Int]
    /// Product of the dimensions before / after `axis`.
    public let outer: Int, inner: Int
    /// Elements of input k per outer index: inputShapes[k][axis]·inner.
    public let blocks: [Int]
    public let outputBlock: Int

    public init(shapes: [[Int]], axis: Int) throws(LayoutError) {
        guard let first = shapes.first else { throw .concatNoInputs }
        let rank = first.count
        let a = axis < 0 ? axis + rank : axis
        if a < 0 || a >= rank { throw .axisOutOfRange(axis: axis, rank: rank) }
        for (k, s) in shapes.enumerated() {
            if s.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: s) }
            if s.count != rank { throw .concatRankMismatch(input: k, rank: s.count, expected: rank) }
            for i in 0..<rank where i != a && s[i] != first[i] {
                throw .concatSizeMismatch(input: k, axis: i, size: s[i], expected: first[i])
            }
        }
        inputShapes = shapes
        self.axis = a
        var out = first
        out[a] = shapes.reduce(0) { $0 + $1[a] }
        outputShape = out
        outer = StridedLoops.product(first[..<a])
        inner = StridedLoops.product(first[(a + 1)...])
        blocks = shapes.map { $0[a] * StridedLoops.product(first[(a + 1)...]) }
        outputBlock = out[a] * inner
    }
}

/// out = concat(inputs) along the plan's axis; `inputs[k]` has shape
/// `plan.inputShapes[k]`. The outer positions split over `threads` (copies:
/// the same bytes whatever the split).
@inlinable
public func concat<T: KernelScalar>(_ plan: ConcatPlan, _ inputs: [UnsafePointer<T>], _ out: UnsafeMutablePointer<T>,
                                    threads: Int = 1) {
    precondition(inputs.count == plan.blocks.count, "concat: \(inputs.count) inputs for a plan of \(plan.blocks.count)")
    let minChunk = max(1, Threads.elementwiseMinChunk / max(plan.outputBlock, 1))
    Threads.parallelFor(0 ..< plan.outer, threads: threads, minChunk: minChunk) { r in
        for o in r {
            var dst = out + o * plan.outputBlock
            for k in 0..<inputs.count {
                let b = plan.blocks[k]
                dst.update(from: inputs[k] + o * b, count: b)
                dst += b
            }
        }
    }
}

/// The backward of concat (a split): outputs[k] = the part of dy that came
/// from input k.
@inlinable
public func concatBackward<T: KernelScalar>(_ plan: ConcatPlan, _ dy: UnsafePointer<T>,
                                            _ outputs: [UnsafeMutablePointer<T>]) {
    precondition(outputs.count == plan.blocks.count, "split: \(outputs.count) outputs for a plan of \(plan.blocks.count)")
    for o in 0..<plan.outer {
        var src = dy + o * plan.outputBlock
        for k in 0..<outputs.count {
            let b = plan.blocks[k]
            (outputs[k] + o * b).update(from: src, count: b)
            src += b
        }
    }
}

// MARK: - Slice

/// y = x[start0..<end0 by step0, start1..<end1 by step1, …]: on each axis the
/// indices start, start+step, … below end. Indices are already resolved
/// (non-negative, 0 ≤ start ≤ end ≤ size, step ≥ 1); output size per axis is
/// ⌈(end − start)/step⌉.
public struct SlicePlan: Sendable, Hashable {
    public let inputShape: [Int]
    public let start: [Int], end: [Int], step: [Int]
    public let outputShape: [Int]
    public let inputCount: Int, outputCount: Int
    @usableFromInline let offset: Int
    @usableFromInline let dims: [Int]
    @usableFromInline let strides: [Int]

    public init(shape: [Int], start: [Int], end: [Int], step: [Int]) throws(LayoutError) {
        let rank = shape.count
        if shape.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: shape) }
        if start.count != rank || end.count != rank || step.count != rank {
            throw .sliceRankMismatch(rank: rank, starts: start.count, ends: end.count, steps: step.count)
        }
        var out: [Int] = []
        for i in 0..<rank {
            if step[i] < 1 { throw .sliceStep(axis: i, step: step[i]) }
            if start[i] < 0 || end[i] < start[i] || end[i] > shape[i] {
                throw .sliceOutOfRange(axis: i, start: start[i], end: end[i], size: shape[i])
            }
            out.append((end[i] - start[i] + step[i] - 1) / step[i])
        }
        inputShape = shape
        self.start = start
        self.end = end
        self.step = step
        outputShape = out
        inputCount = StridedLoops.product(shape)
        outputCount = StridedLoops.product(out)
        let inStrides = StridedLoops.contiguousStrides(shape)
        offset = zip(start, inStrides).reduce(0) { $0 + $1.0 * $1.1 }
        let c = StridedLoops.collapse(out, [zip(inStrides, step).map { $0 * $1 }])
        dims = c.dims
        strides = c.strides[0]
    }
}

/// y = x[slice] per the plan, the outermost (collapsed) axis split over `threads`.
@inlinable
public func slice<T: KernelScalar>(_ plan: SlicePlan, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, threads: Int = 1) {
    if plan.outputCount == 0 { return }
    guard let outer = plan.dims.first, plan.dims.count > 1 else {
        StridedLoops.gatherCopy(x + plan.offset, plan.dims, plan.strides, y)
        return
    }
    let inner = plan.outputCount / outer
    Threads.parallelFor(0 ..< outer, threads: threads, minChunk: max(1, Threads.elementwiseMinChunk / max(inner, 1))) { r in
        var dims = plan.dims
        dims[0] = r.count
        StridedLoops.gatherCopy(x + plan.offset + r.lowerBound * plan.strides[0], dims, plan.strides, y + r.lowerBound * inner)
    }
}

/// dx = zeros(inputShape) with dy written at the sliced positions; the zeros
/// and the copy split over `threads` (the copy along the outermost axis).
@inlinable
public func sliceBackward<T: KernelScalar>(_ plan: SlicePlan, _ dy: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
                                           threads: Int = 1) {
    Threads.elementwise(plan.inputCount, threads: threads) { r in
        (dx + r.lowerBound).update(repeating: 0, count: r.count)
    }
    if plan.outputCount == 0 { return }
    guard let outer = plan.dims.first, plan.dims.count > 1 else {
        StridedLoops.scatterCopy(dy, plan.dims, plan.strides, dx + plan.offset)
        return
    }
    let inner = plan.outputCount / outer
    Threads.parallelFor(0 ..< outer, threads: threads, minChunk: max(1, Threads.elementwiseMinChunk / max(inner, 1))) { r in
        var dims = plan.dims
        dims[0] = r.count
        StridedLoops.scatterCopy(dy + r.lowerBound * inner, dims, plan.strides, dx + plan.offset + r.lowerBound * plan.strides[0])
    }
}

// MARK: - broadcastTo

/// Expands size-1 dimensions (and missing leading ones) of `from` to `to`,
/// NumPy style: shapes are right-aligned and each source dimension must equal
/// the target's or be 1.
public struct BroadcastToPlan: Sendable, Hashable {
    public let inputShape: [Int], outputShape: [Int]
    public let outputCount: Int
    @usableFromInline let dims: [Int]
    @usableFromInline let strides: [Int]

    public init(from: [Int], to: [Int]) throws(LayoutError) {
        if from.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: from) }
        if to.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: to) }
        if from.count > to.count { throw .notBroadcastable(from: from, to: to, axis: 0) }
        let pad = to.count - from.count
        let padded = [Int](repeating: 1, count: pad) + from
        let inStrides = StridedLoops.contiguousStrides(padded)
        var s: [Int] = []
        for i in 0..<to.count {
            if padded[i] == to[i] {
                s.append(padded[i] == 1 ? 0 : inStrides[i])
            } else if padded[i] == 1 {
                s.append(0)
            } else {
                throw .notBroadcastable(from: from, to: to, axis: i)
            }
        }
        inputShape = from
        outputShape = to
        outputCount = StridedLoops.product(to)
        let c = StridedLoops.collapse(to, [s])
        dims = c.dims
        strides = c.strides[0]
    }
}

/// y = x expanded to the plan's output shape.
@inlinable
public func broadcastTo<T: KernelScalar>(_ plan: BroadcastToPlan, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
    if plan.outputCount == 0 { return }
    StridedLoops.gatherCopy(x, plan.dims, plan.strides, y)
}

// MARK: - One-hot and casts

/// out[i·classes + c] = (labels[i] == c) ? 1 : 0 for i in 0..<count.
/// A label outside 0..<classes leaves its row all zero and is reported: the
/// first such row (index relative to `labels`) is thrown after every row has
/// been written.
@inlinable
public func oneHot<T: KernelScalar>(labels: UnsafePointer<Int32>, count: Int, classes: Int,
                                    _ out: UnsafeMutablePointer<T>) throws(LabelError) {
    out.update(repeating: 0, count: count * classes)
    var firstBad: LabelError? = nil
    for i in 0..<count {
        let l = Int(labels[i])
        if l >= 0 && l < classes {
            out[i * classes + l] = 1
        } else if firstBad == nil {
            firstBad = LabelError(row: i, label: labels[i], classes: classes)
        }
    }
    if let e = firstBad { throw e }
}

/// y[i] = T(x[i]) (exact for |x| ≤ 2^24 in Float, always in Double).
@inlinable
public func cast<T: KernelScalar>(_ x: UnsafePointer<Int32>, _ y: UnsafeMutablePointer<T>, count: Int) {
    for i in 0..<count { y[i] = T(x[i]) }
}

/// y[i] = x[i] rounded toward zero to Int32, saturating: values beyond the
/// Int32 range (±inf included) become Int32.min / Int32.max, NaN becomes 0.
@inlinable
public func cast<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<Int32>, count: Int) {
    let hi = T(Int32.max), lo = T(Int32.min)
    for i in 0..<count {
        let v = x[i]
        if v.isNaN {
            y[i] = 0
        } else if v >= hi {
            y[i] = Int32.max
        } else if v <= lo {
            y[i] = Int32.min
        } else {
            y[i] = Int32(v.rounded(.towardZero))
        }
    }
}

/// y[i] = D(x[i]): Float ↔ Double (round to nearest when narrowing; values
/// beyond Float's range become ±inf), or a copy when S == D.
@inlinable
public func cast<S: KernelScalar, D: KernelScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<D>, count: Int) {
    for i in 0..<count { y[i] = D(x[i]) }
}
