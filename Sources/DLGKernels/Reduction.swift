/// Reductions (sum, mean, max, min) over any set of axes of a row-major
/// tensor, their backward, and argmax along the last axis.
///
/// Summation is pairwise: contiguous runs are summed by `SIMDMath.sum`
/// (blocks of ≤ 128 in SIMD accumulators, halves above that) and strided
/// runs (reducing a leading or middle axis) by recursive halving over the
/// rows in blocks of ≤ 8 rows, so the rounding error grows like log2 of the
/// reduced count instead of linearly. A reduction over several separated axis
/// groups is done one group at a time (rightmost first), each step pairwise.

public enum ReduceOp: Hashable, Sendable, Codable, CustomStringConvertible {
    case sum, mean, max, min

    public var description: String {
        switch self {
        case .sum: "sum"
        case .mean: "mean"
        case .max: "max"
        case .min: "min"
        }
    }

    /// The value accumulation starts from (a mean accumulates a sum).
    @inlinable
    public func identity<T: KernelScalar>(_: T.Type) -> T {
        switch self {
        case .sum, .mean: 0
        case .max: -.infinity
        case .min: .infinity
        }
    }

    /// The result over no elements: the identity, except NaN for a mean.
    @inlinable
    public func ofNothing<T: KernelScalar>(_: T.Type) -> T {
        self == .mean ? .nan : identity(T.self)
    }
}

/// What is wrong with a reduction's shape or axes.
public enum ReductionError: Error, Hashable, Sendable, CustomStringConvertible {
    case negativeDimension(shape: [Int])
    case axisOutOfRange(axis: Int, rank: Int)
    case duplicateAxis(axis: Int)

    public var description: String {
        switch self {
        case .negativeDimension(let s): "shape \(s) has a negative dimension"
        case .axisOutOfRange(let a, let r): "reduction axis \(a) is out of range for rank \(r)"
        case .duplicateAxis(let a): "reduction axis \(a) is listed twice"
        }
    }
}

/// A reduction of `inputShape` over `axes`, precomputed. The kernels write the
/// flat output, whose layout is the same for `keptShape` (reduced axes kept as
/// size 1) and `outputShape` (reduced axes removed).
public struct ReductionPlan: Sendable, Hashable {
    public let inputShape: [Int]
    /// Normalized (non-negative), sorted, unique.
    public let axes: [Int]
    public let keptShape: [Int]
    public let outputShape: [Int]
    public let inputCount: Int
    public let outputCount: Int
    /// Number of input elements folded into each output element.
    public let reducedCount: Int

    /// Size-1 axes dropped, adjacent axes of the same kind merged.
    @usableFromInline let blocks: [Int]
    @usableFromInline let reducedBlock: [Bool]
    /// Strides of each block in the (kept-layout) output, 0 for reduced blocks.
    @usableFromInline let outputStrides: [Int]
    /// `reduce`'s steps, rightmost reduced block first: each reduces the
    /// middle of [outer, m, inner].
    @usableFromInline let steps: [Step]

    @usableFromInline
    struct Step: Sendable, Hashable {
        @usableFromInline let outer: Int, m: Int, inner: Int
    }

    /// `axes` may be negative (counted from the end); an empty list copies.
    public init(shape: [Int], axes: [Int]) throws(ReductionError) {
        if shape.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: shape) }
        let rank = shape.count
        var seen = Set<Int>()
        for a in axes {
            let n = a < 0 ? a + rank : a
            if n < 0 || n >= rank { throw .axisOutOfRange(axis: a, rank: rank) }
            if !seen.insert(n).inserted { throw .duplicateAxis(axis: a) }
        }
        inputShape = shape
        self.axes = seen.sorted()
        keptShape = shape.indices.map { seen.contains($0) ? 1 : shape[$0] }
        outputShape = shape.indices.filter { !seen.contains($0) }.map { shape[$0] }
        inputCount = StridedLoops.product(shape)
        outputCount = StridedLoops.product(keptShape)
        reducedCount = StridedLoops.product(self.axes.map { shape[$0] })

        var b: [Int] = [], r: [Bool] = []
        for i in 0..<rank where shape[i] != 1 {
            let red = seen.contains(i)
            if let last = r.last, last == red {
                b[b.count - 1] *= shape[i]
            } else {
                b.append(shape[i])
                r.append(red)
            }
        }
        blocks = b
        reducedBlock = r
        var s = [Int](repeating: 0, count: b.count)
        var acc = 1
        for i in stride(from: b.count - 1, through: 0, by: -1) where !r[i] {
            s[i] = acc
            acc *= b[i]
        }
        outputStrides = s
        // The steps of `reduce`: the rightmost reduced block each time, kept neighbours merged.
        var steps: [Step] = []
        while let j = r.lastIndex(of: true) {
            steps.append(Step(outer: StridedLoops.product(b[..<j]), m: b[j], inner: StridedLoops.product(b[(j + 1)...])))
            b.remove(at: j)
            r.remove(at: j)
            if j > 0 && j < b.count && !r[j - 1] && !r[j] {
                b[j - 1] *= b[j]
                b.remove(at: j)
                r.remove(at: j)
            }
        }
        self.steps = steps
    }

    /// Elements of scratch `reduce` uses at `threads` threads: the result
    /// between steps, and the pairwise column sums' partial rows (one set
    /// per thread in the first step).
    @usableFromInline
    func scratchCount(threads: Int) -> Int {
        var columns = 0
        for (i, step) in steps.enumerated() where step.inner > 1 {
            let one = step.inner * ReductionKernels.pairwiseDepth(step.m)
            columns = Swift.max(columns, i == 0 ? one * Swift.max(1, threads) : one)
        }
        return intermediateCount + columns
    }

    /// Elements of the result between `reduce`'s steps (the first step's output when more follow).
    @usableFromInline
    var intermediateCount: Int { steps.count > 1 ? steps[0].outer * steps[0].inner : 0 }

    /// Bytes of scratch `reduce` and the max/min backward use at `threads`
    /// threads for elements of `elementSize` bytes. A caller that passes
    /// them (the runtime: its workspace) spares each call an allocation.
    public func scratchBytes(threads: Int, elementSize: Int) -> Int {
        let extremum = extremumPositionsOffset(elementSize: elementSize) + outputCount * MemoryLayout<Int>.stride
        return Swift.max(scratchCount(threads: threads) * elementSize, extremum)
    }

    /// Where the max/min backward's positions start in its scratch, after the best values.
    @usableFromInline
    func extremumPositionsOffset(elementSize: Int) -> Int { (outputCount * elementSize + 63) / 64 * 64 }
}

@usableFromInline
enum ReductionKernels {
    /// Max (or min, with `isMin`) of n ≥ 1 contiguous elements.
    @inlinable @inline(__always)
    static func extremum<T: KernelScalar>(_ p: UnsafePointer<T>, _ n: Int, isMin: Bool) -> T {
        SIMDMath.extremum(p, n, isMin: isMin)
    }

    /// y[r] = op(x[r·m ..< (r+1)·m]) for r in 0..<rows (op: sum, max or min).
    @inlinable
    static func reduceRows<T: KernelScalar>(_ op: ReduceOp, _ x: UnsafePointer<T>, rows: Int, m: Int,
                                            _ y: UnsafeMutablePointer<T>) {
        switch op {
        case .sum, .mean:
            for r in 0..<rows { y[r] = SIMDMath.sum(x + r * m, m) }
        case .max:
            for r in 0..<rows { y[r] = extremum(x + r * m, m, isMin: false) }
        case .min:
            for r in 0..<rows { y[r] = extremum(x + r * m, m, isMin: true) }
        }
    }

    /// Input elements from which `reduce` splits its first step over threads:
    /// batchnorm's sums over ResNet-20's activations (128K to 512K elements)
    /// took 0.94 of the step's time split, the MLP's bias gradients (32K and
    /// 64K) 1.2–2× as long as on one thread.
    public static let parallelMinimum = 1 << 17

    /// Runs `body` on `scratch`, or, without it, on `plan.scratchBytes` bytes
    /// allocated for the call.
    @inlinable
    static func withScratch<T: KernelScalar>(_ scratch: UnsafeMutableRawPointer?, _ plan: ReductionPlan, threads: Int,
                                             _: T.Type, _ body: (UnsafeMutableRawPointer) -> Void) {
        if let scratch { return body(scratch) }
        let owned = UnsafeMutableRawPointer.allocate(
            byteCount: Swift.max(64, plan.scratchBytes(threads: threads, elementSize: MemoryLayout<T>.stride)), alignment: 64)
        defer { owned.deallocate() }
        body(owned)
    }

    /// Recursion depth of `sumColumns` for m rows (blocks of ≤ 8 rows).
    @inlinable
    static func pairwiseDepth(_ m: Int) -> Int {
        var d = 0, n = m
        while n > 8 { n = (n + 1) / 2; d += 1 }
        return d
    }

    /// dst[j] = Σ_i x[i·ld + j] for j in 0..<inner over m ≥ 1 rows, pairwise
    /// over the rows; `scratch` holds inner·pairwiseDepth(m) elements.
    @inlinable
    static func sumColumns<T: KernelScalar>(_ x: UnsafePointer<T>, _ m: Int, _ inner: Int, ld: Int,
                                            _ dst: UnsafeMutablePointer<T>, _ scratch: UnsafeMutablePointer<T>) {
        if m <= 8 {
            dst.update(from: x, count: inner)
            for i in 1..<m { SIMDMath.map2(dst, x + i * ld, dst, inner) { $0 + $1 } }
            return
        }
        let half = m / 2
        sumColumns(x, half, inner, ld: ld, dst, scratch + inner)
        sumColumns(x + half * ld, m - half, inner, ld: ld, scratch, scratch + inner)
        SIMDMath.map2(dst, scratch, dst, inner) { $0 + $1 }
    }

    /// How many subtrees of `sumColumns`' halving over m rows `sumColumnsSplit`
    /// gives to threads: the largest power of two ≤ `threads` such that every
    /// node above them still halves (more than 8 rows); 1 for none.
    @inlinable
    static func rowLeaves(_ m: Int, threads: Int) -> Int {
        var leaves = 1, smallest = m
        while leaves * 2 <= threads && smallest > 8 {
            leaves *= 2
            smallest /= 2
        }
        return leaves
    }

    /// `sumColumns(x, m, inner, ld: inner, dst, …)` with the subtrees `leaves`
    /// levels down (a power of two, `rowLeaves`) summed on as many threads,
    /// each over whole contiguous rows, then added up the tree in the same
    /// order: the same additions as on one thread, so the same result. A sum
    /// over the rows of [m, inner] with few rows of output (a bias gradient)
    /// splits this way into contiguous blocks instead of strips of columns
    /// that every thread reads from every row. `scratch` holds
    /// leaves·inner·pairwiseDepth(m) elements: leaf i > 0 writes its sum at
    /// i·inner·pairwiseDepth(m) and recurses in the rest of that region.
    @inlinable
    static func sumColumnsSplit<T: KernelScalar>(_ x: UnsafePointer<T>, _ m: Int, _ inner: Int,
                                                 _ dst: UnsafeMutablePointer<T>, _ scratch: UnsafeMutablePointer<T>,
                                                 leaves: Int) {
        let region = inner * pairwiseDepth(m)
        var levels = 0
        while 1 << levels < leaves { levels += 1 }
        // Leaf i's rows: down the halving, the right half (m − m/2 rows) where i's bit is set.
        func rows(_ i: Int) -> Range<Int> {
            var start = 0, count = m
            for l in stride(from: levels - 1, through: 0, by: -1) {
                let half = count / 2
                if (i >> l) & 1 == 1 {
                    start += half
                    count -= half
                } else {
                    count = half
                }
            }
            return start ..< start + count
        }
        func sum(_ i: Int) -> UnsafeMutablePointer<T> { i == 0 ? dst : scratch + i * region }
        Threads.parallelChunks(0 ..< leaves, threads: leaves) { _, range in
            for i in range {
                let r = rows(i)
                sumColumns(x + r.lowerBound * inner, r.count, inner, ld: inner, sum(i),
                           i == 0 ? scratch : scratch + i * region + inner)
            }
        }
        // Up the tree: each node is its left child plus its right child, into the left child's sum.
        var width = 1
        while width < leaves {
            var i = 0
            while i < leaves {
                SIMDMath.map2(sum(i), sum(i + width), sum(i), inner) { $0 + $1 }
                i += 2 * width
            }
            width *= 2
        }
    }

    /// y[o·ldy + j] = op_i x[(o·m + i)·ld + j] for j in 0..<inner; the row
    /// strides `ld` of x and `ldy` of y default to `inner` (a column block
    /// of wider rows passes the rows' lengths).
    /// `scratch` holds inner·pairwiseDepth(m) elements (sum and mean).
    @inlinable
    static func reduceColumns<T: KernelScalar>(_ op: ReduceOp, _ x: UnsafePointer<T>, outer: Int, m: Int,
                                               inner: Int, ld: Int? = nil, ldy: Int? = nil, _ y: UnsafeMutablePointer<T>,
                                               scratch: UnsafeMutablePointer<T>) {
        let ld = ld ?? inner, ldy = ldy ?? inner
        switch op {
        case .sum, .mean:
            for o in 0..<outer {
                sumColumns(x + o * m * ld, m, inner, ld: ld, y + o * ldy, scratch)
            }
        case .max, .min:
            let isMin = op == .min
            for o in 0..<outer {
                let dst = y + o * ldy
                let src = x + o * m * ld
                dst.update(from: src, count: inner)
                for i in 1..<m {
                    SIMDMath.map2(dst, src + i * ld, dst, inner) { a, b in
                        SIMDMath.select(b, isMin ? .lt : .gt, a, then: b, else: a)
                    }
                }
            }
        }
    }
}

/// y = op(x) over the plan's axes; `y` holds `plan.outputCount` elements and
/// must not overlap `x`. Sum and mean are pairwise (see the file notes).
/// Reducing an empty set of elements gives 0 (sum), NaN (mean), −inf (max) or
/// +inf (min). NaN propagation through max/min is not guaranteed. The first
/// step (the one that reads all of x) splits its outputs over `threads`
/// threads from `ReductionKernels.parallelMinimum` input elements; each
/// output is computed as on one thread, so the result does not depend on
/// `threads`. `scratch`, when given, holds `plan.scratchBytes(threads:
/// elementSize:)` bytes, 64-byte aligned; without it each call allocates.
@inlinable
public func reduce<T: KernelScalar>(_ op: ReduceOp, _ plan: ReductionPlan, _ x: UnsafePointer<T>,
                                    _ y: UnsafeMutablePointer<T>, threads: Int = 1,
                                    scratch: UnsafeMutableRawPointer? = nil) {
    if plan.outputCount == 0 { return }
    if plan.inputCount == 0 {
        y.update(repeating: op.ofNothing(T.self), count: plan.outputCount)
        return
    }
    let steps = plan.steps
    guard !steps.isEmpty else {
        y.update(from: x, count: plan.outputCount)
        return
    }
    // Intermediates live in one scratch buffer, sized for the first (largest)
    // one; later steps run in place there, which is safe because output
    // element o of a step is written at or before the first input element of
    // o it reads, and after every input element of outputs before o. The
    // pairwise column sums' rows follow it.
    ReductionKernels.withScratch(scratch, plan, threads: threads, T.self) { base in
        let intermediate = base.assumingMemoryBound(to: T.self)
        let columns = intermediate + plan.intermediateCount
        var src = x
        for (i, step) in steps.enumerated() {
            let (outer, m, inner) = (step.outer, step.m, step.inner)
            let dst = i == steps.count - 1 ? y : intermediate
            let source = src
            let depth = ReductionKernels.pairwiseDepth(m)
            if threads > 1 && i == 0 && outer * m * inner >= ReductionKernels.parallelMinimum {
                // The first step reads x and writes elsewhere: its outputs split over threads.
                if inner == 1 {
                    Threads.parallelFor(0 ..< outer, threads: threads) { r in
                        ReductionKernels.reduceRows(op, source + r.lowerBound * m, rows: r.count, m: m, dst + r.lowerBound)
                    }
                } else if outer >= threads {
                    Threads.parallelChunks(0 ..< outer, threads: threads) { t, r in
                        ReductionKernels.reduceColumns(op, source + r.lowerBound * m * inner, outer: r.count, m: m, inner: inner,
                                                       dst + r.lowerBound * inner, scratch: columns + t * inner * depth)
                    }
                } else if op == .sum || op == .mean, case let leaves = ReductionKernels.rowLeaves(m, threads: threads), leaves > 1 {
                    // A bias gradient ([rows, d] → [d]): the threads take the top subtrees of the pairwise sum.
                    for o in 0 ..< outer {
                        ReductionKernels.sumColumnsSplit(source + o * m * inner, m, inner, dst + o * inner, columns, leaves: leaves)
                    }
                } else {
                    Threads.parallelFor(0 ..< (inner + 15) / 16, threads: threads) { r in
                        let j0 = r.lowerBound * 16, j1 = Swift.min(inner, r.upperBound * 16)
                        ReductionKernels.reduceColumns(op, source + j0, outer: outer, m: m, inner: j1 - j0, ld: inner, ldy: inner,
                                                       dst + j0, scratch: columns + j0 * depth)
                    }
                }
            } else if inner == 1 {
                ReductionKernels.reduceRows(op, src, rows: outer, m: m, dst)
            } else {
                ReductionKernels.reduceColumns(op, src, outer: outer, m: m, inner: inner, dst, scratch: columns)
            }
            src = UnsafePointer(dst)
        }
    }
    if op == .mean {
        let scale = 1 / T(plan.reducedCount)
        SIMDMath.map(y, y, plan.outputCount) { $0 * scale }
    }
}

/// Backward of `reduce`: for sum, dx[i] = dy[out(i)]; for mean, that times
/// 1/reducedCount; for max and min, see `reduceMaxBackward`. `x` is read only
/// for max and min. `dx` holds `plan.inputCount` elements.
@inlinable
public func reduceBackward<T: KernelScalar>(_ op: ReduceOp, _ plan: ReductionPlan, x: UnsafePointer<T>,
                                            dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>) {
    switch op {
    case .sum, .mean:
        if plan.inputCount == 0 { return }
        if plan.blocks.isEmpty {
            dx.update(from: dy, count: plan.inputCount)
        } else {
            StridedLoops.gatherCopy(dy, plan.blocks, plan.outputStrides, dx)
        }
        if op == .mean {
            let scale = 1 / T(plan.reducedCount)
            SIMDMath.map(dx, dx, plan.inputCount) { $0 * scale }
        }
    case .max:
        reduceMaxBackward(plan, x: x, dy: dy, dx: dx)
    case .min:
        reduceMinBackward(plan, x: x, dy: dy, dx: dx)
    }
}

/// Backward of a max reduction: dx is zero except at the position of each
/// output's maximum, which receives dy of that output. Among equal maxima the
/// first in row-major order wins.
@inlinable
public func reduceMaxBackward<T: KernelScalar>(_ plan: ReductionPlan, x: UnsafePointer<T>,
                                               dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>,
                                               scratch: UnsafeMutableRawPointer? = nil) {
    ReductionKernels.routeToExtremum(plan, x, dy, dx, isMin: false, scratch: scratch)
}

/// Backward of a min reduction (see `reduceMaxBackward`; first minimum wins).
@inlinable
public func reduceMinBackward<T: KernelScalar>(_ plan: ReductionPlan, x: UnsafePointer<T>,
                                               dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>,
                                               scratch: UnsafeMutableRawPointer? = nil) {
    ReductionKernels.routeToExtremum(plan, x, dy, dx, isMin: true, scratch: scratch)
}

extension ReductionKernels {
    @inlinable
    static func routeToExtremum<T: KernelScalar>(_ plan: ReductionPlan, _ x: UnsafePointer<T>,
                                                 _ dy: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
                                                 isMin: Bool, scratch: UnsafeMutableRawPointer?) {
        if plan.inputCount == 0 { return }
        guard plan.reducedBlock.contains(true) else {
            dx.update(from: dy, count: plan.inputCount)
            return
        }
        let outCount = plan.outputCount
        // The best value and its position per output, in the caller's scratch or allocated here.
        ReductionKernels.withScratch(scratch, plan, threads: 1, T.self) { base in
            let best = base.assumingMemoryBound(to: T.self)
            let where_ = (base + plan.extremumPositionsOffset(elementSize: MemoryLayout<T>.stride))
                .assumingMemoryBound(to: Int.self)
            best.update(repeating: 0, count: outCount)
            where_.update(repeating: -1, count: outCount)
            let dims = plan.blocks
            let inStrides = StridedLoops.contiguousStrides(dims)
            let n = dims[dims.count - 1]
            let innerReduced = plan.reducedBlock[dims.count - 1]
            // Visit the input in row-major order; strict comparison keeps the first extremum.
            StridedLoops.forEachRun(dims, inStrides, plan.outputStrides) { xo, yo in
                let p = x + xo
                if innerReduced {
                    var k = 0
                    var v = p[0]
                    for i in 1..<n where isMin ? p[i] < v : p[i] > v {
                        v = p[i]
                        k = i
                    }
                    if where_[yo] < 0 || (isMin ? v < best[yo] : v > best[yo]) {
                        best[yo] = v
                        where_[yo] = xo + k
                    }
                } else {
                    for i in 0..<n {
                        let v = p[i]
                        if where_[yo + i] < 0 || (isMin ? v < best[yo + i] : v > best[yo + i]) {
                            best[yo + i] = v
                            where_[yo + i] = xo + i
                        }
                    }
                }
            }
            dx.update(repeating: 0, count: plan.inputCount)
            for o in 0..<outCount where where_[o] >= 0 {
                dx[where_[o]] = dy[o]
            }
        }
    }
}

/// out[r] = the index of the largest of x[r·n ..< (r+1)·n] (the first one on
/// ties), for r in 0..<rows; −1 when n == 0. NaNs are never selected unless
/// they come first.
@inlinable
public func argmaxLastAxis<T: KernelScalar>(_ x: UnsafePointer<T>, rows: Int, n: Int,
                                            _ out: UnsafeMutablePointer<Int32>) {
    for r in 0..<rows {
        if n == 0 {
            out[r] = -1
            continue
        }
        let p = x + r * n
        var best = p[0]
        var k = 0
        for i in 1..<n where p[i] > best {
            best = p[i]
            k = i
        }
        out[r] = Int32(truncatingIfNeeded: k)
    }
}
