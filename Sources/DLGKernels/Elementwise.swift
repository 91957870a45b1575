#if arch(x86_64)
import DLGKernelsAVX512
#endif

/// Unary elementwise operations: y = f(x) and their backward dx = dy·f′(x).
///
/// Parameters (`alpha`) are stored as Double and converted to the kernel's
/// element type once per call.
public enum UnaryOp: Hashable, Sendable, CustomStringConvertible {
    /// −x
    case neg
    /// e^x (overflow → +inf, underflow → 0)
    case exp
    /// ln x (x < 0 → NaN, 0 → −inf)
    case log
    /// √x
    case sqrt
    /// 1/√x
    case rsqrt
    /// |x|
    case abs
    /// x²
    case square
    /// 1/x
    case reciprocal
    /// −1, 0 or 1 (NaN stays NaN)
    case sign
    /// 1/(1+e^−x), computed without overflow for any x
    case sigmoid
    /// tanh x
    case tanh
    /// max(x, 0)
    case relu
    /// x > 0 ? x : α·x
    case leakyRelu(alpha: Double)
    /// x > 0 ? x : α·(e^x − 1)
    case elu(alpha: Double)
    /// λ·(x > 0 ? x : α·(e^x − 1)), λ = 1.0507009873554805, α = 1.6732632423543772
    case selu
    /// exact GELU: 0.5·x·(1 + erf(x/√2)), computed as 0.5·x·erfc(−x/√2)
    case gelu
    /// x·σ(x)
    case swish
    /// ln(1 + e^x), computed as max(x, 0) + log1p(e^−|x|)
    case softplus
    /// x/(1 + |x|)
    case softsign
    /// x ≥ 0 ? 1 : 0 (gradient: straight-through, dx = dy)
    case hardlim
    /// x ≥ 0 ? 1 : −1 (gradient: straight-through, dx = dy)
    case hardlims
    /// clamp(x, 0, 1)
    case satlin
    /// clamp(x, −1, 1)
    case satlins
    /// x > 0 ? 1 : 0 (gradient 0)
    case step
    /// x
    case identity

    public static let seluLambda = 1.0507009873554805
    public static let seluAlpha = 1.6732632423543772

    public var description: String {
        switch self {
        case .neg: "neg"
        case .exp: "exp"
        case .log: "log"
        case .sqrt: "sqrt"
        case .rsqrt: "rsqrt"
        case .abs: "abs"
        case .square: "square"
        case .reciprocal: "reciprocal"
        case .sign: "sign"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .relu: "relu"
        case .leakyRelu(let a): "leaky_relu(alpha: \(a))"
        case .elu(let a): "elu(alpha: \(a))"
        case .selu: "selu"
        case .gelu: "gelu"
        case .swish: "swish"
        case .softplus: "softplus"
        case .softsign: "softsign"
        case .hardlim: "hardlim"
        case .hardlims: "hardlims"
        case .satlin: "satlin"
        case .satlins: "satlins"
        case .step: "step"
        case .identity: "identity"
        }
    }

    /// Every op with representative parameters (for tests and tools).
    public static let allCases: [UnaryOp] = [
        .neg, .exp, .log, .sqrt, .rsqrt, .abs, .square, .reciprocal, .sign, .sigmoid, .tanh, .relu,
        .leakyRelu(alpha: 0.01), .elu(alpha: 1), .selu, .gelu, .swish, .softplus, .softsign,
        .hardlim, .hardlims, .satlin, .satlins, .step, .identity,
    ]
}

// MARK: - Per-op vector functions (the single definition of each op's math)

@usableFromInline
enum UnaryMath {
    @inlinable @inline(__always)
    static func sign<T: KernelScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        let s = SIMDMath.select(x, .gt, 0, then: 1, else: 0) - SIMDMath.select(x, .lt, 0, then: 1, else: 0)
        return SIMDMath.select(x, .ne, x, then: x, else: s)
    }

    @inlinable @inline(__always)
    static func relu<T: KernelScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        SIMDMath.select(x, .le, 0, then: SIMD16<T>(), else: x)
    }

    @inlinable @inline(__always)
    static func leakyRelu<T: KernelScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> {
        SIMDMath.select(x, .gt, 0, then: x, else: a * x)
    }

    @inlinable @inline(__always)
    static func elu<T: KernelScalar>(_ x: SIMD16<T>, _ a: T) -> SIMD16<T> {
        SIMDMath.select(x, .gt, 0, then: x, else: a * SIMDMath.expm1(x))
    }

    @inlinable @inline(__always)
    static func gelu<T: KernelScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        let c = -1 / T.sqrt(2)
        return 0.5 * x * SIMDMath.lanes(c * x) { SIMDMath.erfc($0) }
    }

    @inlinable @inline(__always)
    static func softplus<T: KernelScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        let e = SIMDMath.exp(-SIMDMath.abs(x))
        return relu(x) + SIMDMath.lanes(e) { T.log1p($0) }
    }

    @inlinable @inline(__always)
    static func clamp<T: KernelScalar>(_ x: SIMD16<T>, _ lo: T, _ hi: T) -> SIMD16<T> {
        let l = SIMD16<T>(repeating: lo), h = SIMD16<T>(repeating: hi)
        return SIMDMath.select(x, .gt, hi, then: h, else: SIMDMath.select(x, .lt, lo, then: l, else: x)) + 0
    }

    @inlinable @inline(__always)
    static func forward<T: KernelScalar>(_ op: UnaryOp, _ x: SIMD16<T>) -> SIMD16<T> {
        switch op {
        case .neg: return -x
        case .exp: return SIMDMath.exp(x)
        case .log: return SIMDMath.lanes(x) { T.log($0) }
        case .sqrt: return x.squareRoot()
        case .rsqrt: return 1 / x.squareRoot()
        case .abs: return SIMDMath.abs(x)
        case .square: return x * x
        case .reciprocal: return 1 / x
        case .sign: return sign(x)
        case .sigmoid: return SIMDMath.sigmoid(x)
        case .tanh: return SIMDMath.tanh(x)
        case .relu: return relu(x)
        case .leakyRelu(let a): return leakyRelu(x, T(a))
        case .elu(let a): return elu(x, T(a))
        case .selu: return T(UnaryOp.seluLambda) * elu(x, T(UnaryOp.seluAlpha))
        case .gelu: return gelu(x)
        case .swish: return x * SIMDMath.sigmoid(x)
        case .softplus: return softplus(x)
        case .softsign: return x / (1 + SIMDMath.abs(x))
        case .hardlim: return SIMDMath.select(x, .ge, 0, then: 1, else: 0)
        case .hardlims: return SIMDMath.select(x, .ge, 0, then: 1, else: -1)
        case .satlin: return clamp(x, 0, 1)
        case .satlins: return clamp(x, -1, 1)
        case .step: return SIMDMath.select(x, .gt, 0, then: 1, else: 0)
        case .identity: return x
        }
    }

    /// dx for one vector, given x, the forward output y and dy.
    @inlinable @inline(__always)
    static func backward<T: KernelScalar>(_ op: UnaryOp, _ x: SIMD16<T>, _ y: SIMD16<T>,
                                          _ dy: SIMD16<T>) -> SIMD16<T> {
        let zero = SIMD16<T>()
        switch op {
        case .neg: return -dy
        case .exp: return dy * y
        case .log: return dy / x
        case .sqrt: return (0.5 * dy) / y
        case .rsqrt: return -0.5 * dy * y * y * y
        case .abs: return SIMDMath.select(x, .gt, 0, then: dy, else: SIMDMath.select(x, .lt, 0, then: -dy, else: zero))
        case .square: return 2 * x * dy
        case .reciprocal: return -dy * y * y
        case .sign, .step: return zero
        case .sigmoid: return dy * y * (1 - y)
        case .tanh: return dy * (1 - y * y)
        case .relu: return SIMDMath.select(x, .gt, 0, then: dy, else: zero)
        case .leakyRelu(let a): return SIMDMath.select(x, .gt, 0, then: dy, else: T(a) * dy)
        case .elu(let a):
            // α·e^x rather than y + α: no cancellation when e^x is small.
            return SIMDMath.select(x, .gt, 0, then: dy, else: T(a) * dy * SIMDMath.exp(x))
        case .selu:
            let lambda = T(UnaryOp.seluLambda)
            let la = lambda * T(UnaryOp.seluAlpha)
            return SIMDMath.select(x, .gt, 0, then: lambda * dy, else: la * dy * SIMDMath.exp(x))
        case .gelu:
            // f′ = Φ(x) + x·φ(x), Φ(x) = ½·erfc(−x/√2), φ(x) = e^(−x²/2)/√(2π).
            let c = -1 / T.sqrt(2)
            let phiCDF = 0.5 * SIMDMath.lanes(c * x) { SIMDMath.erfc($0) }
            let pdf = SIMDMath.exp(-0.5 * x * x) * (1 / T.sqrt(2 * T.pi))
            return dy * (phiCDF + x * pdf)
        case .swish:
            let s = SIMDMath.sigmoid(x)
            return dy * s * (1 + x * (1 - s))
        case .softplus: return dy * SIMDMath.sigmoid(x)
        case .softsign:
            let d = 1 + SIMDMath.abs(x)
            return dy / (d * d)
        case .hardlim, .hardlims, .identity: return dy
        case .satlin: return SIMDMath.select(x, .gt, 0, then: SIMDMath.select(x, .lt, 1, then: dy, else: zero), else: zero)
        case .satlins: return SIMDMath.select(x, .gt, -1, then: SIMDMath.select(x, .lt, 1, then: dy, else: zero), else: zero)
        }
    }
}

extension UnaryOp {
    /// f applied to 16 lanes (for fused elementwise chains).
    @inlinable @inline(__always)
    public func apply<T: KernelScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        UnaryMath.forward(self, x)
    }

    /// dy·f′(x) for 16 lanes, given x, the forward output y = f(x) and dy.
    @inlinable @inline(__always)
    public func derivative<T: KernelScalar>(x: SIMD16<T>, y: SIMD16<T>, dy: SIMD16<T>) -> SIMD16<T> {
        UnaryMath.backward(self, x, y, dy)
    }
}

// MARK: - Kernels

/// y[i] = op(x[i]) for i in 0..<count. `x` may equal `y` (in place).
/// To process a sub-range, pass `x + start`, `y + start` and the range length.
@inlinable
public func unary<T: KernelScalar>(_ op: UnaryOp, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                   count: Int) {
    #if arch(x86_64)
    if usesAVX512(T.self), let t = op.tileOp {
        TileOps.unary(t, f32(x), f32(y), count)
        return
    }
    #endif
    // One switch per call: each branch is a loop with a constant op, so the
    // per-vector `switch` inside `forward` folds away after inlining.
    switch op {
    case .neg: SIMDMath.map(x, y, count) { UnaryMath.forward(.neg, $0) }
    case .exp: SIMDMath.map(x, y, count) { UnaryMath.forward(.exp, $0) }
    case .log: SIMDMath.map(x, y, count) { UnaryMath.forward(.log, $0) }
    case .sqrt: SIMDMath.map(x, y, count) { UnaryMath.forward(.sqrt, $0) }
    case .rsqrt: SIMDMath.map(x, y, count) { UnaryMath.forward(.rsqrt, $0) }
    case .abs: SIMDMath.map(x, y, count) { UnaryMath.forward(.abs, $0) }
    case .square: SIMDMath.map(x, y, count) { UnaryMath.forward(.square, $0) }
    case .reciprocal: SIMDMath.map(x, y, count) { UnaryMath.forward(.reciprocal, $0) }
    case .sign: SIMDMath.map(x, y, count) { UnaryMath.forward(.sign, $0) }
    case .sigmoid: SIMDMath.map(x, y, count) { UnaryMath.forward(.sigmoid, $0) }
    case .tanh: SIMDMath.map(x, y, count) { UnaryMath.forward(.tanh, $0) }
    case .relu: SIMDMath.map(x, y, count) { UnaryMath.forward(.relu, $0) }
    case .leakyRelu(let a):
        let alpha = T(a)
        SIMDMath.map(x, y, count) { UnaryMath.leakyRelu($0, alpha) }
    case .elu(let a):
        let alpha = T(a)
        SIMDMath.map(x, y, count) { UnaryMath.elu($0, alpha) }
    case .selu: SIMDMath.map(x, y, count) { UnaryMath.forward(.selu, $0) }
    case .gelu: SIMDMath.map(x, y, count) { UnaryMath.forward(.gelu, $0) }
    case .swish: SIMDMath.map(x, y, count) { UnaryMath.forward(.swish, $0) }
    case .softplus: SIMDMath.map(x, y, count) { UnaryMath.forward(.softplus, $0) }
    case .softsign: SIMDMath.map(x, y, count) { UnaryMath.forward(.softsign, $0) }
    case .hardlim: SIMDMath.map(x, y, count) { UnaryMath.forward(.hardlim, $0) }
    case .hardlims: SIMDMath.map(x, y, count) { UnaryMath.forward(.hardlims, $0) }
    case .satlin: SIMDMath.map(x, y, count) { UnaryMath.forward(.satlin, $0) }
    case .satlins: SIMDMath.map(x, y, count) { UnaryMath.forward(.satlins, $0) }
    case .step: SIMDMath.map(x, y, count) { UnaryMath.forward(.step, $0) }
    case .identity: if UnsafePointer(y) != x { y.update(from: x, count: count) }
    }
}

/// dx[i] = dy[i]·f′(x[i]) for i in 0..<count, where `y` is the forward output
/// f(x) (used by exp, sqrt, rsqrt, reciprocal, sigmoid, tanh). Conventions at
/// non-differentiable points: relu, leakyRelu, elu, selu take the x ≤ 0
/// branch at 0; abs′(0) = 0; satlin/satlins pass the gradient only strictly
/// inside (0, 1) / (−1, 1); sign and step give 0; hardlim and hardlims are
/// straight-through (dx = dy). `dx` may equal `dy`, `x` or `y`.
@inlinable
public func unaryBackward<T: KernelScalar>(_ op: UnaryOp, x: UnsafePointer<T>, y: UnsafePointer<T>,
                                           dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, count: Int) {
    #if arch(x86_64)
    if usesAVX512(T.self), let t = op.tileGradient {
        TileOps.gradient(t, x: f32(x), dy: f32(dy), dx: f32(dx), count)
        return
    }
    #endif
    switch op {
    case .neg: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.neg, $0, $1, $2) }
    case .exp: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.exp, $0, $1, $2) }
    case .log: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.log, $0, $1, $2) }
    case .sqrt: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.sqrt, $0, $1, $2) }
    case .rsqrt: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.rsqrt, $0, $1, $2) }
    case .abs: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.abs, $0, $1, $2) }
    case .square: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.square, $0, $1, $2) }
    case .reciprocal: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.reciprocal, $0, $1, $2) }
    case .sign: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.sign, $0, $1, $2) }
    case .sigmoid: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.sigmoid, $0, $1, $2) }
    case .tanh: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.tanh, $0, $1, $2) }
    case .relu: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.relu, $0, $1, $2) }
    case .leakyRelu(let a):
        SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.leakyRelu(alpha: a), $0, $1, $2) }
    case .elu(let a):
        SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.elu(alpha: a), $0, $1, $2) }
    case .selu: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.selu, $0, $1, $2) }
    case .gelu: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.gelu, $0, $1, $2) }
    case .swish: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.swish, $0, $1, $2) }
    case .softplus: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.softplus, $0, $1, $2) }
    case .softsign: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.softsign, $0, $1, $2) }
    case .satlin: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.satlin, $0, $1, $2) }
    case .satlins: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.satlins, $0, $1, $2) }
    case .step: SIMDMath.map3(x, y, dy, dx, count) { UnaryMath.backward(.step, $0, $1, $2) }
    case .hardlim, .hardlims, .identity:
        if UnsafePointer(dx) != dy { dx.update(from: dy, count: count) }
    }
}

// MARK: - Scalar-parameter ops

/// Elementwise ops with scalar parameters.
public enum ScalarOp: Hashable, Sendable, CustomStringConvertible {
    /// y = scale·x + shift
    case affine(scale: Double, shift: Double)
    /// y = min(max(x, lo), hi); gradient passes where lo ≤ x ≤ hi (inclusive)
    case clamp(lo: Double, hi: Double)

    public var description: String {
        switch self {
        case .affine(let a, let b): "affine(scale: \(a), shift: \(b))"
        case .clamp(let lo, let hi): "clamp(lo: \(lo), hi: \(hi))"
        }
    }

    /// The op applied to 16 lanes.
    @inlinable @inline(__always)
    public func apply<T: KernelScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        switch self {
        case .affine(let a, let b): return T(a) * x + T(b)
        case .clamp(let lo, let hi): return UnaryMath.clamp(x, T(lo), T(hi))
        }
    }
}

/// y[i] = op(x[i]) for i in 0..<count; `x` may equal `y`.
@inlinable
public func scalarOp<T: KernelScalar>(_ op: ScalarOp, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                      count: Int) {
    switch op {
    case .affine(let a, let b):
        let scale = T(a), shift = T(b)
        SIMDMath.map(x, y, count) { scale * $0 + shift }
    case .clamp(let l, let h):
        let lo = T(l), hi = T(h)
        SIMDMath.map(x, y, count) { UnaryMath.clamp($0, lo, hi) }
    }
}

/// dx[i] = dy[i]·op′(x[i]): scale·dy for affine; dy where lo ≤ x ≤ hi, else 0,
/// for clamp. `dx` may equal `dy` or `x`.
@inlinable
public func scalarOpBackward<T: KernelScalar>(_ op: ScalarOp, x: UnsafePointer<T>, dy: UnsafePointer<T>,
                                              dx: UnsafeMutablePointer<T>, count: Int) {
    switch op {
    case .affine(let a, _):
        let scale = T(a)
        SIMDMath.map(dy, dx, count) { scale * $0 }
    case .clamp(let l, let h):
        let lo = T(l), hi = T(h)
        SIMDMath.map2(x, dy, dx, count) { x, g in
            let zero = SIMD16<T>()
            return SIMDMath.select(x, .ge, lo, then: SIMDMath.select(x, .le, hi, then: g, else: zero), else: zero)
        }
    }
}

/// y[i] = scale·x[i] + shift (the `affine` scalar op as a direct call).
@inlinable
public func affine<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int,
                                    scale: T, shift: T) {
    SIMDMath.map(x, y, count) { scale * $0 + shift }
}

/// y[i] = min(max(x[i], lo), hi) (the `clamp` scalar op as a direct call).
@inlinable
public func clamp<T: KernelScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int,
                                   lo: T, hi: T) {
    SIMDMath.map(x, y, count) { UnaryMath.clamp($0, lo, hi) }
}
