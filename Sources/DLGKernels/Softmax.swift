#if arch(x86_64)
import DLGKernelsAVX512
#endif

/// Softmax and log-softmax along one axis, their backward, and fused softmax
/// cross-entropy (sparse integer labels or dense target distributions).
///
/// The tensor is viewed as [outer, n, inner] with the softmax taken over n
/// (for the last axis, inner = 1). Every kernel subtracts the maximum first,
/// so large logits never overflow. Along a contiguous axis (inner = 1) sums
/// are pairwise; along a strided axis (inner > 1) sixteen columns are
/// processed at a time and each column's sum is accumulated in order.
/// Rows are independent, so callers may split work by rows (or by outer)
/// and pass offset pointers.

/// A class label outside 0..<classes. `row` counts from the first row passed
/// to the kernel that found it.
public struct LabelError: Error, Hashable, Sendable, CustomStringConvertible {
    public let row: Int
    public let label: Int32
    public let classes: Int

    public init(row: Int, label: Int32, classes: Int) {
        self.row = row
        self.label = label
        self.classes = classes
    }

    public var description: String {
        "label \(label) in row \(row) is out of range 0..<\(classes)"
    }
}

@usableFromInline
enum SoftmaxKernels {
    /// Loads w ≤ 16 elements (other lanes 0).
    @inlinable @inline(__always)
    static func load<T: KernelScalar>(_ p: UnsafePointer<T>, _ w: Int) -> SIMD16<T> {
        w == 16 ? SIMDMath.load(p) : SIMDMath.loadPartial(p, w, fill: 0)
    }

    @inlinable @inline(__always)
    static func store<T: KernelScalar>(_ v: SIMD16<T>, _ p: UnsafeMutablePointer<T>, _ w: Int) {
        if w == 16 { SIMDMath.store(v, p) } else { SIMDMath.storePartial(v, p, w) }
    }

    /// (max, log Σ e^(x−max)) of n ≥ 1 contiguous values; logsumexp = max + second.
    @inlinable @inline(__always)
    static func logSumExp<T: KernelScalar>(_ x: UnsafePointer<T>, _ n: Int) -> (max: T, logSum: T) {
        SIMDMath.logSumExp(x, n)
    }
}

/// y = softmax(x) over n for each (outer, inner) position:
/// y_i = e^(x_i − max) / Σ_j e^(x_j − max). `x` may equal `y`.
@inlinable
public func softmax<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                     outer: Int, n: Int, inner: Int) {
    if n == 0 || inner == 0 { return }
    if inner == 1 && n <= 16 {
        // One vector per row; padding lanes hold −inf and contribute e^−inf = 0.
        for o in 0..<outer {
            let v = SIMDMath.loadPartial(x + o * n, n, fill: -.infinity)
            let e = SIMDMath.exp(v - SIMDMath.horizontalExtremum(v, isMin: false))
            SIMDMath.storePartial(e * (1 / SIMDMath.horizontalSum(e)), y + o * n, n)
        }
        return
    }
    if inner == 1 {
        for o in 0..<outer {
            let xr = x + o * n, yr = y + o * n
            let m = ReductionKernels.extremum(xr, n, isMin: false)
            SIMDMath.map(xr, yr, n) { SIMDMath.exp($0 - m) }
            let inv = 1 / SIMDMath.sum(UnsafePointer(yr), n)
            SIMDMath.map(yr, yr, n) { $0 * inv }
        }
        return
    }
    for o in 0..<outer {
        let xb = x + o * n * inner, yb = y + o * n * inner
        var j = 0
        while j < inner {
            let w = Swift.min(16, inner - j)
            var m = SoftmaxKernels.load(xb + j, w)
            for i in 1..<n {
                let v = SoftmaxKernels.load(xb + i * inner + j, w)
                m = SIMDMath.select(v, .gt, m, then: v, else: m)
            }
            var s = SIMD16<T>()
            for i in 0..<n {
                let e = SIMDMath.exp(SoftmaxKernels.load(xb + i * inner + j, w) - m)
                SoftmaxKernels.store(e, yb + i * inner + j, w)
                s += e
            }
            let inv = 1 / s
            for i in 0..<n {
                let p = yb + i * inner + j
                SoftmaxKernels.store(SoftmaxKernels.load(p, w) * inv, p, w)
            }
            j += w
        }
    }
}

/// y = log softmax(x) over n: y_i = (x_i − max) − log Σ_j e^(x_j − max).
/// `x` may equal `y`.
@inlinable
public func logSoftmax<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                        outer: Int, n: Int, inner: Int) {
    if n == 0 || inner == 0 { return }
    if inner == 1 {
        for o in 0..<outer {
            let xr = x + o * n
            let (m, ls) = SoftmaxKernels.logSumExp(xr, n)
            SIMDMath.map(xr, y + o * n, n) { ($0 - m) - ls }
        }
        return
    }
    for o in 0..<outer {
        let xb = x + o * n * inner, yb = y + o * n * inner
        var j = 0
        while j < inner {
            let w = Swift.min(16, inner - j)
            var m = SoftmaxKernels.load(xb + j, w)
            for i in 1..<n {
                let v = SoftmaxKernels.load(xb + i * inner + j, w)
                m = SIMDMath.select(v, .gt, m, then: v, else: m)
            }
            var s = SIMD16<T>()
            for i in 0..<n {
                s += SIMDMath.exp(SoftmaxKernels.load(xb + i * inner + j, w) - m)
            }
            let ls = SIMDMath.lanes(s) { T.log($0) }
            for i in 0..<n {
                let v = SoftmaxKernels.load(xb + i * inner + j, w)
                SoftmaxKernels.store((v - m) - ls, yb + i * inner + j, w)
            }
            j += w
        }
    }
}

/// Backward of softmax given its output y: dx_i = y_i·(dy_i − Σ_j dy_j·y_j).
/// `dx` may equal `dy`.
@inlinable
public func softmaxBackward<T: KernelScalar>(y: UnsafePointer<T>, dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>,
                                             outer: Int, n: Int, inner: Int) {
    if n == 0 || inner == 0 { return }
    if inner == 1 {
        for o in 0..<outer {
            let yr = y + o * n, gr = dy + o * n
            let d: T = SIMDMath.pairwiseSum(0, n) { i, w in
                SoftmaxKernels.load(yr + i, w) * SoftmaxKernels.load(gr + i, w)
            }
            SIMDMath.map2(yr, gr, dx + o * n, n) { yv, g in yv * (g - d) }
        }
        return
    }
    for o in 0..<outer {
        let base = o * n * inner
        var j = 0
        while j < inner {
            let w = Swift.min(16, inner - j)
            var d = SIMD16<T>()
            for i in 0..<n {
                let k = base + i * inner + j
                d += SoftmaxKernels.load(y + k, w) * SoftmaxKernels.load(dy + k, w)
            }
            for i in 0..<n {
                let k = base + i * inner + j
                let yv = SoftmaxKernels.load(y + k, w)
                SoftmaxKernels.store(yv * (SoftmaxKernels.load(dy + k, w) - d), dx + k, w)
            }
            j += w
        }
    }
}

/// Backward of log-softmax given its output y: dx_i = dy_i − e^(y_i)·Σ_j dy_j.
/// `dx` may equal `dy`.
@inlinable
public func logSoftmaxBackward<T: KernelScalar>(y: UnsafePointer<T>, dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>,
                                                outer: Int, n: Int, inner: Int) {
    if n == 0 || inner == 0 { return }
    if inner == 1 {
        for o in 0..<outer {
            let yr = y + o * n, gr = dy + o * n
            let s = SIMDMath.sum(gr, n)
            SIMDMath.map2(yr, gr, dx + o * n, n) { yv, g in g - SIMDMath.exp(yv) * s }
        }
        return
    }
    for o in 0..<outer {
        let base = o * n * inner
        var j = 0
        while j < inner {
            let w = Swift.min(16, inner - j)
            var s = SIMD16<T>()
            for i in 0..<n { s += SoftmaxKernels.load(dy + base + i * inner + j, w) }
            for i in 0..<n {
                let k = base + i * inner + j
                let g = SoftmaxKernels.load(dy + k, w)
                SoftmaxKernels.store(g - SIMDMath.exp(SoftmaxKernels.load(y + k, w)) * s, dx + k, w)
            }
            j += w
        }
    }
}

// MARK: - Fused softmax cross-entropy

/// Runs `body(r, l)` for every row r < `rows`, l = labels[r] when it lies in
/// 0..<classes and nil otherwise, the rows split over `threads` in contiguous
/// chunks (at least 8192 logits each); after all rows, throws the first row
/// whose label is out of range. Each row is one thread's, so the results do
/// not depend on the thread count.
@inlinable
func forEachLabeledRow(rows: Int, classes: Int, labels: UnsafePointer<Int32>, threads: Int,
                       _ body: (_ row: Int, _ label: Int?) -> Void) throws(LabelError) {
    let minChunk = max(1, 8192 / max(classes, 1))
    let chunks = Threads.chunkCount(rows, threads: threads, minChunk: minChunk)
    let firstBad = withUnsafeTemporaryAllocation(of: Int.self, capacity: max(chunks, 1)) { bad in
        bad.initialize(repeating: Int.max)
        Threads.parallelChunks(0 ..< rows, threads: threads, minChunk: minChunk) { c, range in
            for r in range {
                let l = Int(labels[r])
                if l >= 0 && l < classes {
                    body(r, l)
                } else {
                    body(r, nil)
                    if bad[c] == Int.max { bad[c] = r }
                }
            }
        }
        return bad.min() ?? Int.max
    }
    if firstBad != Int.max { throw LabelError(row: firstBad, label: labels[firstBad], classes: classes) }
}

/// Sparse softmax cross-entropy: for each row r of logits [rows, classes],
/// loss[r] = logsumexp(z_r) − z_r[labels[r]], the rows split over `threads`.
///
/// Rows whose label is outside 0..<classes get loss NaN; after all rows are
/// done, the first such row is thrown as a `LabelError` (row relative to the
/// pointers given). Never traps.
@inlinable
public func softmaxCrossEntropy<T: KernelScalar>(logits: UnsafePointer<T>, labels: UnsafePointer<Int32>,
                                                 loss: UnsafeMutablePointer<T>,
                                                 rows: Int, classes: Int, threads: Int = 1) throws(LabelError) {
    let avx512 = usesAVX512(T.self)
    try forEachLabeledRow(rows: rows, classes: classes, labels: labels, threads: threads) { r, label in
        guard let l = label else {
            loss[r] = .nan
            return
        }
        let z = logits + r * classes
        #if arch(x86_64)
        if avx512 {
            f32(loss)[r] = SoftmaxRows.crossEntropy(f32(z), classes, label: l)
            return
        }
        #endif
        let (m, ls) = SoftmaxKernels.logSumExp(z, classes)
        loss[r] = (m - z[l]) + ls
    }
}

/// Backward of sparse softmax cross-entropy:
/// dlogits[r, j] = (softmax(z_r)_j − [j == labels[r]])·dloss[r], the rows split over `threads`.
/// Rows with an out-of-range label are filled with NaN and the first is thrown.
@inlinable
public func softmaxCrossEntropyBackward<T: KernelScalar>(logits: UnsafePointer<T>, labels: UnsafePointer<Int32>,
                                                         dloss: UnsafePointer<T>,
                                                         dlogits: UnsafeMutablePointer<T>,
                                                         rows: Int, classes: Int, threads: Int = 1) throws(LabelError) {
    let avx512 = usesAVX512(T.self)
    try forEachLabeledRow(rows: rows, classes: classes, labels: labels, threads: threads) { r, label in
        let dz = dlogits + r * classes
        guard let l = label else {
            dz.update(repeating: .nan, count: classes)
            return
        }
        let z = logits + r * classes
        #if arch(x86_64)
        if avx512 {
            SoftmaxRows.crossEntropyGradient(f32(z), f32(dz), classes, label: l, scale: f32(dloss)[r])
            return
        }
        #endif
        let (m, ls) = SoftmaxKernels.logSumExp(z, classes)
        let g = dloss[r]
        SIMDMath.map(z, dz, classes) { SIMDMath.exp(($0 - m) - ls) * g }
        dz[l] -= g
    }
}

/// Dense softmax cross-entropy: loss[r] = −Σ_j t[r, j]·log softmax(z_r)_j for
/// logits z and targets t, both [rows, classes]. Terms with t = 0 contribute 0
/// even where log softmax is −inf. The sum over j is pairwise.
@inlinable
public func softmaxCrossEntropy<T: KernelScalar>(logits: UnsafePointer<T>, targets: UnsafePointer<T>,
                                                 loss: UnsafeMutablePointer<T>, rows: Int, classes: Int) {
    for r in 0..<rows {
        guard classes > 0 else {
            loss[r] = 0
            continue
        }
        let z = logits + r * classes, t = targets + r * classes
        let (m, ls) = SoftmaxKernels.logSumExp(z, classes)
        loss[r] = SIMDMath.pairwiseSum(0, classes) { i, w in
            let tv = SoftmaxKernels.load(t + i, w)
            let term = tv * ((m - SoftmaxKernels.load(z + i, w)) + ls)
            return SIMDMath.select(tv, .eq, 0, then: SIMD16(), else: term)
        }
    }
}

/// Backward of dense softmax cross-entropy, the exact gradient of the loss
/// above: dlogits[r, j] = (softmax(z_r)_j·Σ_k t[r, k] − t[r, j])·dloss[r],
/// which is (softmax − t)·dloss when each target row sums to 1.
@inlinable
public func softmaxCrossEntropyBackward<T: KernelScalar>(logits: UnsafePointer<T>, targets: UnsafePointer<T>,
                                                         dloss: UnsafePointer<T>,
                                                         dlogits: UnsafeMutablePointer<T>,
                                                         rows: Int, classes: Int) {
    for r in 0..<rows where classes > 0 {
        let z = logits + r * classes, t = targets + r * classes
        let (m, ls) = SoftmaxKernels.logSumExp(z, classes)
        let g = dloss[r]
        let st = SIMDMath.sum(t, classes)
        SIMDMath.map2(z, t, dlogits + r * classes, classes) { zv, tv in
            (SIMDMath.exp((zv - m) - ls) * st - tv) * g
        }
    }
}
