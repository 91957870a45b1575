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
/// elements. Every index is checked before anything is written.
@inlinable
public func gatherRows<T: KernelScalar>(table: UnsafePointer<T>, rows: Int, width: Int, indices: UnsafePointer<Int32>,
                                        count: Int, _ out: UnsafeMutablePointer<T>) throws(IndexError) {
    if let e = checkIndices(indices, count: count, rows: rows) { throw e }
    for p in 0..<count {
        (out + p * width).update(from: table + Int(indices[p]) * width, count: width)
    }
}

/// dtable = 0, then dtable[indices[p], :] += dy[p, :] for p in 0..<count (in
/// order, so repeated indices accumulate deterministically). Every index is
/// checked before anything is written.
@inlinable
public func scatterAddRows<T: KernelScalar>(dy: UnsafePointer<T>, rows: Int, width: Int, indices: UnsafePointer<Int32>,
                                            count: Int, _ dtable: UnsafeMutablePointer<T>) throws(IndexError) {
    if let e = checkIndices(indices, count: count, rows: rows) { throw e }
    dtable.update(repeating: 0, count: rows * width)
    for p in 0..<count {
        let row = dtable + Int(indices[p]) * width
        addRow(row, dy + p * width, width)
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
