/// Element types of tensors.
public enum DType: String, Sendable, Hashable, Codable, CaseIterable {
    case f32, f64, i32

    public var isFloat: Bool { self != .i32 }
    public var byteSize: Int { self == .f64 ? 8 : 4 }
}

/// One dimension of a shape: a known size or a named symbol such as `B`.
public enum Dim: Hashable, Sendable, Codable, CustomStringConvertible {
    case known(Int)
    case symbol(String)

    public var value: Int? { if case .known(let v) = self { v } else { nil } }
    public var description: String {
        switch self {
        case .known(let v): return String(v)
        case .symbol(let s): return s
        }
    }
}

/// A shape; `dims == nil` means the rank is unknown (`f32[*]`).
public struct Shape: Hashable, Sendable, Codable, CustomStringConvertible {
    public var dims: [Dim]?

    public init(_ dims: [Dim]?) { self.dims = dims }
    public init(_ known: [Int]) { self.dims = known.map { .known($0) } }
    public static let unknownRank = Shape(nil as [Dim]?)
    public static let scalar = Shape([Dim]())

    public var rank: Int? { dims?.count }
    /// Every dimension known.
    public var knownDims: [Int]? {
        guard let dims else { return nil }
        var out: [Int] = []
        out.reserveCapacity(dims.count)
        for d in dims {
            guard case .known(let v) = d else { return nil }
            out.append(v)
        }
        return out
    }
    public var elementCount: Int? { knownDims.map { $0.reduce(1, *) } }

    /// The largest size of one dimension, and of a whole tensor, that the
    /// compiler accepts: 2³¹ − 1. (8 GiB of f32; with every tensor below it,
    /// sizes, byte counts and FLOP counts stay far from 64-bit overflow.)
    public static let maxDimension = Int(Int32.max)
    public static let maxElements = Int(Int32.max)

    /// The product of the known dimensions (symbols count as 1), or nil when
    /// it exceeds `maxElements` (it is computed without overflowing).
    public var knownElementCountWithinLimit: Int? {
        var n = 1
        for d in dims ?? [] {
            guard case .known(let v) = d else { continue }
            guard v >= 0, v <= Shape.maxDimension else { return nil }
            n *= v
            if n > Shape.maxElements { return nil }
        }
        return n
    }

    /// The product of the known dimensions as a floating-point number, for
    /// messages about sizes too large to count in an Int.
    public var approximateKnownElementCount: Double {
        (dims ?? []).reduce(1.0) { if case .known(let v) = $1 { $0 * Double(v) } else { $0 } }
    }
    public var symbols: [String] {
        (dims ?? []).compactMap { if case .symbol(let s) = $0 { s } else { nil } }
    }
    public var description: String {
        guard let dims else { return "[*]" }
        return "[" + dims.map(\.description).joined(separator: ",") + "]"
    }
    /// Replace bound symbols by their sizes.
    public func substituting(_ bindings: [String: Int]) -> Shape {
        guard let dims else { return self }
        return Shape(dims.map { d in
            if case .symbol(let s) = d, let v = bindings[s] { return .known(v) }
            return d
        })
    }
}

public struct TensorType: Hashable, Sendable, Codable, CustomStringConvertible {
    public var dtype: DType
    public var shape: Shape

    public init(_ dtype: DType, _ shape: Shape) {
        self.dtype = dtype
        self.shape = shape
    }
    public init(_ dtype: DType, _ dims: [Int]) { self.init(dtype, Shape(dims)) }

    public var description: String { "\(dtype.rawValue)\(shape)" }
    public var rank: Int? { shape.rank }
    public var dims: [Dim]? { shape.dims }
    public func substituting(_ bindings: [String: Int]) -> TensorType {
        TensorType(dtype, shape.substituting(bindings))
    }
    /// Bytes when every dimension is known.
    public var byteCount: Int? { shape.elementCount.map { $0 * dtype.byteSize } }
}
