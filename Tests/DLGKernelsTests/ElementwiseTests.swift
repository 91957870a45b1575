import Testing
import DLGOps
@testable import DLGKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Helpers shared by the elementwise, broadcast, reduction, softmax, layout,
/// dropout and fill kernel tests.
enum EWSupport {
    /// Relative tolerance for a kernel in precision T against a Double reference.
    static func rtol<T: KernelScalar>(_: T.Type) -> Double {
        T.self == Float.self ? 1e-5 : 1e-12
    }

    /// n deterministic values uniform in [lo, hi).
    static func values(_ n: Int, _ lo: Double, _ hi: Double, seed: UInt64) -> [Double] {
        var r = RandomStream(seed: seed)
        return (0..<n).map { _ in r.uniform(lo, hi) }
    }

    /// Rounds to T and back, so a reference sees exactly the kernel's input.
    static func rounded<T: KernelScalar>(_ x: [Double], _: T.Type) -> [Double] {
        x.map { Double(T($0)) }
    }

    /// Expects |got − want| ≤ rtol·|want| + atol elementwise (equal infinities
    /// and NaN against NaN count as equal). Reports at most five elements.
    static func expectClose(_ got: [Double], _ want: [Double], rtol: Double, atol: Double = 0,
                            _ what: @autoclosure () -> String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        guard got.count == want.count else {
            Issue.record("\(what()): \(got.count) values, expected \(want.count)", sourceLocation: sourceLocation)
            return
        }
        var reported = 0
        for i in got.indices {
            let g = got[i], w = want[i]
            let ok = (g.isNaN && w.isNaN) || g == w || Swift.abs(g - w) <= rtol * Swift.abs(w) + atol
            if !ok {
                if reported < 5 {
                    Issue.record("\(what()) [\(i)]: got \(g), expected \(w) (rtol \(rtol), atol \(atol))",
                                 sourceLocation: sourceLocation)
                }
                reported += 1
            }
        }
    }

    /// Runs a kernel that reads one array and writes another of `outCount` elements.
    static func run<T: KernelScalar>(_ x: [Double], _: T.Type, outCount: Int,
                                     _ body: (UnsafePointer<T>, UnsafeMutablePointer<T>) -> Void) -> [Double] {
        let xt = x.map { T($0) } + [0]  // one spare element so baseAddress is never nil
        var yt = [T](repeating: 0, count: outCount + 1)
        xt.withUnsafeBufferPointer { xp in
            yt.withUnsafeMutableBufferPointer { yp in body(xp.baseAddress!, yp.baseAddress!) }
        }
        return yt.prefix(outCount).map(Double.init)
    }

    /// Runs a kernel reading two arrays.
    static func run2<T: KernelScalar>(_ a: [Double], _ b: [Double], _: T.Type, outCount: Int,
                                      _ body: (UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>) -> Void)
        -> [Double] {
        let at = a.map { T($0) } + [0], bt = b.map { T($0) } + [0]
        var yt = [T](repeating: 0, count: outCount + 1)
        at.withUnsafeBufferPointer { ap in
            bt.withUnsafeBufferPointer { bp in
                yt.withUnsafeMutableBufferPointer { yp in body(ap.baseAddress!, bp.baseAddress!, yp.baseAddress!) }
            }
        }
        return yt.prefix(outCount).map(Double.init)
    }

    /// Runs a kernel reading three arrays.
    static func run3<T: KernelScalar>(_ a: [Double], _ b: [Double], _ c: [Double], _: T.Type, outCount: Int,
                                      _ body: (UnsafePointer<T>, UnsafePointer<T>, UnsafePointer<T>,
                                               UnsafeMutablePointer<T>) -> Void) -> [Double] {
        let at = a.map { T($0) } + [0], bt = b.map { T($0) } + [0], ct = c.map { T($0) } + [0]
        var yt = [T](repeating: 0, count: outCount + 1)
        at.withUnsafeBufferPointer { ap in
            bt.withUnsafeBufferPointer { bp in
                ct.withUnsafeBufferPointer { cp in
                    yt.withUnsafeMutableBufferPointer { yp in
                        body(ap.baseAddress!, bp.baseAddress!, cp.baseAddress!, yp.baseAddress!)
                    }
                }
            }
        }
        return yt.prefix(outCount).map(Double.init)
    }

    /// Row-major strides.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// The multi-index of flat position `flat` in `shape`.
    static func unflatten(_ flat: Int, _ shape: [Int]) -> [Int] {
        var idx = [Int](repeating: 0, count: shape.count)
        var r = flat
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] > 0 {
            idx[i] = r % shape[i]
            r /= shape[i]
        }
        return idx
    }

    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }
}

/// A unary function by op (a test shorthand).
func fn(_ op: Op, alpha: Double? = nil) -> UnaryFunction { UnaryFunction(op, alpha: alpha)! }

extension UnaryFunction {
    /// Every unary function, with its parameter's default.
    static let all: [UnaryFunction] = Op.unaryFunctions.map { UnaryFunction($0)! }
}

/// The unary functions written directly from their formulas in Double,
/// independently of their definitions in DLGOps.
enum UnaryReference {
    static let lambda = 1.0507009873554805, selAlpha = 1.6732632423543772

    static func sigma(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    /// Φ(x) through erfc: 1 + erf(t) = erfc(−t) exactly, and erfc keeps the
    /// reference itself accurate where 1 + erf(t) would cancel.
    static func phi(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    static func f(_ fn: UnaryFunction, _ x: Double) -> Double {
        let a = fn.alpha
        switch fn.op {
        case .neg: return -x
        case .exp: return exp(x)
        case .log: return log(x)
        case .sqrt: return x.squareRoot()
        case .rsqrt: return 1 / x.squareRoot()
        case .abs: return Swift.abs(x)
        case .square: return x * x
        case .reciprocal: return 1 / x
        case .sign: return x > 0 ? 1 : (x < 0 ? -1 : 0)
        case .sigmoid: return sigma(x)
        case .tanh: return tanh(x)
        case .relu: return x > 0 ? x : 0
        case .leaky_relu: return x > 0 ? x : a * x
        // expm1(x) is e^x − 1 evaluated without the cancellation near 0.
        case .elu: return x > 0 ? x : a * expm1(x)
        case .selu: return lambda * (x > 0 ? x : selAlpha * expm1(x))
        case .gelu: return x * phi(x)
        case .swish: return x * sigma(x)
        // log(1 + e^x) with log1p so that the reference stays accurate for negative x.
        case .softplus: return log1p(exp(x))
        case .softsign: return x / (1 + Swift.abs(x))
        case .mish: return x * tanh(log1p(exp(x)))
        case .hard_sigmoid: return Swift.min(Swift.max(x + 3, 0), 6) / 6
        case .hard_swish: return x * Swift.min(Swift.max(x + 3, 0), 6) / 6
        case .log_sigmoid: return x < 0 ? x - log1p(exp(x)) : -log1p(exp(-x))
        case .hardlim: return x >= 0 ? 1 : 0
        case .hardlims: return x >= 0 ? 1 : -1
        case .satlin: return Swift.min(Swift.max(x, 0), 1)
        case .satlins: return Swift.min(Swift.max(x, -1), 1)
        case .step: return x > 0 ? 1 : 0
        default:
            Issue.record("no reference for \(fn)")
            return .nan
        }
    }

    /// f′(x) from the textbook derivatives (straight-through 1 for hardlim/hardlims).
    static func df(_ fn: UnaryFunction, _ x: Double) -> Double {
        let a = fn.alpha
        switch fn.op {
        case .neg: return -1
        case .exp: return exp(x)
        case .log: return 1 / x
        case .sqrt: return 0.5 / x.squareRoot()
        case .rsqrt: return -0.5 * pow(x, -1.5)
        case .abs: return x > 0 ? 1 : (x < 0 ? -1 : 0)
        case .square: return 2 * x
        case .reciprocal: return -1 / (x * x)
        case .sign, .step: return 0
        case .sigmoid: return sigma(x) * (1 - sigma(x))
        case .tanh: return 1 - tanh(x) * tanh(x)
        case .relu: return x > 0 ? 1 : 0
        case .leaky_relu: return x > 0 ? 1 : a
        case .elu: return x > 0 ? 1 : a * exp(x)
        case .selu: return x > 0 ? lambda : lambda * selAlpha * exp(x)
        case .gelu: return phi(x) + x * exp(-x * x / 2) / (2 * Double.pi).squareRoot()
        case .swish: return sigma(x) + x * sigma(x) * (1 - sigma(x))
        case .softplus: return sigma(x)
        case .softsign: return 1 / ((1 + Swift.abs(x)) * (1 + Swift.abs(x)))
        case .mish: return { let t = tanh(log1p(exp(x))); return t + x * (1 - t * t) * sigma(x) }()
        case .hard_sigmoid: return x > -3 && x < 3 ? 1.0 / 6 : 0
        case .hard_swish: return x < -3 ? 0 : x <= 3 ? (2 * x + 3) / 6 : 1
        case .log_sigmoid: return sigma(-x)
        case .hardlim, .hardlims: return 1
        case .satlin: return x > 0 && x < 1 ? 1 : 0
        case .satlins: return x > -1 && x < 1 ? 1 : 0
        default:
            Issue.record("no reference derivative for \(fn)")
            return .nan
        }
    }

    /// Inputs inside the op's domain, away from poles.
    static func domain(_ fn: UnaryFunction) -> (Double, Double) {
        switch fn.op {
        case .log, .sqrt, .rsqrt: return (0.05, 20)
        case .exp: return (-20, 20)
        case .satlin: return (-0.5, 1.5)
        case .satlins: return (-1.5, 1.5)
        default: return (-6, 6)
        }
    }

    static func inputs(_ fn: UnaryFunction, _ n: Int, seed: UInt64) -> [Double] {
        let (lo, hi) = domain(fn)
        var x = EWSupport.values(n, lo, hi, seed: seed)
        if fn.op == .reciprocal {
            // Keep |x| ≥ 0.1: move values off the pole at 0, keeping their sign.
            x = x.map { Swift.abs($0) < 0.1 ? ($0 < 0 ? $0 - 0.1 : $0 + 0.1) : $0 }
        }
        return x
    }
}

@Suite struct ElementwiseTests {
    static let sizes = [1, 7, 16, 17, 33, 100]

    func checkForward<T: KernelScalar>(_ op: UnaryFunction, _: T.Type,
                                       sourceLocation: SourceLocation = #_sourceLocation) {
        for (k, n) in Self.sizes.enumerated() {
            let x = EWSupport.rounded(UnaryReference.inputs(op, n, seed: UInt64(10 + k)), T.self)
            let got = EWSupport.run(x, T.self, outCount: n) { xp, yp in unary(op, xp, yp, count: n) }
            let want = x.map { UnaryReference.f(op, $0) }
            EWSupport.expectClose(got, want, rtol: EWSupport.rtol(T.self), "\(op) \(T.dtypeName) n=\(n)",
                                  sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: UnaryFunction.all)
    func forwardMatchesDefinition(_ op: UnaryFunction) {
        checkForward(op, Float.self)
        checkForward(op, Double.self)
    }

    /// The backward against the analytic derivative. The tolerance is relative
    /// to |ref| + |dy|: f′ is a sum of O(1) terms that cancel near its roots
    /// (swish near x ≈ −1.28, gelu near −0.75), where Float's absolute error is
    /// O(ε·|dy|) while the exact value goes to 0.
    func checkBackward<T: KernelScalar>(_ op: UnaryFunction, _: T.Type,
                                        sourceLocation: SourceLocation = #_sourceLocation) {
        for (k, n) in Self.sizes.enumerated() {
            let x = EWSupport.rounded(UnaryReference.inputs(op, n, seed: UInt64(40 + k)), T.self)
            let dy = EWSupport.rounded(EWSupport.values(n, -2, 2, seed: UInt64(70 + k)), T.self)
            let y = EWSupport.run(x, T.self, outCount: n) { xp, yp in unary(op, xp, yp, count: n) }
            let got = EWSupport.run3(x, y, dy, T.self, outCount: n) { xp, yp, gp, dxp in
                unaryBackward(op, x: xp, y: yp, dy: gp, dx: dxp, count: n)
            }
            let rtol = EWSupport.rtol(T.self)
            for i in 0..<n {
                let want = dy[i] * UnaryReference.df(op, x[i])
                let ok = Swift.abs(got[i] - want) <= rtol * (Swift.abs(want) + Swift.abs(dy[i]))
                #expect(ok, "\(op) \(T.dtypeName) n=\(n) x=\(x[i]): dx \(got[i]) vs \(want)",
                        sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: UnaryFunction.all)
    func backwardMatchesDerivative(_ op: UnaryFunction) {
        checkBackward(op, Float.self)
        checkBackward(op, Double.self)
    }

    /// Central differences of the forward kernel in Double at points away from
    /// kinks: (f(x+h) − f(x−h))/2h with h = 1e-5 has error ~h²·f‴/6 + ε·f/h ≈ 1e-10.
    @Test(arguments: UnaryFunction.all.filter { !$0.info.straightThrough })
    func backwardMatchesFiniteDifferences(_ op: UnaryFunction) {
        let points: [Double] = switch op.op {
        case .log, .sqrt, .rsqrt: [0.3, 0.9, 1.7, 4.2]
        default: [-2.3, -0.7, 0.4, 1.9]
        }
        let h = 1e-5
        let f = { (v: [Double]) in
            EWSupport.run(v, Double.self, outCount: v.count) { xp, yp in unary(op, xp, yp, count: v.count) }
        }
        let fd = zip(f(points.map { $0 + h }), f(points.map { $0 - h })).map { ($0 - $1) / (2 * h) }
        let dy = [0.7, -1.3, 0.5, 2.0]
        let y = f(points)
        let dx = EWSupport.run3(points, y, dy, Double.self, outCount: 4) { xp, yp, gp, dxp in
            unaryBackward(op, x: xp, y: yp, dy: gp, dx: dxp, count: 4)
        }
        for i in 0..<4 {
            #expect(Swift.abs(dx[i] - dy[i] * fd[i]) <= 1e-7 * (Swift.abs(dy[i] * fd[i]) + 1),
                    "\(op) at \(points[i]): dx \(dx[i]), finite difference \(dy[i] * fd[i])")
        }
    }

    /// hardlim and hardlims pass the gradient straight through.
    @Test func hardlimGradientIsStraightThrough() {
        let x: [Double] = [-3, -0.5, 0, 0.5, 3]
        let dy: [Double] = [1, 2, 3, 4, 5]
        for op in [fn(.hardlim), fn(.hardlims)] {
            let y = EWSupport.run(x, Float.self, outCount: 5) { xp, yp in unary(op, xp, yp, count: 5) }
            let dx = EWSupport.run3(x, y, dy, Float.self, outCount: 5) { xp, yp, gp, dxp in
                unaryBackward(op, x: xp, y: yp, dy: gp, dx: dxp, count: 5)
            }
            #expect(dx == dy)
        }
    }

    /// Values at the conventions' edges, checked by hand from the definitions.
    @Test func conventionsAtBoundaries() {
        let x: [Double] = [0, 1, -1]
        func f(_ op: Op) -> [Double] {
            EWSupport.run(x, Float.self, outCount: 3) { xp, yp in unary(fn(op), xp, yp, count: 3) }
        }
        #expect(f(.sign) == [0, 1, -1])
        #expect(f(.step) == [0, 1, 0])
        #expect(f(.hardlim) == [1, 1, 0])
        #expect(f(.hardlims) == [1, 1, -1])
        #expect(f(.relu) == [0, 1, 0])
        #expect(f(.satlin) == [0, 1, 0])
        #expect(f(.satlins) == [0, 1, -1])
        #expect(f(.abs) == [0, 1, 1])
        // Gradients at the kinks: relu′(0) = 0, abs′(0) = 0, satlin′ is 0 at 0 and 1.
        let ones: [Double] = [1, 1, 1]
        func g(_ op: Op) -> [Double] {
            EWSupport.run3(x, f(op), ones, Float.self, outCount: 3) { xp, yp, gp, dxp in
                unaryBackward(fn(op), x: xp, y: yp, dy: gp, dx: dxp, count: 3)
            }
        }
        #expect(g(.relu) == [0, 1, 0])
        #expect(g(.abs) == [0, 1, -1])
        #expect(g(.satlin) == [0, 0, 0])
        #expect(g(.satlins) == [1, 0, 0])
    }

    @Test func inPlaceMatchesOutOfPlace() {
        let n = 37
        let x = EWSupport.values(n, -4, 4, seed: 5).map { Float($0) }
        for op in UnaryFunction.all where ![.log, .sqrt, .rsqrt].contains(op.op) {
            var a = x, b = [Float](repeating: 0, count: n)
            a.withUnsafeMutableBufferPointer { p in unary(op, UnsafePointer(p.baseAddress!), p.baseAddress!, count: n) }
            x.withUnsafeBufferPointer { xp in
                b.withUnsafeMutableBufferPointer { bp in unary(op, xp.baseAddress!, bp.baseAddress!, count: n) }
            }
            #expect(a == b, "\(op)")
        }
    }

    /// exp over its whole range against libm's Double exp, including results in
    /// the subnormal range, where the tolerance is two subnormal units.
    @Test func expAcrossTheRange() {
        let xf = (0...2000).map { -103.9 + 192.6 * Double($0) / 2000 }.map { Double(Float($0)) }
        let gotF = EWSupport.run(xf, Float.self, outCount: xf.count) { xp, yp in unary(fn(.exp), xp, yp, count: xf.count) }
        EWSupport.expectClose(gotF, xf.map { Double(Float(exp($0))) }, rtol: 1e-6,
                              atol: 2 * Double(Float.leastNonzeroMagnitude), "exp f32")
        let xd = (0...2000).map { -745.0 + 1454.7 * Double($0) / 2000 }
        let gotD = EWSupport.run(xd, Double.self, outCount: xd.count) { xp, yp in unary(fn(.exp), xp, yp, count: xd.count) }
        EWSupport.expectClose(gotD, xd.map { exp($0) }, rtol: 1e-14, atol: 2 * Double.leastNonzeroMagnitude, "exp f64")
    }

    /// The vectorized Float erfc (gelu's Φ) against libm's Double erfc at the same
    /// Float inputs, over the whole range where the result is a normal number, and
    /// its limits: 0 and 2 past ±10.05, ±infinity, NaN.
    @Test func erfcAcrossTheRange() {
        let xs = (0...24000).map { Float(-10 + 20.05 * Double($0) / 24000) } + [0, -0.0, 0.4999999, 0.5, -0.5, 1e-20, -1e-20]
        var worst = 0.0
        for start in stride(from: 0, to: xs.count, by: 16) {
            var v = SIMD16<Float>(repeating: 0)
            for k in 0..<16 where start + k < xs.count { v[k] = xs[start + k] }
            let got = SIMDMath.erfc(v)
            for k in 0..<16 where start + k < xs.count {
                let want = erfc(Double(xs[start + k]))
                guard want >= Double(Float.leastNormalMagnitude) else { continue }
                worst = Swift.max(worst, Swift.abs(Double(got[k]) - want) / want)
            }
        }
        #expect(worst <= 5e-7, "largest relative error \(worst)")
        let edge = SIMDMath.erfc(SIMD16<Float>([10.1, -10.1, 30, -30, .infinity, -.infinity, .nan, 1e30, -1e30, 0, 0, 0, 0, 0, 0, 0]))
        #expect(edge[0] == 0 && edge[1] == 2 && edge[2] == 0 && edge[3] == 2 && edge[4] == 0 && edge[5] == 2)
        #expect(edge[6].isNaN && edge[7] == 0 && edge[8] == 2 && edge[9] == 1)
        // Double keeps libm's erfc exactly.
        let d = SIMDMath.erfc(SIMD16<Double>((0..<16).map { -4 + 0.55 * Double($0) }))
        for k in 0..<16 { #expect(d[k] == erfc(-4 + 0.55 * Double(k))) }
    }

    @Test func extremeInputsStayFiniteOrSaturate() {
        let x: [Double] = [100, -200, .nan, 1000, -1000]
        let e = EWSupport.run(x, Float.self, outCount: 5) { xp, yp in unary(fn(.exp), xp, yp, count: 5) }
        #expect(e[0] == .infinity && e[1] == 0 && e[2].isNaN && e[3] == .infinity && e[4] == 0)
        let s = EWSupport.run(x, Float.self, outCount: 5) { xp, yp in unary(fn(.sigmoid), xp, yp, count: 5) }
        #expect(s[0] == 1 && s[1] == 0 && s[2].isNaN && s[3] == 1 && s[4] == 0)
        let t = EWSupport.run(x, Double.self, outCount: 5) { xp, yp in unary(fn(.tanh), xp, yp, count: 5) }
        #expect(t[0] == 1 && t[1] == -1 && t[2].isNaN && t[3] == 1 && t[4] == -1)
        let sp = EWSupport.run(x, Float.self, outCount: 5) { xp, yp in unary(fn(.softplus), xp, yp, count: 5) }
        #expect(sp[0] == 100 && sp[1] == 0 && sp[3] == 1000 && sp[4] == 0)
    }

    /// e^x − 1 near 0 (through elu with α = 1, which is expm1 for x ≤ 0, and
    /// tanh, which uses expm1 internally) keeps full relative accuracy.
    @Test func smallArgumentsKeepRelativeAccuracy() {
        let x = (0..<40).map { -pow(10, -8 + 8 * Double($0) / 39) }
        for (op, ref) in [(fn(.elu, alpha: 1), { (v: Double) in expm1(v) }), (fn(.tanh), { tanh($0) })] {
            let xf = EWSupport.rounded(x, Float.self)
            let gf = EWSupport.run(xf, Float.self, outCount: x.count) { xp, yp in unary(op, xp, yp, count: x.count) }
            EWSupport.expectClose(gf, xf.map(ref), rtol: 1e-5, "\(op) f32 near 0")
            let gd = EWSupport.run(x, Double.self, outCount: x.count) { xp, yp in unary(op, xp, yp, count: x.count) }
            EWSupport.expectClose(gd, x.map(ref), rtol: 1e-12, "\(op) f64 near 0")
        }
    }

    func checkScalarOps<U: KernelScalar>(_: U.Type, sourceLocation: SourceLocation = #_sourceLocation) {
        let n = 33
        let rtol = EWSupport.rtol(U.self)
        let xr = EWSupport.rounded(EWSupport.values(n, -3, 3, seed: 8), U.self)
        let gr = EWSupport.rounded(EWSupport.values(n, -1, 1, seed: 9), U.self)
        let aff = EWSupport.run(xr, U.self, outCount: n) { xp, yp in
            scalarOp(.affine(scale: 2.5, shift: -0.75), xp, yp, count: n)
        }
        // Absolute slack: 2.5x − 0.75 passes near 0, where only ε·|2.5x| is meaningful.
        EWSupport.expectClose(aff, xr.map { 2.5 * $0 - 0.75 }, rtol: rtol, atol: 10 * rtol, "affine",
                              sourceLocation: sourceLocation)
        let direct = EWSupport.run(xr, U.self, outCount: n) { xp, yp in
            affine(xp, yp, count: n, scale: 2.5, shift: -0.75)
        }
        #expect(direct == aff, sourceLocation: sourceLocation)
        let cl = EWSupport.run(xr, U.self, outCount: n) { xp, yp in
            scalarOp(.clamp(lo: -1, hi: 0.5), xp, yp, count: n)
        }
        #expect(cl == xr.map { Swift.min(Swift.max($0, -1), 0.5) }, sourceLocation: sourceLocation)
        let cl2 = EWSupport.run(xr, U.self, outCount: n) { xp, yp in clamp(xp, yp, count: n, lo: -1, hi: 0.5) }
        #expect(cl2 == cl, sourceLocation: sourceLocation)
        let daff = EWSupport.run2(xr, gr, U.self, outCount: n) { xp, gp, dxp in
            scalarOpBackward(.affine(scale: 2.5, shift: -0.75), x: xp, dy: gp, dx: dxp, count: n)
        }
        EWSupport.expectClose(daff, gr.map { 2.5 * $0 }, rtol: rtol, "affine backward", sourceLocation: sourceLocation)
        let dcl = EWSupport.run2(xr, gr, U.self, outCount: n) { xp, gp, dxp in
            scalarOpBackward(.clamp(lo: -1, hi: 0.5), x: xp, dy: gp, dx: dxp, count: n)
        }
        #expect(dcl == zip(xr, gr).map { $0 >= -1 && $0 <= 0.5 ? $1 : 0 }, sourceLocation: sourceLocation)
    }

    @Test func scalarOpsAndTheirBackward() {
        checkScalarOps(Float.self)
        checkScalarOps(Double.self)
    }
}
