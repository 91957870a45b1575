/// The elementwise functions of one operand, each defined once: its value
/// and derivative on 16 lanes (generic over Float and Double), the branches
/// of a piecewise function, and what its declaration says about it (doc,
/// FLOPs, parameter, flags). The SIMD kernels, the AVX-512 loops, conv
/// epilogues, constant folding, branch freezing and the op registry all
/// read these definitions through `Op.visitUnary`, the one place that maps
/// an op to its definition.
///
/// Adding a function: a case in `Op`, a definition here and its line in
/// `visitUnary`. Its IR declaration, kernels, language function, `activation:`
/// word and folding follow from the definition.

/// A function's one scalar parameter, such as leaky relu's slope.
public struct UnaryParameter: Sendable, Hashable {
    public var name: String
    public var defaultValue: Double
    public var doc: String
    public init(_ name: String, default defaultValue: Double, doc: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.doc = doc
    }
}

/// What a unary function's declaration says besides its math.
public struct UnaryInfo: Sendable {
    /// How the language exposes it.
    public enum Role: Sendable, Hashable {
        /// A function `f(x)` that is also an `activation:` word of layers, and a summary row.
        case activation
        /// A math function `f(x)` (no summary row, not an activation word).
        case function
        /// Not callable by name (`neg` is written `-x`).
        case none
    }

    /// What f′ is computed from, so that autodiff keeps only that value alive
    /// for the backward pass: `unary_grad` is given it in both of its x and y slots.
    public enum DerivativeReads: Sendable, Hashable {
        /// f′(x) reads x alone.
        case input
        /// f′ is a function of y = f(x) alone, and the backward formula gives it
        /// with y in its x slot too (relu: y > 0 ⟺ x > 0).
        case output
        /// f′ reads neither (a constant or straight-through derivative).
        case neither
        /// f′ reads both.
        case both
    }

    /// One paragraph for the op reference.
    public var doc: String
    /// Floating-point operations per element (a convention for comparing models).
    public var flops: Int
    public var role: Role
    public var derivative: DerivativeReads
    public var parameter: UnaryParameter?
    /// The derivative jumps at some points (relu at 0, satlin at 0 and 1): a finite
    /// difference there is not a derivative, and gradient checks keep to one piece.
    public var kink: Bool
    /// Constant on each piece (hardlim, sign, step): the value itself is frozen, not a formula.
    public var piecewiseConstant: Bool
    /// The gradient passes straight through (dx = dy) although the function is a step.
    public var straightThrough: Bool
    /// f(f(x)) = x (negation): algebraic simplification removes the pair.
    public var involution: Bool

    public init(doc: String, flops: Int = 1, role: Role, derivative: DerivativeReads, parameter: UnaryParameter? = nil,
                kink: Bool = false, piecewiseConstant: Bool = false, straightThrough: Bool = false, involution: Bool = false) {
        self.doc = doc
        self.flops = flops
        self.role = role
        self.derivative = derivative
        self.parameter = parameter
        self.kink = kink
        self.piecewiseConstant = piecewiseConstant
        self.straightThrough = straightThrough
        self.involution = involution
    }
}

/// One elementwise function. `a` is the function's parameter converted to T
/// (ignored by functions without one).
public protocol UnaryDefinition {
    static var info: UnaryInfo { get }
    /// y = f(x) on 16 lanes.
    static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T>
    /// dx = dy·f′ on 16 lanes, given x, y = f(x) and dy (see `UnaryInfo.DerivativeReads`).
    /// Conventions at a kink: the derivative of the piece the gradient kernels choose.
    static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T>
    /// Which piece x lies on, split where `backward` splits it (functions with a kink).
    static func piece(_ x: Double, _ a: Double) -> UInt8
    /// The formula of `piece`, evaluated at x even where x lies on another piece.
    static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double
}

extension UnaryDefinition {
    /// Pieces split at 0: 0 below, 1 above, 2 at 0 itself.
    @inlinable
    public static func piece(_ x: Double, _ a: Double) -> UInt8 { x > 0 ? 1 : x == 0 ? 2 : 0 }
    /// Without pieces of its own, the function itself.
    @inlinable
    public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double {
        forward(SIMD16<Double>(repeating: x), a)[0]
    }
}

/// Something done with a unary function's definition, specialized for it
/// (a kernel loop, an evaluation): `Op.visitUnary` calls `visit` with the
/// op's definition.
public protocol UnaryVisitor {
    associatedtype Result
    func visit<F: UnaryDefinition>(_ f: F.Type) -> Result
}

extension Op {
    /// Calls `v.visit` with this op's definition; nil when the op is not a unary function.
    /// The one table from ops to definitions.
    @inlinable
    public func visitUnary<V: UnaryVisitor>(_ v: V) -> V.Result? {
        switch self {
        case .neg: v.visit(Elementwise.Neg.self)
        case .exp: v.visit(Elementwise.Exp.self)
        case .log: v.visit(Elementwise.Log.self)
        case .sqrt: v.visit(Elementwise.Sqrt.self)
        case .rsqrt: v.visit(Elementwise.Rsqrt.self)
        case .abs: v.visit(Elementwise.Abs.self)
        case .square: v.visit(Elementwise.Square.self)
        case .reciprocal: v.visit(Elementwise.Reciprocal.self)
        case .sign: v.visit(Elementwise.Sign.self)
        case .sigmoid: v.visit(Elementwise.Sigmoid.self)
        case .tanh: v.visit(Elementwise.Tanh.self)
        case .relu: v.visit(Elementwise.Relu.self)
        case .leaky_relu: v.visit(Elementwise.LeakyRelu.self)
        case .elu: v.visit(Elementwise.Elu.self)
        case .selu: v.visit(Elementwise.Selu.self)
        case .gelu: v.visit(Elementwise.Gelu.self)
        case .swish: v.visit(Elementwise.Swish.self)
        case .softplus: v.visit(Elementwise.Softplus.self)
        case .softsign: v.visit(Elementwise.Softsign.self)
        case .mish: v.visit(Elementwise.Mish.self)
        case .hard_sigmoid: v.visit(Elementwise.HardSigmoid.self)
        case .hard_swish: v.visit(Elementwise.HardSwish.self)
        case .log_sigmoid: v.visit(Elementwise.LogSigmoid.self)
        case .hardlim: v.visit(Elementwise.Hardlim.self)
        case .hardlims: v.visit(Elementwise.Hardlims.self)
        case .satlin: v.visit(Elementwise.Satlin.self)
        case .satlins: v.visit(Elementwise.Satlins.self)
        case .step: v.visit(Elementwise.Step.self)
        default: nil
        }
    }

    /// The declaration facts of a unary function; nil for other ops.
    public var unaryInfo: UnaryInfo? { visitUnary(InfoVisitor()) }

    /// The unary functions, in declaration order.
    public static let unaryFunctions: [Op] = allCases.filter { $0.unaryInfo != nil }
}

struct InfoVisitor: UnaryVisitor {
    func visit<F: UnaryDefinition>(_: F.Type) -> UnaryInfo { F.info }
}

/// The definitions.
public enum Elementwise {
    public enum Neg: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "−x.", role: .none, derivative: .neither, involution: true) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { -x }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> { -dy }
    }

    public enum Exp: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "eˣ.", role: .function, derivative: .output) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.exp(x) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> { dy * y }
    }

    public enum Log: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "Natural logarithm.", role: .function, derivative: .input) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.lanes(x) { T.log($0) } }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> { dy / x }
    }

    public enum Sqrt: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "√x.", role: .function, derivative: .output) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { T.sqrt(x) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            (0.5 * dy) / y
        }
    }

    public enum Rsqrt: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "1/√x.", role: .function, derivative: .output) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { 1 / T.sqrt(x) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            -0.5 * dy * y * y * y
        }
    }

    public enum Abs: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "|x|.", role: .function, derivative: .input, kink: true) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.abs(x) }
        /// abs′(0) = 0.
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .gt, 0, then: dy, else: SIMDMath.select(x, .lt, 0, then: -dy, else: SIMD16<T>()))
        }
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double { piece == 1 ? x : piece == 0 ? -x : 0 }
    }

    public enum Square: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "x².", role: .function, derivative: .input) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { x * x }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> { 2 * x * dy }
    }

    public enum Reciprocal: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "1/x.", role: .function, derivative: .output) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { 1 / x }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> { -dy * y * y }
    }

    public enum Sign: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "−1, 0 or 1. Its derivative is 0 wherever it exists.", role: .function, derivative: .neither,
                      kink: true, piecewiseConstant: true)
        }
        /// NaN stays NaN.
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> {
            let s = SIMDMath.select(x, .gt, 0, then: 1, else: 0) - SIMDMath.select(x, .lt, 0, then: 1, else: 0)
            return SIMDMath.select(x, .ne, x, then: x, else: s)
        }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMD16() }
    }

    public enum Sigmoid: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "Logistic function 1/(1+e⁻ˣ).", flops: 4, role: .activation, derivative: .output)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.sigmoid(x) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            dy * y * (1 - y)
        }
    }

    public enum Tanh: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "Hyperbolic tangent.", flops: 4, role: .activation, derivative: .output) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.tanh(x) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            dy * (1 - y * y)
        }
    }

    public enum Relu: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "max(x, 0).", role: .activation, derivative: .output, kink: true) }
        /// A NaN stays NaN.
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .le, 0, then: SIMD16<T>(), else: x)
        }
        /// relu′(0) = 0.
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .gt, 0, then: dy, else: SIMD16<T>())
        }
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double { piece == 1 ? x : 0 }
    }

    public enum LeakyRelu: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "x if x > 0 else α·x.", role: .activation, derivative: .input,
                      parameter: UnaryParameter("alpha", default: 0.01, doc: "the slope α for x ≤ 0"), kink: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .gt, 0, then: x, else: a * x)
        }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .gt, 0, then: dy, else: a * dy)
        }
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double { piece == 1 ? x : a * x }
    }

    public enum Elu: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "x if x > 0 else α·(eˣ − 1).", flops: 4, role: .activation, derivative: .input,
                      parameter: UnaryParameter("alpha", default: 1, doc: "the scale α of the negative part"), kink: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .gt, 0, then: x, else: a * SIMDMath.expm1(x))
        }
        /// α·eˣ rather than y + α: no cancellation when eˣ is small.
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .gt, 0, then: dy, else: a * dy * SIMDMath.exp(x))
        }
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double { piece == 1 ? x : a * libmExpm1(x) }
    }

    public enum Selu: UnaryDefinition {
        public static let lambda = 1.0507009873554805
        public static let alpha = 1.6732632423543772
        public static var info: UnaryInfo {
            UnaryInfo(doc: "λ·elu(x, α) with λ = 1.0507, α = 1.6733 (self-normalizing).", flops: 4, role: .activation,
                      derivative: .input, kink: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> {
            T(lambda) * SIMDMath.select(x, .gt, 0, then: x, else: T(alpha) * SIMDMath.expm1(x))
        }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            let l = T(lambda)
            let la = l * T(alpha)
            return SIMDMath.select(x, .gt, 0, then: l * dy, else: la * dy * SIMDMath.exp(x))
        }
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double {
            lambda * (piece == 1 ? x : alpha * libmExpm1(x))
        }
    }

    public enum Gelu: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "x·Φ(x), Φ the standard normal CDF (exact, via erf).", flops: 8, role: .activation, derivative: .input)
        }
        /// 0.5·x·erfc(−x/√2) = x·Φ(x).
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> {
            let c = -1 / T.sqrt(2)
            return 0.5 * x * SIMDMath.erfc(c * x)
        }
        /// f′ = Φ(x) + x·φ(x), Φ(x) = ½·erfc(−x/√2), φ(x) = e^(−x²/2)/√(2π): e^(−x²/2) is
        /// the e^(−u²) at u = −x/√2 that erfc computes anyway (`SIMDMath.erfcAndGaussian`).
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            let c = -1 / T.sqrt(2)
            let (e, g) = SIMDMath.erfcAndGaussian(c * x)
            let cdf = 0.5 * e
            let pdf = g * (1 / T.sqrt(2 * T.pi))
            return dy * (cdf + x * pdf)
        }
    }

    public enum Swish: UnaryDefinition {
        public static var info: UnaryInfo { UnaryInfo(doc: "x·σ(x) (also called SiLU).", flops: 5, role: .activation, derivative: .input) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { x * SIMDMath.sigmoid(x) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            let s = SIMDMath.sigmoid(x)
            return dy * s * (1 + x * (1 - s))
        }
    }

    public enum Softplus: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "log(1 + eˣ), computed stably.", flops: 4, role: .activation, derivative: .input)
        }
        /// max(x, 0) + log1p(e^−|x|).
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> {
            let e = SIMDMath.exp(-SIMDMath.abs(x))
            return Relu.forward(x, a) + SIMDMath.lanes(e) { T.log1p($0) }
        }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            dy * SIMDMath.sigmoid(x)
        }
    }

    public enum Softsign: UnaryDefinition {
        /// A kink of the derivative: slope 1 from both sides of 0, but the second derivative jumps
        /// there, so gradient checks (of gradients) keep to one side.
        public static var info: UnaryInfo { UnaryInfo(doc: "x/(1 + |x|).", flops: 3, role: .activation, derivative: .input, kink: true) }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { x / (1 + SIMDMath.abs(x)) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            let d = 1 + SIMDMath.abs(x)
            return dy / (d * d)
        }
        /// The piece at 0 keeps to the formula of x ≥ 0, smooth through 0 with the same slope.
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double { piece == 0 ? x / (1 - x) : x / (1 + x) }
    }

    public enum Mish: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "x·tanh(softplus(x)) (Misra, 2019).", flops: 10, role: .activation, derivative: .input)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { x * SIMDMath.tanh(Softplus.forward(x, a)) }
        /// f′ = t + x·(1 − t²)·σ(x) with t = tanh(softplus(x)).
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            let t = SIMDMath.tanh(Softplus.forward(x, a))
            return dy * (t + x * (1 - t * t) * SIMDMath.sigmoid(x))
        }
    }

    public enum HardSigmoid: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "relu6(x + 3)/6: 0 for x ≤ −3, 1 for x ≥ 3, x/6 + 1/2 between (PyTorch's hardsigmoid).", flops: 3,
                      role: .activation, derivative: .input, kink: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.clamp(x + 3, 0, 6) / 6 }
        /// 1/6 strictly inside (−3, 3), 0 elsewhere (at ±3 too, as PyTorch).
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .gt, -3, then: SIMDMath.select(x, .lt, 3, then: dy / 6, else: SIMD16()), else: SIMD16())
        }
        public static func piece(_ x: Double, _ a: Double) -> UInt8 { x <= -3 ? 0 : x >= 3 ? 2 : 1 }
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double { piece == 0 ? 0 : piece == 2 ? 1 : (x + 3) / 6 }
    }

    public enum HardSwish: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "x·relu6(x + 3)/6: 0 for x ≤ −3, x for x ≥ 3, x·(x + 3)/6 between (PyTorch's hardswish).", flops: 4,
                      role: .activation, derivative: .input, kink: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { x * SIMDMath.clamp(x + 3, 0, 6) / 6 }
        /// 0 below −3, x/3 + 1/2 on [−3, 3], 1 above 3 (PyTorch's convention at the kinks).
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .lt, -3, then: SIMD16(), else: SIMDMath.select(x, .le, 3, then: dy * (x / 3 + 0.5), else: dy))
        }
        public static func piece(_ x: Double, _ a: Double) -> UInt8 { x < -3 ? 0 : x > 3 ? 2 : 1 }
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double { piece == 0 ? 0 : piece == 2 ? x : x * (x + 3) / 6 }
    }

    public enum LogSigmoid: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "log σ(x) = −softplus(−x), computed stably.", flops: 4, role: .activation, derivative: .input)
        }
        /// min(x, 0) − log1p(e^−|x|).
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { -Softplus.forward(-x, a) }
        /// f′ = σ(−x).
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            dy * SIMDMath.sigmoid(-x)
        }
    }

    public enum Hardlim: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "1 if x ≥ 0 else 0. Its gradient is passed straight through (identity).", role: .activation,
                      derivative: .neither, kink: true, piecewiseConstant: true, straightThrough: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.select(x, .ge, 0, then: 1, else: 0) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> { dy }
    }

    public enum Hardlims: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "1 if x ≥ 0 else −1. Its gradient is passed straight through (identity).", role: .activation,
                      derivative: .neither, kink: true, piecewiseConstant: true, straightThrough: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.select(x, .ge, 0, then: 1, else: -1) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> { dy }
    }

    public enum Satlin: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "Saturated linear: clamp(x, 0, 1).", role: .activation, derivative: .input, kink: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.clamp(x, 0, 1) }
        /// The gradient passes strictly inside (0, 1).
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .gt, 0, then: SIMDMath.select(x, .lt, 1, then: dy, else: SIMD16()), else: SIMD16())
        }
        public static func piece(_ x: Double, _ a: Double) -> UInt8 { x <= 0 ? 0 : x >= 1 ? 2 : 1 }
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double { piece == 0 ? 0 : piece == 2 ? 1 : x }
    }

    public enum Satlins: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "Symmetric saturated linear: clamp(x, −1, 1).", role: .activation, derivative: .input, kink: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.clamp(x, -1, 1) }
        /// The gradient passes strictly inside (−1, 1).
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> {
            SIMDMath.select(x, .gt, -1, then: SIMDMath.select(x, .lt, 1, then: dy, else: SIMD16()), else: SIMD16())
        }
        public static func piece(_ x: Double, _ a: Double) -> UInt8 { x <= -1 ? 0 : x >= 1 ? 2 : 1 }
        public static func onPiece(_ piece: UInt8, _ x: Double, _ a: Double) -> Double { piece == 0 ? -1 : piece == 2 ? 1 : x }
    }

    public enum Step: UnaryDefinition {
        public static var info: UnaryInfo {
            UnaryInfo(doc: "1 if x > 0 else 0 (the derivative of relu).", role: .function, derivative: .neither, kink: true,
                      piecewiseConstant: true)
        }
        @inlinable @inline(__always)
        public static func forward<T: ElementScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMDMath.select(x, .gt, 0, then: 1, else: 0) }
        @inlinable @inline(__always)
        public static func backward<T: ElementScalar>(_ x: SIMD16<T>, _ y: SIMD16<T>, _ dy: SIMD16<T>, _ a: T) -> SIMD16<T> { SIMD16() }
    }
}
