/// A unary function with its parameter: what a unary kernel, a conv
/// epilogue or a fused step computes, and what `unary_grad` differentiates.
/// It always names a unary function (the initializer and decoding check).
public struct UnaryFunction: Hashable, Sendable, CustomStringConvertible {
    public let op: Op
    /// The function's parameter (leaky relu's slope, elu's α); 0 for functions without one.
    public let alpha: Double

    /// Nil when `op` is not a unary function. Without `alpha`, the parameter's default.
    public init?(_ op: Op, alpha: Double? = nil) {
        guard let info = op.unaryInfo else { return nil }
        self.op = op
        self.alpha = info.parameter == nil ? 0 : alpha ?? info.parameter!.defaultValue
    }

    public var info: UnaryInfo { op.unaryInfo! }

    public var description: String {
        guard let p = info.parameter else { return op.rawValue }
        return "\(op.rawValue)(\(p.name): \(alpha))"
    }

    // MARK: Evaluation in Double (constant folding, branch freezing, references)

    /// f(x) for each value, through the definition's vector code (the f64 kernel's results).
    public func values(_ x: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                if let xb = xp.baseAddress, let yb = yp.baseAddress {
                    _ = op.visitUnary(Forward(x: xb, y: yb, count: x.count, a: alpha))
                }
            }
        }
        return y
    }

    /// f(x) for one value.
    public func callAsFunction(_ x: Double) -> Double { values([x])[0] }

    /// dy·f′ for each element, given x, y = f(x) and dy (all of one length).
    public func derivative(x: [Double], y: [Double], dy: [Double]) -> [Double] {
        precondition(x.count == y.count && y.count == dy.count, "derivative: operands of different lengths")
        var dx = [Double](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                dy.withUnsafeBufferPointer { gp in
                    dx.withUnsafeMutableBufferPointer { dp in
                        if let xb = xp.baseAddress, let yb = yp.baseAddress, let gb = gp.baseAddress, let db = dp.baseAddress {
                            _ = op.visitUnary(Backward(x: xb, y: yb, dy: gb, dx: db, count: x.count, a: alpha))
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Which piece x lies on (functions with a kink; see `UnaryDefinition.piece`).
    public func piece(_ x: Double) -> UInt8 { op.visitUnary(Piece(x: x, a: alpha)) ?? 0 }

    /// The formula of `piece` at x.
    public func onPiece(_ piece: UInt8, _ x: Double) -> Double { op.visitUnary(OnPiece(piece: piece, x: x, a: alpha)) ?? x }

    struct Forward: UnaryVisitor {
        let x: UnsafePointer<Double>, y: UnsafeMutablePointer<Double>, count: Int, a: Double
        func visit<F: UnaryDefinition>(_: F.Type) {
            let a = self.a
            SIMDMath.map(x, y, count) { F.forward($0, a) }
        }
    }

    struct Backward: UnaryVisitor {
        let x: UnsafePointer<Double>, y: UnsafePointer<Double>, dy: UnsafePointer<Double>
        let dx: UnsafeMutablePointer<Double>, count: Int, a: Double
        func visit<F: UnaryDefinition>(_: F.Type) {
            let a = self.a
            SIMDMath.map3(x, y, dy, dx, count) { F.backward($0, $1, $2, a) }
        }
    }

    struct Piece: UnaryVisitor {
        let x: Double, a: Double
        func visit<F: UnaryDefinition>(_: F.Type) -> UInt8 { F.piece(x, a) }
    }

    struct OnPiece: UnaryVisitor {
        let piece: UInt8, x: Double, a: Double
        func visit<F: UnaryDefinition>(_: F.Type) -> Double { F.onPiece(piece, x, a) }
    }
}

extension UnaryFunction: Codable {
    private enum Keys: String, CodingKey { case op, alpha }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let op = try c.decode(Op.self, forKey: .op)
        guard let f = UnaryFunction(op, alpha: try c.decodeIfPresent(Double.self, forKey: .alpha)) else {
            throw DecodingError.dataCorruptedError(forKey: .op, in: c, debugDescription: "\(op.rawValue) is not a unary function")
        }
        self = f
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(op, forKey: .op)
        if info.parameter != nil { try c.encode(alpha, forKey: .alpha) }
    }
}

extension Op {
    /// a op b elementwise (equal lengths) through the definition's vector code; nil when
    /// the op is not a binary function.
    public func binaryValues(_ a: [Double], _ b: [Double]) -> [Double]? {
        precondition(a.count == b.count, "binaryValues: operands of different lengths")
        var out = [Double](repeating: 0, count: a.count)
        var done = isBinaryFunction
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    if let ab = ap.baseAddress, let bb = bp.baseAddress, let ob = op.baseAddress {
                        done = visitBinary(BinaryValues(a: ab, b: bb, out: ob, count: a.count)) != nil
                    }
                }
            }
        }
        return done ? out : nil
    }

    struct BinaryValues: BinaryVisitor {
        let a: UnsafePointer<Double>, b: UnsafePointer<Double>, out: UnsafeMutablePointer<Double>, count: Int
        func visit<F: BinaryDefinition>(_: F.Type) { SIMDMath.map2(a, b, out, count) { F.forward($0, $1) } }
    }
}
