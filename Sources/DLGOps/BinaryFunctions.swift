/// The elementwise functions of two operands, each defined once on 16 lanes
/// (generic over Float and Double). Their IR declarations, with their
/// gradient rules, are in DLGGraph; the kernels, the AVX-512 loops and
/// constant folding read the math here through `Op.visitBinary`.
public protocol BinaryDefinition {
    static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T>
}

/// Something done with a binary function's definition, specialized for it.
public protocol BinaryVisitor {
    associatedtype Result
    func visit<F: BinaryDefinition>(_ f: F.Type) -> Result
}

extension Op {
    /// Calls `v.visit` with this op's definition; nil when the op is not a binary function.
    @inlinable
    public func visitBinary<V: BinaryVisitor>(_ v: V) -> V.Result? {
        switch self {
        case .add: v.visit(Elementwise.Add.self)
        case .sub: v.visit(Elementwise.Sub.self)
        case .mul: v.visit(Elementwise.Mul.self)
        case .div: v.visit(Elementwise.Div.self)
        case .pow: v.visit(Elementwise.Pow.self)
        case .maximum: v.visit(Elementwise.Maximum.self)
        case .minimum: v.visit(Elementwise.Minimum.self)
        case .greater: v.visit(Elementwise.Greater.self)
        case .greater_equal: v.visit(Elementwise.GreaterEqual.self)
        case .equal: v.visit(Elementwise.Equal.self)
        default: nil
        }
    }

    /// Whether the op is a binary elementwise function.
    public var isBinaryFunction: Bool { visitBinary(IsBinary()) != nil }
}

struct IsBinary: BinaryVisitor {
    func visit<F: BinaryDefinition>(_: F.Type) -> Bool { true }
}

extension Elementwise {
    public enum Add: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> { a + b }
    }

    public enum Sub: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> { a - b }
    }

    public enum Mul: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> { a * b }
    }

    public enum Div: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> { a / b }
    }

    /// aᵇ, libm pow per lane.
    public enum Pow: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> {
            var r = a
            withUnsafeMutableBytes(of: &r) { rr in
                withUnsafeBytes(of: b) { bb in
                    let rp = rr.baseAddress!.assumingMemoryBound(to: T.self)
                    let bp = bb.baseAddress!.assumingMemoryBound(to: T.self)
                    for j in 0..<16 { rp[j] = T.pow(rp[j], bp[j]) }
                }
            }
            return r
        }
    }

    /// max(a, b); NaN if either is NaN.
    public enum Maximum: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> {
            SIMDMath.select(a, .ne, a, then: a, else: SIMDMath.select(a, .gt, b, then: a, else: b))
        }
    }

    /// min(a, b); NaN if either is NaN.
    public enum Minimum: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> {
            SIMDMath.select(a, .ne, a, then: a, else: SIMDMath.select(a, .lt, b, then: a, else: b))
        }
    }

    /// 1 where a > b, else 0.
    public enum Greater: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> {
            SIMDMath.select(a, .gt, b, then: SIMD16(repeating: 1), else: SIMD16())
        }
    }

    /// 1 where a ≥ b, else 0.
    public enum GreaterEqual: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> {
            SIMDMath.select(a, .ge, b, then: SIMD16(repeating: 1), else: SIMD16())
        }
    }

    /// 1 where a = b, else 0.
    public enum Equal: BinaryDefinition {
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ a: SIMD16<T>, _ b: SIMD16<T>) -> SIMD16<T> {
            SIMDMath.select(a, .eq, b, then: SIMD16(repeating: 1), else: SIMD16())
        }
    }
}
