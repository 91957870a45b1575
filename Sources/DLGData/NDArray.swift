/// The element types an `NDArray` can hold.
public enum ElementType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// 32-bit IEEE float (`Float`).
    case f32
    /// 64-bit IEEE float (`Double`).
    case f64
    /// 32-bit signed integer (`Int32`).
    case i32
    /// 64-bit signed integer (`Int64`).
    case i64
    /// 8-bit unsigned integer (`UInt8`).
    case u8

    /// Bytes per element: 4, 8, 4, 8, 1.
    public var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f64, .i64: return 8
        case .u8: return 1
        }
    }

    /// The short name used in messages and shapes: "f32", "f64", "i32", "i64", "u8".
    public var name: String { rawValue }

    /// True for f32 and f64.
    public var isFloatingPoint: Bool { self == .f32 || self == .f64 }

    /// Looks a type up by its short name ("f32", …); nil for anything else.
    public init?(name: String) { self.init(rawValue: name) }

    public var description: String { rawValue }
}

/// Typed, row-major element storage of an `NDArray`.
public enum NDStorage: Sendable, Equatable {
    case f32([Float])
    case f64([Double])
    case i32([Int32])
    case i64([Int64])
    case u8([UInt8])

    public var elementType: ElementType {
        switch self {
        case .f32: return .f32
        case .f64: return .f64
        case .i32: return .i32
        case .i64: return .i64
        case .u8: return .u8
        }
    }

    public var count: Int {
        switch self {
        case .f32(let a): return a.count
        case .f64(let a): return a.count
        case .i32(let a): return a.count
        case .i64(let a): return a.count
        case .u8(let a): return a.count
        }
    }

    /// Calls `visitor` with the typed array inside.
    func accept<V: StorageVisitor>(_ visitor: V) throws -> V.Result {
        switch self {
        case .f32(let a): return try visitor.visit(a)
        case .f64(let a): return try visitor.visit(a)
        case .i32(let a): return try visitor.visit(a)
        case .i64(let a): return try visitor.visit(a)
        case .u8(let a): return try visitor.visit(a)
        }
    }
}

/// An operation over the typed array inside an `NDStorage`, generic in the
/// element type.
protocol StorageVisitor {
    associatedtype Result
    func visit<T: NDElement>(_ values: [T]) throws -> Result
}

/// The Swift types that can be elements of an `NDArray`:
/// Float, Double, Int32, Int64, UInt8.
public protocol NDElement: Sendable, Equatable {
    static var elementType: ElementType { get }
    /// Wraps a typed array as storage.
    static func storage(_ values: [Self]) -> NDStorage
    /// The typed array inside `storage` if it holds this type, else nil.
    static func values(in storage: NDStorage) -> [Self]?
    /// The value as a Double (exact except for Int64 beyond 2⁵³).
    var doubleValue: Double { get }
    /// The nearest value of this type for a float type; for an integer type
    /// nil when `value` is not an integer or is out of range.
    static func exactly(_ value: Double) -> Self?
    /// Zero.
    static var zero: Self { get }
}

extension Float: NDElement {
    public static var elementType: ElementType { .f32 }
    public static func storage(_ values: [Float]) -> NDStorage { .f32(values) }
    public static func values(in storage: NDStorage) -> [Float]? {
        if case .f32(let a) = storage { return a }
        return nil
    }
    public var doubleValue: Double { Double(self) }
    public static func exactly(_ value: Double) -> Float? { Float(value) }
}

extension Double: NDElement {
    public static var elementType: ElementType { .f64 }
    public static func storage(_ values: [Double]) -> NDStorage { .f64(values) }
    public static func values(in storage: NDStorage) -> [Double]? {
        if case .f64(let a) = storage { return a }
        return nil
    }
    public var doubleValue: Double { self }
    public static func exactly(_ value: Double) -> Double? { value }
}

extension Int32: NDElement {
    public static var elementType: ElementType { .i32 }
    public static func storage(_ values: [Int32]) -> NDStorage { .i32(values) }
    public static func values(in storage: NDStorage) -> [Int32]? {
        if case .i32(let a) = storage { return a }
        return nil
    }
    public var doubleValue: Double { Double(self) }
    public static func exactly(_ value: Double) -> Int32? { Int32(exactly: value) }
}

extension Int64: NDElement {
    public static var elementType: ElementType { .i64 }
    public static func storage(_ values: [Int64]) -> NDStorage { .i64(values) }
    public static func values(in storage: NDStorage) -> [Int64]? {
        if case .i64(let a) = storage { return a }
        return nil
    }
    public var doubleValue: Double { Double(self) }
    public static func exactly(_ value: Double) -> Int64? { Int64(exactly: value) }
}

extension UInt8: NDElement {
    public static var elementType: ElementType { .u8 }
    public static func storage(_ values: [UInt8]) -> NDStorage { .u8(values) }
    public static func values(in storage: NDStorage) -> [UInt8]? {
        if case .u8(let a) = storage { return a }
        return nil
    }
    public var doubleValue: Double { Double(self) }
    public static func exactly(_ value: Double) -> UInt8? { UInt8(exactly: value) }
}

/// The number of elements of `shape`, or an error when a dimension is
/// negative or the product overflows. `what` names the object for messages.
func elementCount(of shape: [Int], what: String) throws -> Int {
    var n = 1
    for d in shape {
        if d < 0 {
            throw DataError(file: what, .invalid("negative dimension \(d) in shape \(shapeText(shape))"))
        }
        let (p, overflow) = n.multipliedReportingOverflow(by: d)
        if overflow {
            throw DataError(file: what, .invalid("shape \(shapeText(shape)) has too many elements"))
        }
        n = p
    }
    return n
}

/// An n-dimensional array on the host: a shape and typed, row-major
/// (C-order) storage. The last axis varies fastest: element
/// `(i0, i1, …, ik)` sits at flat index `((i0·d1 + i1)·d2 + …)·dk + ik`.
/// A shape of `[]` is a scalar with one element.
public struct NDArray: Sendable, Equatable, CustomStringConvertible {
    /// Dimensions, outermost first.
    public private(set) var shape: [Int]
    /// The elements, row-major; `storage.count` equals the product of `shape`.
    public private(set) var storage: NDStorage

    /// An array from storage and shape. Throws when a dimension is negative
    /// or the shape's element count differs from `storage.count`.
    public init(shape: [Int], storage: NDStorage) throws {
        let what = "\(storage.elementType)\(shapeText(shape))"
        let n = try elementCount(of: shape, what: what)
        guard n == storage.count else {
            throw DataError(file: what, .invalid(
                "shape \(shapeText(shape)) holds \(n) elements but \(storage.count) values were given"))
        }
        self.shape = shape
        self.storage = storage
    }

    /// An array of `values` (row-major) with `shape`; throws when the counts differ.
    public init<T: NDElement>(_ values: [T], shape: [Int]) throws {
        try self.init(shape: shape, storage: T.storage(values))
    }

    /// A 1-D array of `values`, shape `[values.count]`.
    public init<T: NDElement>(_ values: [T]) {
        self.shape = [values.count]
        self.storage = T.storage(values)
    }

    /// Internal initializer for shapes the caller has already validated.
    init(unchecked shape: [Int], _ storage: NDStorage) {
        self.shape = shape
        self.storage = storage
    }

    /// An array of zeros.
    public static func zeros(_ type: ElementType, shape: [Int]) throws -> NDArray {
        let n = try elementCount(of: shape, what: "\(type)\(shapeText(shape))")
        switch type {
        case .f32: return NDArray(unchecked: shape, .f32(Array(repeating: 0, count: n)))
        case .f64: return NDArray(unchecked: shape, .f64(Array(repeating: 0, count: n)))
        case .i32: return NDArray(unchecked: shape, .i32(Array(repeating: 0, count: n)))
        case .i64: return NDArray(unchecked: shape, .i64(Array(repeating: 0, count: n)))
        case .u8: return NDArray(unchecked: shape, .u8(Array(repeating: 0, count: n)))
        }
    }

    public var elementType: ElementType { storage.elementType }
    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var count: Int { storage.count }
    /// Number of axes.
    public var rank: Int { shape.count }
    /// Size of the first axis (the number of rows / samples); 1 for a scalar.
    public var rowCount: Int { shape.first ?? 1 }
    /// Elements per row: `count / rowCount` (the product of all axes but
    /// the first); 1 for a scalar or a 1-D array.
    public var rowSize: Int { shape.dropFirst().reduce(1, *) }
    /// Storage size in bytes.
    public var byteCount: Int { count * elementType.byteSize }

    /// Type and shape, e.g. `f32[8000, 784]`; a scalar prints as `f32[]`.
    public var description: String { "\(elementType)\(shapeText(shape))" }

    /// The typed elements if the array holds `T`, else nil.
    public func values<T: NDElement>(as _: T.Type) -> [T]? { T.values(in: storage) }

    /// All elements converted to Float (row-major).
    public func toFloats() -> [Float] {
        switch storage {
        case .f32(let a): return a
        case .f64(let a): return a.map { Float($0) }
        case .i32(let a): return a.map { Float($0) }
        case .i64(let a): return a.map { Float($0) }
        case .u8(let a): return a.map { Float($0) }
        }
    }

    /// All elements converted to Double (row-major).
    public func toDoubles() -> [Double] {
        switch storage {
        case .f32(let a): return a.map { Double($0) }
        case .f64(let a): return a
        case .i32(let a): return a.map { Double($0) }
        case .i64(let a): return a.map { Double($0) }
        case .u8(let a): return a.map { Double($0) }
        }
    }

    /// All elements converted to Int32. Throws when a value is not an
    /// integer (for float arrays) or does not fit in Int32; the message
    /// gives the flat index and the value.
    public func toInt32() throws -> [Int32] {
        guard case .i32(let a) = try converted(to: .i32).storage else { return [] }
        return a
    }

    /// Element `flatIndex` (row-major) as a Double. `flatIndex` must be in
    /// `0..<count` (a precondition).
    public func doubleValue(at flatIndex: Int) -> Double {
        precondition(flatIndex >= 0 && flatIndex < count, "flat index out of range")
        switch storage {
        case .f32(let a): return Double(a[flatIndex])
        case .f64(let a): return a[flatIndex]
        case .i32(let a): return Double(a[flatIndex])
        case .i64(let a): return Double(a[flatIndex])
        case .u8(let a): return Double(a[flatIndex])
        }
    }

    /// The same values as `type`. Conversion to f32/f64 always succeeds
    /// (rounding to nearest). Conversion to an integer type requires every
    /// value to be an integer within the type's range, else it throws naming
    /// the first offending flat index and value.
    public func converted(to type: ElementType) throws -> NDArray {
        if type == elementType { return self }
        switch type {
        case .f32: return NDArray(unchecked: shape, .f32(toFloats()))
        case .f64: return NDArray(unchecked: shape, .f64(toDoubles()))
        case .i32: return NDArray(unchecked: shape, .i32(try convertExactly(Int32.self)))
        case .i64: return NDArray(unchecked: shape, .i64(try convertExactly(Int64.self)))
        case .u8: return NDArray(unchecked: shape, .u8(try convertExactly(UInt8.self)))
        }
    }

    private func convertExactly<T: NDElement & FixedWidthInteger>(_: T.Type) throws -> [T] {
        try storage.accept(ConvertExactly<T>(what: description))
    }

    /// The same elements with a new shape of the same element count. One
    /// dimension may be -1: it is inferred from the others.
    public func reshaped(_ newShape: [Int]) throws -> NDArray {
        var target = newShape
        let inferred = newShape.indices.filter { newShape[$0] == -1 }
        if inferred.count > 1 {
            throw DataError(file: description, .invalid(
                "cannot reshape to \(shapeText(newShape)): at most one dimension may be -1"))
        }
        if let k = inferred.first {
            target[k] = 1
            let rest = try elementCount(of: target, what: description)
            guard rest > 0, count % rest == 0 else {
                throw DataError(file: description, .invalid(
                    "cannot reshape \(count) elements to \(shapeText(newShape))"))
            }
            target[k] = count / rest
        }
        let n = try elementCount(of: target, what: description)
        guard n == count else {
            throw DataError(file: description, .invalid(
                "cannot reshape \(count) elements to \(shapeText(newShape)) (\(n) elements)"))
        }
        return NDArray(unchecked: target, storage)
    }

    /// Rows `range` of the first axis: shape `[range.count] + shape[1...]`.
    /// Throws for a scalar or a range outside `0...rowCount`.
    public func rows(_ range: Range<Int>) throws -> NDArray {
        guard rank >= 1 else {
            throw DataError(file: description, .invalid("a scalar has no rows to slice"))
        }
        guard range.lowerBound >= 0, range.upperBound <= shape[0] else {
            throw DataError(file: description, .invalid(
                "rows \(range.lowerBound)..<\(range.upperBound) are outside 0..<\(shape[0])"))
        }
        let rs = rowSize
        struct Slice: StorageVisitor {
            let lo: Int, hi: Int
            func visit<T: NDElement>(_ values: [T]) -> NDStorage { T.storage(Array(values[lo..<hi])) }
        }
        let s = try storage.accept(Slice(lo: range.lowerBound * rs, hi: range.upperBound * rs))
        return NDArray(unchecked: [range.count] + shape.dropFirst(), s)
    }

    /// The rows at `indices` (first axis), in that order; indices may repeat.
    /// Shape `[indices.count] + shape[1...]`. Throws naming the first index
    /// outside `0..<rowCount`.
    public func gatherRows(_ indices: [Int]) throws -> NDArray {
        guard rank >= 1 else {
            throw DataError(file: description, .invalid("a scalar has no rows to gather"))
        }
        if let (pos, bad) = indices.enumerated().first(where: { $0.element < 0 || $0.element >= shape[0] }) {
            throw DataError(file: description, .invalid(
                "row index \(bad) (position \(pos) of the index list) is outside 0..<\(shape[0])"))
        }
        struct Gather: StorageVisitor {
            let indices: [Int], rowSize: Int
            func visit<T: NDElement>(_ values: [T]) -> NDStorage {
                let rs = rowSize
                let out = [T](unsafeUninitializedCapacity: indices.count * rs) { buf, initialized in
                    values.withUnsafeBufferPointer { src in
                        for (r, i) in indices.enumerated() where rs > 0 {
                            let dst = buf.baseAddress! + r * rs
                            dst.initialize(from: src.baseAddress! + i * rs, count: rs)
                        }
                    }
                    initialized = indices.count * rs
                }
                return T.storage(out)
            }
        }
        let s = try storage.accept(Gather(indices: indices, rowSize: rowSize))
        return NDArray(unchecked: [indices.count] + shape.dropFirst(), s)
    }

    /// Concatenation along the first axis. All arrays must share the element
    /// type and the trailing shape; throws otherwise or for an empty list.
    public static func concatenateRows(_ arrays: [NDArray]) throws -> NDArray {
        guard let first = arrays.first else {
            throw DataError(file: "concatenate", .invalid("no arrays to concatenate"))
        }
        let tail = Array(first.shape.dropFirst())
        for a in arrays {
            guard a.rank >= 1, first.rank >= 1 else {
                throw DataError(file: a.description, .invalid("a scalar cannot be concatenated by rows"))
            }
            guard a.elementType == first.elementType else {
                throw DataError(file: a.description, .invalid(
                    "cannot concatenate \(a.elementType) rows with \(first.elementType) rows"))
            }
            guard Array(a.shape.dropFirst()) == tail else {
                throw DataError(file: a.description, .shapeMismatch(
                    what: "rows to concatenate", expected: tail, found: Array(a.shape.dropFirst())))
            }
        }
        let rows = arrays.reduce(0) { $0 + $1.shape[0] }
        let storage: NDStorage
        switch first.storage {
        case .f32: storage = .f32(arrays.flatMap { $0.values(as: Float.self) ?? [] })
        case .f64: storage = .f64(arrays.flatMap { $0.values(as: Double.self) ?? [] })
        case .i32: storage = .i32(arrays.flatMap { $0.values(as: Int32.self) ?? [] })
        case .i64: storage = .i64(arrays.flatMap { $0.values(as: Int64.self) ?? [] })
        case .u8: storage = .u8(arrays.flatMap { $0.values(as: UInt8.self) ?? [] })
        }
        return NDArray(unchecked: [rows] + tail, storage)
    }

    /// The axes permuted: result axis `k` is input axis `axes[k]`, so the
    /// result's shape is `axes.map { shape[$0] }` and
    /// `result[j0, …, jn] = self[i]` with `i[axes[k]] = jk`.
    /// `[1, 0]` transposes a matrix. Throws unless `axes` is a permutation
    /// of `0..<rank`.
    public func permuted(_ axes: [Int]) throws -> NDArray {
        guard axes.count == rank, axes.sorted() == Array(0..<rank) else {
            throw DataError(file: description, .invalid(
                "axes \(shapeText(axes)) are not a permutation of 0..<\(rank)"))
        }
        if axes == Array(0..<rank) { return self }
        var inStrides = [Int](repeating: 1, count: rank)
        if rank > 1 {
            for k in stride(from: rank - 2, through: 0, by: -1) { inStrides[k] = inStrides[k + 1] * shape[k + 1] }
        }
        let outShape = axes.map { shape[$0] }
        let strides = axes.map { inStrides[$0] }
        struct Permute: StorageVisitor {
            let outShape: [Int], strides: [Int], count: Int
            func visit<T: NDElement>(_ values: [T]) -> NDStorage {
                var out = [T]()
                out.reserveCapacity(count)
                if count == 0 { return T.storage(out) }
                var index = [Int](repeating: 0, count: outShape.count)
                var src = 0
                for _ in 0..<count {
                    out.append(values[src])
                    // Advance the output multi-index, last axis fastest.
                    var k = outShape.count - 1
                    while k >= 0 {
                        index[k] += 1
                        src += strides[k]
                        if index[k] < outShape[k] { break }
                        src -= strides[k] * index[k]
                        index[k] = 0
                        k -= 1
                    }
                }
                return T.storage(out)
            }
        }
        let s = try storage.accept(Permute(outShape: outShape, strides: strides, count: count))
        return NDArray(unchecked: outShape, s)
    }

    // MARK: Raw bytes

    /// An array decoded from raw element bytes (row-major), little-endian or
    /// big-endian. `bytes.count` must equal `count × byteSize`; `file` names
    /// the source for the error.
    static func decode(_ type: ElementType, shape: [Int], bytes: UnsafeRawBufferPointer,
                       bigEndian: Bool, file: String) throws -> NDArray {
        let n = try elementCount(of: shape, what: file)
        let (needed, overflow) = n.multipliedReportingOverflow(by: type.byteSize)
        guard !overflow, needed == bytes.count else {
            throw DataError(file: file, .invalid(
                "\(type)\(shapeText(shape)) needs \(overflow ? "too many" : String(needed)) bytes of data, found \(bytes.count)"))
        }
        try MemoryBudget.require(needed, for: "the array \(type)\(shapeText(shape))", file: file)
        func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
            [T](unsafeUninitializedCapacity: n) { buf, initialized in
                if n > 0 {
                    UnsafeMutableRawBufferPointer(buf).copyMemory(from: bytes)
                    let swap = bigEndian == (1.littleEndian == 1)
                    if swap && T.bitWidth > 8 {
                        for i in 0..<n { buf[i] = buf[i].byteSwapped }
                    }
                }
                initialized = n
            }
        }
        switch type {
        case .u8: return NDArray(unchecked: shape, .u8(load(UInt8.self)))
        case .i32: return NDArray(unchecked: shape, .i32(load(Int32.self)))
        case .i64: return NDArray(unchecked: shape, .i64(load(Int64.self)))
        case .f32: return NDArray(unchecked: shape, .f32(load(UInt32.self).map { Float(bitPattern: $0) }))
        case .f64: return NDArray(unchecked: shape, .f64(load(UInt64.self).map { Double(bitPattern: $0) }))
        }
    }

    /// An array decoded from little-endian element bytes (row-major).
    /// Throws when `bytes.count` is not `count(shape) × type.byteSize`.
    public init(_ type: ElementType, shape: [Int], littleEndianBytes bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes {
            try NDArray.decode(type, shape: shape, bytes: $0, bigEndian: false, file: "\(type)\(shapeText(shape))")
        }
    }

    /// Calls `body` with the elements as little-endian bytes (row-major,
    /// `byteCount` bytes). On a little-endian host this is the storage itself.
    public func withLittleEndianBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if 1.littleEndian == 1 {
            switch storage {
            case .f32(let a): return try a.withUnsafeBytes(body)
            case .f64(let a): return try a.withUnsafeBytes(body)
            case .i32(let a): return try a.withUnsafeBytes(body)
            case .i64(let a): return try a.withUnsafeBytes(body)
            case .u8(let a): return try a.withUnsafeBytes(body)
            }
        }
        switch storage {
        case .f32(let a): return try a.map { $0.bitPattern.littleEndian }.withUnsafeBytes(body)
        case .f64(let a): return try a.map { $0.bitPattern.littleEndian }.withUnsafeBytes(body)
        case .i32(let a): return try a.map { $0.littleEndian }.withUnsafeBytes(body)
        case .i64(let a): return try a.map { $0.littleEndian }.withUnsafeBytes(body)
        case .u8(let a): return try a.withUnsafeBytes(body)
        }
    }

    /// The elements as little-endian bytes (row-major).
    public func littleEndianBytes() -> [UInt8] {
        withLittleEndianBytes { Array($0) }
    }
}

/// Conversion to an integer type that throws on non-integers and overflow.
struct ConvertExactly<T: NDElement & FixedWidthInteger>: StorageVisitor {
    let what: String
    func visit<S: NDElement>(_ values: [S]) throws -> [T] {
        var out = [T]()
        out.reserveCapacity(values.count)
        // Int64 → narrower integers: compare in the integer domain so
        // that values beyond 2^53 are not misjudged.
        if let ints = values as? [Int64] {
            for (i, x) in ints.enumerated() {
                guard let y = T(exactly: x) else {
                    throw DataError(file: what, .invalid("element \(i) = \(x) does not fit in \(T.elementType)"))
                }
                out.append(y)
            }
            return out
        }
        for (i, v) in values.enumerated() {
            let d = v.doubleValue
            guard let y = T.exactly(d) else {
                let reason = d.rounded() == d ? "does not fit in" : "is not an integer, cannot convert to"
                throw DataError(file: what, .invalid("element \(i) = \(v) \(reason) \(T.elementType)"))
            }
            out.append(y)
        }
        return out
    }
}

/// An array with a name: a tensor in a `.npz` or `.safetensors` file, a
/// column group of a CSV file.
public struct NamedArray: Sendable, Equatable {
    public var name: String
    public var array: NDArray

    public init(_ name: String, _ array: NDArray) {
        self.name = name
        self.array = array
    }
}

// MARK: Finiteness

extension NDArray {
    /// The flat index of the first NaN or infinity, or nil when every
    /// element is finite (always nil for integer arrays). One pass over the
    /// elements, sixteen at a time: `x − x` is 0 for a finite `x` and NaN
    /// otherwise.
    public func firstNonFinite() -> Int? {
        switch storage {
        case .f32(let a): return a.withUnsafeBufferPointer { firstNonFiniteIndex($0) }
        case .f64(let a): return a.withUnsafeBufferPointer { firstNonFiniteIndex($0) }
        default: return nil
        }
    }

    /// A flat index as a multi-index, `[12, 3]`.
    public func indexText(_ flat: Int) -> String {
        var rest = flat
        var index = [Int](repeating: 0, count: shape.count)
        for k in stride(from: shape.count - 1, through: 0, by: -1) where shape[k] > 0 {
            index[k] = rest % shape[k]
            rest /= shape[k]
        }
        return shapeText(index)
    }
}

/// The index of the first NaN or infinity in `a`, sixteen elements at a time; nil when all are finite.
///
/// A float is NaN or infinite exactly when its exponent bits are all ones, so the
/// main loop tests the bits as integers: a concrete `SIMD16<UInt32>` mask and compare,
/// which compile to vector instructions (the generic `SIMD16<T>` arithmetic on a
/// `BinaryFloatingPoint` scalar does not, and ran one lane at a time).
@inlinable
public func firstNonFiniteIndex(_ a: UnsafeBufferPointer<Float>) -> Int? {
    guard let base = a.baseAddress else { return nil }
    let n = a.count
    let exponent = SIMD16<UInt32>(repeating: 0x7F80_0000)
    let raw = UnsafeRawPointer(base)
    var i = 0
    while i + 16 <= n {
        let bits = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: SIMD16<UInt32>.self)
        if any(bits & exponent .== exponent) { break }
        i += 16
    }
    while i < n {
        if !base[i].isFinite { return i }
        i += 1
    }
    return nil
}

/// As for `Float`, eight doubles at a time (exponent bits 0x7FF).
@inlinable
public func firstNonFiniteIndex(_ a: UnsafeBufferPointer<Double>) -> Int? {
    guard let base = a.baseAddress else { return nil }
    let n = a.count
    let exponent = SIMD8<UInt64>(repeating: 0x7FF0_0000_0000_0000)
    let raw = UnsafeRawPointer(base)
    var i = 0
    while i + 8 <= n {
        let bits = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Double>.stride, as: SIMD8<UInt64>.self)
        if any(bits & exponent .== exponent) { break }
        i += 8
    }
    while i < n {
        if !base[i].isFinite { return i }
        i += 1
    }
    return nil
}
