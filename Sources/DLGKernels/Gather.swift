#if arch(x86_64)
import DLGKernelsAVX512
#endif

/// Table lookups by integer index (embeddings) and their scatter-add backward.

/// An index outside a table's rows: where it is (its flat position among the
/// indices) and what it is.
public struct IndexError: Error, Hashable, Sendable, CustomStringConvertible {
    public let position: Int
    public let index: Int32
    public let rows: Int

    public init(position: Int, index: Int32, rows: Int) {
        self.position = position
        self.index = index
        self.rows = rows
    }

    public var description: String { "index \(index) at position \(position) is out of range 0..<\(rows)" }
}

/// The first index outside 0..<rows, if any.
@inlinable
public func checkIndices(_ indices: UnsafePointer<Int32>, count: Int, rows: Int) -> IndexError? {
    for p in 0..<count {
        let i = Int(indices[p])
        if i < 0 || i >= rows { return IndexError(position: p, index: indices[p], rows: rows) }
    }
    return nil
}

/// out[p, :] = table[indices[p], :] for p in 0..<count, rows of `width`
/// elements, the positions split over `threads` (at least 16,384 elements
/// each). Every index is checked before anything is written.
@inlinable
public func gatherRows<T: KernelScalar>(table: UnsafePointer<T>, rows: Int, width: Int, indices: UnsafePointer<Int32>,
                                        count: Int, _ out: UnsafeMutablePointer<T>, threads: Int = 1) throws(IndexError) {
    if let e = checkIndices(indices, count: count, rows: rows) { throw e }
    Threads.parallelFor(0 ..< count, threads: threads, minChunk: max(1, 16384 / max(width, 1))) { r in
        for p in r {
            (out + p * width).update(from: table + Int(indices[p]) * width, count: width)
        }
    }
}

/// dtable = 0, then dtable[indices[p], :] += dy[p, :] for p in 0..<count (in
/// order, so repeated indices accumulate deterministically). The columns are
/// split over `threads` (in whole 16-lane vectors), each thread running every
/// p over its columns: every element sees the same additions in the same
/// order whatever the thread count. Every index is checked before anything is written.
/// f32 on AVX-512 runs `ScatterRows.add` (the same additions, prefetching dy's rows).
@inlinable
public func scatterAddRows<T: KernelScalar>(dy: UnsafePointer<T>, rows: Int, width: Int, indices: UnsafePointer<Int32>,
                                            count: Int, _ dtable: UnsafeMutablePointer<T>, threads: Int = 1) throws(IndexError) {
    if let e = checkIndices(indices, count: count, rows: rows) { throw e }
    let vectors = (width + 15) / 16
    let avx512 = usesAVX512(T.self)
    Threads.parallelFor(0 ..< vectors, threads: threads, minChunk: max(1, 1024 / max(count, 1))) { r in
        let c0 = r.lowerBound * 16, n = min(width, r.upperBound * 16) - c0
        for row in 0 ..< rows { (dtable + row * width + c0).update(repeating: 0, count: n) }
        #if arch(x86_64)
        if avx512 {
            ScatterRows.add(dy: f32(dy), width: width, indices: indices, count: count, columns: c0 ..< c0 + n, into: f32(dtable))
            return
        }
        #endif
        for p in 0 ..< count {
            addRow(dtable + Int(indices[p]) * width + c0, dy + p * width + c0, n)
        }
    }
}

/// y[i] += x[i] for i < n: 16 lanes at a time, then a scalar tail.
@inlinable
func addRow<T: KernelScalar>(_ y: UnsafeMutablePointer<T>, _ x: UnsafePointer<T>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        let a = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<T>.self)
        let b = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<T>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: a + b, as: SIMD16<T>.self)
        i += 16
    }
    while i < n {
        y[i] += x[i]
        i += 1
    }
}
