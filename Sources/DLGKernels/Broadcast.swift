/// Binary elementwise operations with NumPy broadcasting, the reduction that
/// undoes broadcasting in the backward pass, and bias addition along an axis.
///
/// Broadcasting: shapes are right-aligned (the shorter one is padded with
/// leading 1s); on each axis the sizes must be equal or one of them 1, and the
/// result takes the larger. A size-1 axis is repeated along the other
/// operand's axis.

/// Shapes that cannot be broadcast together (or reduced back).
public enum BroadcastError: Error, Hashable, Sendable, CustomStringConvertible {
    /// On `axis` of the (right-aligned) result the sizes differ and neither is 1.
    case mismatch(lhs: [Int], rhs: [Int], axis: Int, lhsSize: Int, rhsSize: Int)
    case negativeDimension(shape: [Int])
    /// `to` does not broadcast to `from`, so a gradient of shape `from` cannot be summed to it.
    case cannotReduce(from: [Int], to: [Int])

    public var description: String {
        switch self {
        case .mismatch(let l, let r, let a, let ls, let rs):
            "shapes \(l) and \(r) cannot be broadcast: on axis \(a) of the result the sizes are \(ls) and \(rs) (they must be equal or one of them 1)"
        case .negativeDimension(let s):
            "shape \(s) has a negative dimension"
        case .cannotReduce(let f, let t):
            "a gradient of shape \(f) cannot be summed to shape \(t): \(t) does not broadcast to \(f)"
        }
    }
}

/// Which operand of a binary op.
public enum BroadcastOperand: Hashable, Sendable {
    case lhs, rhs
}

/// A broadcast of two shapes, validated and precomputed once: the output
/// shape, and the loop structure the kernel will use.
public struct BroadcastPlan: Sendable, Hashable {
    public let lhsShape: [Int]
    public let rhsShape: [Int]
    public let outputShape: [Int]
    public let outputCount: Int

    /// The loop the kernel runs.
    public enum Path: Sendable, Hashable {
        /// Both operands have the output's element count (same shape up to leading 1s).
        case sameShape
        /// lhs is a single element.
        case lhsScalar
        /// rhs is a single element.
        case rhsScalar
        /// lhs has the output's shape; viewing the output as [outer, mid, inner],
        /// rhs has `mid` elements, indexed by the middle coordinate. Covers a
        /// row vector (inner = 1), a column (outer = 1) and a channel vector
        /// [1, C, 1, 1] over NCHW (outer = N, mid = C, inner = H·W).
        case rhsMiddle(outer: Int, mid: Int, inner: Int)
        /// The same with the roles swapped.
        case lhsMiddle(outer: Int, mid: Int, inner: Int)
        /// N-d strided loop over the collapsed axes.
        case general
    }
    public let path: Path

    /// Output axes with size-1 axes dropped and compatible neighbours merged,
    /// and each operand's element strides along them (0 where broadcast).
    @usableFromInline let dims: [Int]
    @usableFromInline let lhsStrides: [Int]
    @usableFromInline let rhsStrides: [Int]

    public init(lhs: [Int], rhs: [Int]) throws(BroadcastError) {
        if lhs.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: lhs) }
        if rhs.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: rhs) }
        let rank = Swift.max(lhs.count, rhs.count)
        let pl = [Int](repeating: 1, count: rank - lhs.count) + lhs
        let pr = [Int](repeating: 1, count: rank - rhs.count) + rhs
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            if pl[i] == pr[i] || pr[i] == 1 {
                out[i] = pl[i]
            } else if pl[i] == 1 {
                out[i] = pr[i]
            } else {
                throw .mismatch(lhs: lhs, rhs: rhs, axis: i, lhsSize: pl[i], rhsSize: pr[i])
            }
        }
        lhsShape = lhs
        rhsShape = rhs
        outputShape = out
        outputCount = StridedLoops.product(out)

        let cl = StridedLoops.contiguousStrides(pl), cr = StridedLoops.contiguousStrides(pr)
        let sl = (0..<rank).map { pl[$0] == 1 ? 0 : cl[$0] }
        let sr = (0..<rank).map { pr[$0] == 1 ? 0 : cr[$0] }
        let c = StridedLoops.collapse(out, [sl, sr])
        dims = c.dims
        lhsStrides = c.strides[0]
        rhsStrides = c.strides[1]

        let d = c.dims
        let full = StridedLoops.contiguousStrides(d)
        let fl = lhsStrides == full, fr = rhsStrides == full
        func middle(_ s: [Int]) -> (Int, Int, Int)? {
            switch s.count {
            case 1 where s == [0]: return nil
            case 2 where s == [0, 1]: return (d[0], d[1], 1)
            case 2 where s == [1, 0]: return (1, d[0], d[1])
            case 3 where s == [0, 1, 0]: return (d[0], d[1], d[2])
            default: return nil
            }
        }
        if outputCount <= 1 || (fl && fr) {
            path = .sameShape
        } else if fl && rhsStrides == [0] {
            path = .rhsScalar
        } else if fr && lhsStrides == [0] {
            path = .lhsScalar
        } else if fl, let (o, m, i) = middle(rhsStrides) {
            path = .rhsMiddle(outer: o, mid: m, inner: i)
        } else if fr, let (o, m, i) = middle(lhsStrides) {
            path = .lhsMiddle(outer: o, mid: m, inner: i)
        } else {
            path = .general
        }
    }

    /// The plan that sums an output-shaped gradient back to one operand's shape.
    public func gradientPlan(for operand: BroadcastOperand) -> ReduceToShapePlan {
        let target = operand == .lhs ? lhsShape : rhsShape
        do {
            return try ReduceToShapePlan(from: outputShape, to: target)
        } catch {
            preconditionFailure("an operand always reduces from its own broadcast: \(error)")
        }
    }
}

@usableFromInline
enum BroadcastKernels {
    @inlinable @inline(__always)
    static func run<T: KernelScalar>(_ plan: BroadcastPlan, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                     _ out: UnsafeMutablePointer<T>,
                                     _ f: (SIMD16<T>, SIMD16<T>) -> SIMD16<T>) {
        let count = plan.outputCount
        if count == 0 { return }
        switch plan.path {
        case .sameShape:
            SIMDMath.map2(a, b, out, count, f)
        case .lhsScalar:
            let s = SIMD16<T>(repeating: a[0])
            SIMDMath.map(b, out, count) { f(s, $0) }
        case .rhsScalar:
            let s = SIMD16<T>(repeating: b[0])
            SIMDMath.map(a, out, count) { f($0, s) }
        case .rhsMiddle(let outer, let mid, let inner):
            if inner == 1 {
                for o in 0..<outer { SIMDMath.map2(a + o * mid, b, out + o * mid, mid, f) }
            } else {
                for o in 0..<outer {
                    for m in 0..<mid {
                        let s = SIMD16<T>(repeating: b[m])
                        let base = (o * mid + m) * inner
                        SIMDMath.map(a + base, out + base, inner) { f($0, s) }
                    }
                }
            }
        case .lhsMiddle(let outer, let mid, let inner):
            if inner == 1 {
                for o in 0..<outer { SIMDMath.map2(a, b + o * mid, out + o * mid, mid, f) }
            } else {
                for o in 0..<outer {
                    for m in 0..<mid {
                        let s = SIMD16<T>(repeating: a[m])
                        let base = (o * mid + m) * inner
                        SIMDMath.map(b + base, out + base, inner) { f(s, $0) }
                    }
                }
            }
        case .general:
            let dims = plan.dims
            let n = dims[dims.count - 1]
            // After collapsing, each operand's innermost stride is 1 (it varies
            // along that axis) or 0 (it is broadcast there), never both 0.
            let sa = plan.lhsStrides[dims.count - 1], sb = plan.rhsStrides[dims.count - 1]
            var o = out
            StridedLoops.forEachRun(dims, plan.lhsStrides, plan.rhsStrides) { oa, ob in
                let pa = a + oa, pb = b + ob
                if sa == 1 && sb == 1 {
                    SIMDMath.map2(pa, pb, o, n, f)
                } else if sb == 0 {
                    let s = SIMD16<T>(repeating: pb[0])
                    SIMDMath.map(pa, o, n) { f($0, s) }
                } else {
                    let s = SIMD16<T>(repeating: pa[0])
                    SIMDMath.map(pb, o, n) { f(s, $0) }
                }
                o += n
            }
        }
    }
}

/// The broadcast loop of `binary` for one definition.
@usableFromInline
struct BroadcastLoop<T: KernelScalar>: BinaryVisitor {
    @usableFromInline let plan: BroadcastPlan
    @usableFromInline let a: UnsafePointer<T>, b: UnsafePointer<T>, out: UnsafeMutablePointer<T>
    @inlinable init(plan: BroadcastPlan, a: UnsafePointer<T>, b: UnsafePointer<T>, out: UnsafeMutablePointer<T>) {
        self.plan = plan; self.a = a; self.b = b; self.out = out
    }
    @inlinable @inline(__always)
    func visit<F: BinaryDefinition>(_: F.Type) { BroadcastKernels.run(plan, a, b, out) { F.forward($0, $1) } }
}

/// out = op(a, b) with broadcasting per the plan, for a binary function `op`
/// (`Op.visitBinary`); `a` has `plan.lhsShape`, `b` has `plan.rhsShape`,
/// `out` has `plan.outputShape`. `out` may equal an operand only if that
/// operand has the output's element count.
@inlinable
public func binary<T: KernelScalar>(_ op: Op, _ plan: BroadcastPlan, _ a: UnsafePointer<T>,
                                    _ b: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>) {
    _ = op.visitBinary(BroadcastLoop(plan: plan, a: a, b: b, out: out))
}

/// out[i] = a[i] op b[i] for i < count (operands of the same shape); `out`
/// may equal `a` or `b`.
@inlinable
public func binary<T: KernelScalar>(_ op: Op, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                    _ out: UnsafeMutablePointer<T>, count: Int) {
    FusedElementwiseKernel.binaryTile(op, a, b, out, count)
}

// MARK: - Backward of broadcasting

/// Summing a gradient of shape `fromShape` (a broadcast result) back to
/// `toShape` (an operand that broadcasts to it): every axis where the
/// operand has size 1 (or is missing) but the result does not is summed.
public struct ReduceToShapePlan: Sendable, Hashable {
    public let fromShape: [Int]
    public let toShape: [Int]
    public let reduction: ReductionPlan

    public init(from outputShape: [Int], to operandShape: [Int]) throws(BroadcastError) {
        if outputShape.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: outputShape) }
        if operandShape.contains(where: { $0 < 0 }) { throw .negativeDimension(shape: operandShape) }
        if operandShape.count > outputShape.count { throw .cannotReduce(from: outputShape, to: operandShape) }
        let pad = outputShape.count - operandShape.count
        var axes: [Int] = []
        for i in 0..<outputShape.count {
            let s = i < pad ? 1 : operandShape[i - pad]
            if s == outputShape[i] { continue }
            if s != 1 { throw .cannotReduce(from: outputShape, to: operandShape) }
            axes.append(i)
        }
        fromShape = outputShape
        toShape = operandShape
        do {
            reduction = try ReductionPlan(shape: outputShape, axes: axes)
        } catch {
            preconditionFailure("axes computed from the shape are valid: \(error)")
        }
    }
}

/// result (operand shape) = the sum of `grad` (broadcast-result shape) over
/// the broadcast axes, pairwise. `result` must not overlap `grad`.
@inlinable
public func reduceToShape<T: KernelScalar>(_ plan: ReduceToShapePlan, _ grad: UnsafePointer<T>,
                                           _ result: UnsafeMutablePointer<T>) {
    reduce(.sum, plan.reduction, grad, result)
}

// MARK: - Bias addition

@usableFromInline
func biasAddGeometry(_ shape: [Int], _ axis: Int) -> (outer: Int, channels: Int, inner: Int) {
    precondition(axis >= 0 && axis < shape.count, "biasAdd axis \(axis) out of range for rank \(shape.count)")
    return (StridedLoops.product(shape[..<axis]), shape[axis], StridedLoops.product(shape[(axis + 1)...]))
}

/// y[…, c, …] = x[…, c, …] + bias[c], where c is the coordinate on `axis` of
/// a tensor of `shape` (bias has shape[axis] elements). `x` may equal `y`.
/// To split work over the leading axis, pass offset pointers and a shape
/// with a smaller first dimension (axis > 0).
@inlinable
public func biasAdd<T: KernelScalar>(_ x: UnsafePointer<T>, _ bias: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
                                     shape: [Int], axis: Int) {
    let (outer, channels, inner) = biasAddGeometry(shape, axis)
    if inner == 1 {
        for o in 0..<outer {
            SIMDMath.map2(x + o * channels, bias, y + o * channels, channels) { $0 + $1 }
        }
    } else {
        for o in 0..<outer {
            for c in 0..<channels {
                let s = bias[c]
                let base = (o * channels + c) * inner
                SIMDMath.map(x + base, y + base, inner) { $0 + s }
            }
        }
    }
}

/// dbias[c] = Σ dy over every axis but `axis` (pairwise). (dx = dy.)
@inlinable
public func biasAddBackward<T: KernelScalar>(_ dy: UnsafePointer<T>, _ dbias: UnsafeMutablePointer<T>,
                                             shape: [Int], axis: Int) {
    let (outer, channels, inner) = biasAddGeometry(shape, axis)
    let plan: ReductionPlan
    do {
        plan = try ReductionPlan(shape: [outer, channels, inner], axes: [0, 2])
    } catch {
        preconditionFailure("a rank-3 view always has axes 0 and 2: \(error)")
    }
    reduce(.sum, plan, dy, dbias)
}
