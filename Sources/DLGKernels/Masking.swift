/// Kernels of attention's masking and of sequence layout: the causal softmax
/// (keys after the query left out without a mask tensor), elementwise
/// selection by a condition, and reversal along an axis.

/// y = softmax over the last axis of rows [outer, queries, keys] keeping, in
/// row i (the query), the keys j ≤ i; y = 0 at j > i. `x` may equal `y`: each
/// row's values are read before that row is written.
@inlinable
public func causalSoftmax<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                           outer: Int, queries: Int, keys: Int, threads: Int = 1) {
    if keys == 0 || queries == 0 { return }
    let rows = outer * queries
    Threads.parallelFor(0 ..< rows, threads: rows * keys >= 1 << 14 ? threads : 1) { range in
        for r in range {
            let i = r % queries
            let valid = Swift.min(i + 1, keys)
            let xr = x + r * keys, yr = y + r * keys
            softmax(xr, yr, outer: 1, n: valid, inner: 1)
            if valid < keys { (yr + valid).update(repeating: 0, count: keys - valid) }
        }
    }
}

/// y = a where the condition is nonzero, else b; every operand has `count` elements.
@inlinable
public func selectWhere<C: Numeric, T: KernelScalar>(_ condition: UnsafePointer<C>, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                                 _ y: UnsafeMutablePointer<T>, count: Int) {
    for i in 0..<count { y[i] = condition[i] != 0 ? a[i] : b[i] }
}

/// y = x reversed along the middle axis of [outer, n, inner]. `x` must not overlap `y`.
@inlinable
public func reverseAxis<T>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, outer: Int, n: Int, inner: Int) {
    for o in 0..<outer {
        let base = o * n * inner
        for i in 0..<n {
            (y + base + (n - 1 - i) * inner).update(from: x + base + i * inner, count: inner)
        }
    }
}
