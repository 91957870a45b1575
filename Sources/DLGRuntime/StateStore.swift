import DLGData
import DLGGraph

/// Parameters, buffers and optimizer state by name: memory that outlives a
/// step and is shared by every program compiled from one model (the training
/// step, the evaluation graph, a last partial batch).
public final class StateStore: @unchecked Sendable {
    public struct Entry {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var pointer: UnsafeMutableRawPointer
        public var count: Int { shape.reduce(1, *) }
        public var bytes: Int { count * dtype.byteSize }
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    /// Advanced whenever any entry's values may have changed: by `set`, by a
    /// new entry, by every run of an executor whose program writes state (a
    /// training step), by `Executor.initializeState`, `setValues` and
    /// `setElement` on state, and by whoever writes through an entry's
    /// pointer (`markChanged()`). Executors that keep packed copies of
    /// parameters (weight matrices, `PackedGemm`) pack them again when it has
    /// moved since they last did — a training program's at every step.
    public private(set) var version: UInt64 = 0

    /// Records that entries' values may have changed (after writing through `Entry.pointer`).
    public func markChanged() { version &+= 1 }

    public init() {}

    deinit {
        for e in entries { e.pointer.deallocate() }
    }

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The storage for a slot; created (zeroed) on first use. The shape and
    /// dtype of an existing entry must match.
    func bind(_ slot: StateSlot) throws(ExecutionError) -> Entry {
        if let i = index[slot.name] {
            let e = entries[i]
            guard e.shape == slot.buffer.shape, e.dtype == slot.buffer.dtype else {
                throw ExecutionError("state '\(slot.name)' is \(e.dtype.rawValue)\(Shape(e.shape)) but the program expects \(slot.buffer.dtype.rawValue)\(Shape(slot.buffer.shape))")
            }
            return e
        }
        let bytes = max(slot.buffer.bytes, 1)
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        let e = Entry(name: slot.name, dtype: slot.buffer.dtype, shape: slot.buffer.shape, pointer: p)
        index[slot.name] = entries.count
        entries.append(e)
        markChanged()
        return e
    }

    /// Values as Doubles.
    public func values(_ name: String) -> [Double]? {
        guard let e = entry(name) else { return nil }
        return readDoubles(e.pointer, dtype: e.dtype, count: e.count)
    }

    public func array(_ name: String) -> NDArray? {
        guard let e = entry(name) else { return nil }
        return makeArray(e.pointer, dtype: e.dtype, shape: e.shape)
    }

    /// Overwrites an entry from an array of the same element count (any numeric element type).
    public func set(_ name: String, _ a: NDArray) throws(ExecutionError) {
        guard let e = entry(name) else { throw ExecutionError("no state named '\(name)'") }
        guard a.count == e.count else {
            throw ExecutionError("'\(name)' expects \(e.dtype.rawValue)\(Shape(e.shape)), found \(a)")
        }
        write(a, to: e.pointer, dtype: e.dtype, rows: nil)
        markChanged()
    }

    public func set(_ name: String, values: [Double]) throws(ExecutionError) {
        guard let e = entry(name) else { throw ExecutionError("no state named '\(name)'") }
        guard values.count == e.count else {
            throw ExecutionError("'\(name)' has \(e.count) elements, \(values.count) given")
        }
        writeDoubles(values, to: e.pointer, dtype: e.dtype)
        markChanged()
    }
}

public struct ExecutionError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

func readDoubles(_ p: UnsafeRawPointer, dtype: DType, count: Int) -> [Double] {
    switch dtype {
    case .f32: return (0..<count).map { Double(p.assumingMemoryBound(to: Float.self)[$0]) }
    case .f64: return Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Double.self), count: count))
    case .i32: return (0..<count).map { Double(p.assumingMemoryBound(to: Int32.self)[$0]) }
    }
}

func writeDoubles(_ v: [Double], to p: UnsafeMutableRawPointer, dtype: DType) {
    switch dtype {
    case .f32: for (i, x) in v.enumerated() { p.assumingMemoryBound(to: Float.self)[i] = Float(x) }
    case .f64: for (i, x) in v.enumerated() { p.assumingMemoryBound(to: Double.self)[i] = x }
    case .i32: for (i, x) in v.enumerated() { p.assumingMemoryBound(to: Int32.self)[i] = int32Toward0(x) }
    }
}

func makeArray(_ p: UnsafeRawPointer, dtype: DType, shape: [Int]) -> NDArray {
    let n = shape.reduce(1, *)
    switch dtype {
    case .f32: return try! NDArray(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: n)), shape: shape)
    case .f64: return try! NDArray(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Double.self), count: n)), shape: shape)
    case .i32: return try! NDArray(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Int32.self), count: n)), shape: shape)
    }
}

/// Copies an array (or some of its rows) into a buffer, converting the element type.
func write(_ a: NDArray, to p: UnsafeMutableRawPointer, dtype: DType, rows: ArraySlice<Int>?) {
    let rowSize = a.rank == 0 ? 1 : a.count / max(a.shape[0], 1)
    func copy<S>(_ src: [S], _ convert: (S) -> Double) {
        func put<D>(_ dst: UnsafeMutablePointer<D>, _ make: (Double) -> D) {
            if let rows {
                var o = 0
                for r in rows {
                    let base = r * rowSize
                    for j in 0..<rowSize { dst[o + j] = make(convert(src[base + j])) }
                    o += rowSize
                }
            } else {
                for i in 0..<src.count { dst[i] = make(convert(src[i])) }
            }
        }
        switch dtype {
        case .f32: put(p.assumingMemoryBound(to: Float.self)) { Float($0) }
        case .f64: put(p.assumingMemoryBound(to: Double.self)) { $0 }
        case .i32: put(p.assumingMemoryBound(to: Int32.self)) { int32Toward0($0) }
        }
    }
    switch a.storage {
    case .f32(let v):
        // The common case, without going through Double.
        if dtype == .f32 {
            let dst = p.assumingMemoryBound(to: Float.self)
            v.withUnsafeBufferPointer { src in
                if let rows {
                    var o = 0
                    for r in rows {
                        (dst + o).update(from: src.baseAddress! + r * rowSize, count: rowSize)
                        o += rowSize
                    }
                } else {
                    dst.update(from: src.baseAddress!, count: src.count)
                }
            }
            return
        }
        copy(v) { Double($0) }
    case .f64(let v): copy(v) { $0 }
    case .i32(let v): copy(v) { Double($0) }
    case .i64(let v): copy(v) { Double($0) }
    case .u8(let v): copy(v) { Double($0) }
    }
}

/// A Double as an Int32, toward zero and clamped to Int32's range; NaN as 0.
/// (Inputs are checked for integers before they get here; this only keeps a
/// stray value from trapping.)
@inline(__always)
func int32Toward0(_ x: Double) -> Int32 {
    if x.isNaN { return 0 }
    if x >= 2147483647 { return .max }
    if x <= -2147483648 { return .min }
    // conversion: NaN and values outside Int32 handled above
    return Int32(x.rounded(.towardZero))
}
