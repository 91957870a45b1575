#if arch(x86_64)
import DLGKernelsAVX512
#endif
import DLGOps

/// Unary elementwise kernels: y = f(x) and dx = dy·f′ for a `UnaryFunction`,
/// whose math is its definition in DLGOps (`UnaryDefinition`). On CPUs with
/// AVX-512, f32 runs the same definitions compiled for it (`TileOps`), with
/// bit-identical results.

/// The loop of `unary` for one definition.
@usableFromInline
struct UnaryLoop<T: KernelScalar>: UnaryVisitor {
    @usableFromInline let x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, count: Int, a: T
    @inlinable init(x: UnsafePointer<T>, y: UnsafeMutablePointer<T>, count: Int, a: T) {
        self.x = x; self.y = y; self.count = count; self.a = a
    }
    @inlinable @inline(__always)
    func visit<F: UnaryDefinition>(_: F.Type) {
        let a = self.a
        SIMDMath.map(x, y, count) { F.forward($0, a) }
    }
}

/// The loop of `unaryBackward` for one definition.
@usableFromInline
struct UnaryBackwardLoop<T: KernelScalar>: UnaryVisitor {
    @usableFromInline let x: UnsafePointer<T>, y: UnsafePointer<T>, dy: UnsafePointer<T>
    @usableFromInline let dx: UnsafeMutablePointer<T>, count: Int, a: T
    @inlinable init(x: UnsafePointer<T>, y: UnsafePointer<T>, dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>,
                    count: Int, a: T) {
        self.x = x; self.y = y; self.dy = dy; self.dx = dx; self.count = count; self.a = a
    }
    @inlinable @inline(__always)
    func visit<F: UnaryDefinition>(_: F.Type) {
        let a = self.a
        SIMDMath.map3(x, y, dy, dx, count) { F.backward($0, $1, $2, a) }
    }
}

// MARK: - Kernels

/// y[i] = f(x[i]) for i in 0..<count. `x` may equal `y` (in place).
/// To process a sub-range, pass `x + start`, `y + start` and the range length.
@inlinable
public func unary<T: KernelScalar>(_ f: UnaryFunction, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                   count: Int) {
    #if arch(x86_64)
    if usesAVX512(T.self) {
        TileOps.unary(f, f32(x), f32(y), count)
        return
    }
    #endif
    // One switch per call (in `visitUnary`): each branch is a loop specialized for its function.
    _ = f.op.visitUnary(UnaryLoop(x: x, y: y, count: count, a: T(f.alpha)))
}

/// dx[i] = dy[i]·f′(x[i]) for i in 0..<count, where `y` is the forward output
/// f(x) (see `UnaryInfo.DerivativeReads` for which of x and y a function
/// reads). Conventions at non-differentiable points: relu, leaky_relu, elu,
/// selu take the x ≤ 0 branch at 0; abs′(0) = 0; satlin/satlins pass the
/// gradient only strictly inside (0, 1) / (−1, 1); sign and step give 0;
/// hardlim and hardlims are straight-through (dx = dy). `dx` may equal `dy`,
/// `x` or `y`.
@inlinable
public func unaryBackward<T: KernelScalar>(_ f: UnaryFunction, x: UnsafePointer<T>, y: UnsafePointer<T>,
                                           dy: UnsafePointer<T>, dx: UnsafeMutablePointer<T>, count: Int) {
    #if arch(x86_64)
    if usesAVX512(T.self) {
        TileOps.gradient(f, x: f32(x), y: f32(y), dy: f32(dy), dx: f32(dx), count)
        return
    }
    #endif
    _ = f.op.visitUnary(UnaryBackwardLoop(x: x, y: y, dy: dy, dx: dx, count: count, a: T(f.alpha)))
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
        case .clamp(let lo, let hi): return SIMDMath.clamp(x, T(lo), T(hi))
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
        SIMDMath.map(x, y, count) { SIMDMath.clamp($0, lo, hi) }
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
    SIMDMath.map(x, y, count) { SIMDMath.clamp($0, lo, hi) }
}
