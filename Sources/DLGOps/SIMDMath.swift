#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Vector building blocks shared by the elementwise, broadcast, reduction
/// and softmax kernels: unaligned SIMD16 loads and stores (full and partial),
/// a vectorized `exp`/`expm1` (and `sigmoid`/`tanh` built on them), lane-wise
/// application of scalar libm functions, and pairwise summation.
///
/// `exp` uses the classic scheme: k = round(x / ln 2), r = x − k·ln 2 with a
/// two-part (Cody–Waite) ln 2, exp(r) by its Taylor polynomial (degree 7 for
/// Float, 13 for Double; truncation error below half an ulp on |r| ≤ ln2/2),
/// then a multiplication by 2^k built from exponent bits, split into two
/// factors so that results down into the subnormal range are exact to one
/// rounding. Overflow gives +inf, underflow 0, NaN stays NaN.
public enum SIMDMath {
    // MARK: Loads and stores

    /// Loads 16 consecutive elements (no alignment needed).
    @inlinable @inline(__always)
    public static func load<T: SIMDScalar>(_ p: UnsafePointer<T>) -> SIMD16<T> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<T>.self)
    }

    /// Stores 16 consecutive elements (no alignment needed).
    @inlinable @inline(__always)
    public static func store<T: SIMDScalar>(_ v: SIMD16<T>, _ p: UnsafeMutablePointer<T>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<T>.self)
    }

    /// Loads `n` (0…16) elements; the remaining lanes hold `fill`.
    /// (Lanes are written through memory: per-lane subscripts of a generic
    /// SIMD16<T> compile to slow code even after specialization.)
    @inlinable @inline(__always)
    public static func loadPartial<T: SIMDScalar>(_ p: UnsafePointer<T>, _ n: Int, fill: T) -> SIMD16<T> {
        var v = SIMD16<T>(repeating: fill)
        withUnsafeMutableBytes(of: &v) { raw in
            raw.baseAddress!.assumingMemoryBound(to: T.self).update(from: p, count: n)
        }
        return v
    }

    /// Stores the first `n` (0…16) lanes.
    @inlinable @inline(__always)
    public static func storePartial<T: SIMDScalar>(_ v: SIMD16<T>, _ p: UnsafeMutablePointer<T>, _ n: Int) {
        withUnsafeBytes(of: v) { raw in
            p.update(from: raw.baseAddress!.assumingMemoryBound(to: T.self), count: n)
        }
    }

    // MARK: Comparisons

    /// A lane-wise comparison.
    public enum Comparison: Sendable {
        case lt, le, gt, ge, eq, ne
    }

    /// The lane mask of `a c b`. Dispatched to the concrete SIMD16<Float> /
    /// SIMD16<Double> operators: the generic `.<` family compiles to per-lane
    /// code even after specialization, some 50× slower in a loop.
    @inlinable @inline(__always)
    public static func compare<T: ElementScalar>(_ a: SIMD16<T>, _ c: Comparison, _ b: SIMD16<T>)
        -> SIMDMask<SIMD16<T.SIMDMaskScalar>> {
        if T.self == Float.self {
            let x = unsafeBitCast(a, to: SIMD16<Float>.self), y = unsafeBitCast(b, to: SIMD16<Float>.self)
            let m: SIMDMask<SIMD16<Int32>> = switch c {
            case .lt: x .< y
            case .le: x .<= y
            case .gt: x .> y
            case .ge: x .>= y
            case .eq: x .== y
            case .ne: x .!= y
            }
            return unsafeBitCast(m, to: SIMDMask<SIMD16<T.SIMDMaskScalar>>.self)
        }
        if T.self == Double.self {
            let x = unsafeBitCast(a, to: SIMD16<Double>.self), y = unsafeBitCast(b, to: SIMD16<Double>.self)
            let m: SIMDMask<SIMD16<Int64>> = switch c {
            case .lt: x .< y
            case .le: x .<= y
            case .gt: x .> y
            case .ge: x .>= y
            case .eq: x .== y
            case .ne: x .!= y
            }
            return unsafeBitCast(m, to: SIMDMask<SIMD16<T.SIMDMaskScalar>>.self)
        }
        switch c {
        case .lt: return a .< b
        case .le: return a .<= b
        case .gt: return a .> b
        case .ge: return a .>= b
        case .eq: return a .== b
        case .ne: return a .!= b
        }
    }

    /// Per lane: `a c b ? t : f`.
    @inlinable @inline(__always)
    public static func select<T: ElementScalar>(_ a: SIMD16<T>, _ c: Comparison, _ b: SIMD16<T>,
                                               then t: SIMD16<T>, else f: SIMD16<T>) -> SIMD16<T> {
        f.replacing(with: t, where: compare(a, c, b))
    }

    /// Per lane: `a c b ? t : f`, comparing with a scalar.
    @inlinable @inline(__always)
    public static func select<T: ElementScalar>(_ a: SIMD16<T>, _ c: Comparison, _ b: T,
                                               then t: SIMD16<T>, else f: SIMD16<T>) -> SIMD16<T> {
        f.replacing(with: t, where: compare(a, c, SIMD16(repeating: b)))
    }

    /// Per lane: `a c b ? t : f` with scalar results.
    @inlinable @inline(__always)
    public static func select<T: ElementScalar>(_ a: SIMD16<T>, _ c: Comparison, _ b: T,
                                               then t: T, else f: T) -> SIMD16<T> {
        SIMD16(repeating: f).replacing(with: t, where: compare(a, c, SIMD16(repeating: b)))
    }

    // MARK: Loops

    /// y[i] = f(x[i]) over `count` elements, 16 at a time; the tail goes through
    /// the same vector function on a zero-padded vector, so every element gets
    /// bit-identical treatment wherever it sits. `x` may equal `y`.
    @inlinable @inline(__always)
    public static func map<T: ElementScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ count: Int,
                                            _ f: (SIMD16<T>) -> SIMD16<T>) {
        var i = 0
        while i + 16 <= count {
            store(f(load(x + i)), y + i)
            i += 16
        }
        if i < count {
            let r = count - i
            storePartial(f(loadPartial(x + i, r, fill: 0)), y + i, r)
        }
    }

    /// out[i] = f(a[i], b[i]); `out` may equal `a` or `b`.
    @inlinable @inline(__always)
    public static func map2<T: ElementScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                             _ out: UnsafeMutablePointer<T>, _ count: Int,
                                             _ f: (SIMD16<T>, SIMD16<T>) -> SIMD16<T>) {
        var i = 0
        while i + 16 <= count {
            store(f(load(a + i), load(b + i)), out + i)
            i += 16
        }
        if i < count {
            let r = count - i
            storePartial(f(loadPartial(a + i, r, fill: 0), loadPartial(b + i, r, fill: 0)), out + i, r)
        }
    }

    /// out[i] = f(a[i], b[i], c[i]); `out` may equal any input.
    @inlinable @inline(__always)
    public static func map3<T: ElementScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ c: UnsafePointer<T>,
                                             _ out: UnsafeMutablePointer<T>, _ count: Int,
                                             _ f: (SIMD16<T>, SIMD16<T>, SIMD16<T>) -> SIMD16<T>) {
        var i = 0
        while i + 16 <= count {
            store(f(load(a + i), load(b + i), load(c + i)), out + i)
            i += 16
        }
        if i < count {
            let r = count - i
            storePartial(f(loadPartial(a + i, r, fill: 0), loadPartial(b + i, r, fill: 0),
                           loadPartial(c + i, r, fill: 0)), out + i, r)
        }
    }

    /// Applies a scalar function to each lane.
    @inlinable @inline(__always)
    public static func lanes<T: SIMDScalar>(_ v: SIMD16<T>, _ f: (T) -> T) -> SIMD16<T> {
        var r = v
        withUnsafeMutableBytes(of: &r) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: T.self)
            for j in 0..<16 { p[j] = f(p[j]) }
        }
        return r
    }

    // MARK: Horizontal reductions (through memory, for the same reason as loadPartial)

    /// The sum of the 16 lanes, added as a balanced tree (8 + 4 + 2 + 1 pairs).
    @inlinable @inline(__always)
    public static func horizontalSum<T: ElementScalar>(_ v: SIMD16<T>) -> T {
        withUnsafeBytes(of: v) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: T.self)
            var h = (p[0] + p[8], p[1] + p[9], p[2] + p[10], p[3] + p[11],
                     p[4] + p[12], p[5] + p[13], p[6] + p[14], p[7] + p[15])
            h.0 += h.4; h.1 += h.5; h.2 += h.6; h.3 += h.7
            return (h.0 + h.2) + (h.1 + h.3)
        }
    }

    /// The largest (or, with `isMin`, smallest) lane.
    @inlinable @inline(__always)
    public static func horizontalExtremum<T: ElementScalar>(_ v: SIMD16<T>, isMin: Bool) -> T {
        withUnsafeBytes(of: v) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: T.self)
            var m = p[0]
            for j in 1..<16 where isMin ? p[j] < m : p[j] > m { m = p[j] }
            return m
        }
    }

    /// Max (or min, with `isMin`) of n ≥ 1 contiguous elements: a lane-wise
    /// select over vectors (the last one overlapping the one before when n is
    /// not a multiple of 16), then across the lanes.
    @inlinable @inline(__always)
    public static func extremum<T: ElementScalar>(_ p: UnsafePointer<T>, _ n: Int, isMin: Bool) -> T {
        if n < 16 {
            var m = p[0]
            for i in 1..<n where isMin ? p[i] < m : p[i] > m { m = p[i] }
            return m
        }
        var acc = load(p)
        var i = 16
        while i + 16 <= n {
            let v = load(p + i)
            acc = select(v, isMin ? .lt : .gt, acc, then: v, else: acc)
            i += 16
        }
        if i < n {
            // The last 16 elements, overlapping ones already seen (harmless for max/min).
            let v = load(p + n - 16)
            acc = select(v, isMin ? .lt : .gt, acc, then: v, else: acc)
        }
        return horizontalExtremum(acc, isMin: isMin)
    }

    /// (max, log Σ e^(x−max)) of n ≥ 1 contiguous values; logsumexp = max + second.
    /// The sum is pairwise; up to 16 values are one vector whose padding lanes
    /// hold −inf (e^−inf = 0).
    @inlinable @inline(__always)
    public static func logSumExp<T: ElementScalar>(_ x: UnsafePointer<T>, _ n: Int) -> (max: T, logSum: T) {
        if n <= 16 {
            let v = loadPartial(x, n, fill: -.infinity)
            let m = horizontalExtremum(v, isMin: false)
            return (m, T.log(horizontalSum(exp(v - m))))
        }
        let m = extremum(x, n, isMin: false)
        let s: T = pairwiseSum(0, n) { i, w in
            let e = exp((w == 16 ? load(x + i) : loadPartial(x + i, w, fill: 0)) - m)
            return w == 16 ? e : select(laneIndices(), .ge, T(w), then: SIMD16(), else: e)
        }
        return (m, T.log(s))
    }

    /// 0, 1, …, 15.
    @inlinable @inline(__always)
    public static func laneIndices<T: ElementScalar>() -> SIMD16<T> { SIMD16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }

    // MARK: Summation

    /// Pairwise (cascade) summation of n values delivered 16 at a time:
    /// `load(i, w)` returns elements i..<i+w (w ≤ 16) with the other lanes 0.
    /// Blocks of up to 128 elements are summed in two SIMD accumulators (each
    /// lane adds at most 4 values), longer ranges are split in halves at a
    /// multiple of 16, so the rounding error grows like log2(n), not n.
    @inlinable
    public static func pairwiseSum<T: ElementScalar>(_ start: Int, _ n: Int,
                                                    _ load: (Int, Int) -> SIMD16<T>) -> T {
        if n <= 128 {
            var acc0 = SIMD16<T>(), acc1 = SIMD16<T>()
            var i = 0
            while i + 32 <= n {
                acc0 += load(start + i, 16)
                acc1 += load(start + i + 16, 16)
                i += 32
            }
            while i < n {
                let w = Swift.min(16, n - i)
                acc0 += load(start + i, w)
                i += w
            }
            return horizontalSum(acc0 + acc1)
        }
        let half = (n / 2) & ~15
        return pairwiseSum(start, half, load) + pairwiseSum(start + half, n - half, load)
    }

    /// Pairwise sum of `n` contiguous elements.
    @inlinable
    public static func sum<T: ElementScalar>(_ p: UnsafePointer<T>, _ n: Int) -> T {
        pairwiseSum(0, n) { i, w in w == 16 ? load(p + i) : loadPartial(p + i, w, fill: 0) }
    }

    // MARK: exp, expm1, sigmoid, tanh

    /// e^x per lane (see the type's notes for the method and its accuracy).
    @inlinable @inline(__always)
    public static func exp<T: ElementScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        if T.self == Float.self {
            return unsafeBitCast(expFloat(unsafeBitCast(x, to: SIMD16<Float>.self)), to: SIMD16<T>.self)
        }
        if T.self == Double.self {
            return unsafeBitCast(expDouble(unsafeBitCast(x, to: SIMD16<Double>.self)), to: SIMD16<T>.self)
        }
        return lanes(x) { T.exp($0) }
    }

    /// e^x − 1 per lane, accurate in relative terms near 0: a Taylor polynomial
    /// for |x| ≤ ln2/2, e^x − 1 elsewhere (where there is no cancellation).
    @inlinable @inline(__always)
    public static func expm1<T: ElementScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        if T.self == Float.self {
            return unsafeBitCast(expm1Float(unsafeBitCast(x, to: SIMD16<Float>.self)), to: SIMD16<T>.self)
        }
        if T.self == Double.self {
            return unsafeBitCast(expm1Double(unsafeBitCast(x, to: SIMD16<Double>.self)), to: SIMD16<T>.self)
        }
        return lanes(x) { T.expm1($0) }
    }

    /// |x| per lane, with |−0| = +0 (adding +0 turns −0 into +0 and leaves
    /// every other value, NaN included, unchanged).
    @inlinable @inline(__always)
    public static func abs<T: ElementScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        select(x, .lt, 0, then: -x, else: x) + 0
    }

    /// min(max(x, lo), hi) per lane, with −0 made +0 (a NaN stays NaN).
    @inlinable @inline(__always)
    public static func clamp<T: ElementScalar>(_ x: SIMD16<T>, _ lo: T, _ hi: T) -> SIMD16<T> {
        let l = SIMD16<T>(repeating: lo), h = SIMD16<T>(repeating: hi)
        return select(x, .gt, hi, then: h, else: select(x, .lt, lo, then: l, else: x)) + 0
    }

    /// 1/(1+e^−x), stable for any x: with e = e^−|x|, σ = 1/(1+e) for x ≥ 0 and
    /// e/(1+e) for x < 0, so neither branch overflows or cancels.
    @inlinable @inline(__always)
    public static func sigmoid<T: ElementScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        let e = exp(-abs(x))
        let s = 1 / (1 + e)
        return select(x, .lt, 0, then: e * s, else: s)
    }

    /// tanh per lane: with u = expm1(−2|x|), tanh|x| = −u/(u+2), sign restored.
    @inlinable @inline(__always)
    public static func tanh<T: ElementScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        let u = expm1(-2 * abs(x))
        let t = -u / (u + 2)
        return select(x, .lt, 0, then: -t, else: t)
    }

    /// `exp`'s Float path. Public and transparent (always inlined, compiled
    /// in the caller's module) so that DLGKernelsAVX512 runs this one
    /// definition compiled for AVX-512 (its `VectorMath`): a call that is not
    /// inlined would reach the copy compiled for the baseline instruction set.
    @_transparent
    public static func expFloat(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let hiCut: Float = 88.72284      // above: +inf (just over ln(Float.greatestFiniteMagnitude))
        let loCut: Float = -103.97208    // below: 0 (under ln of the least subnormal / 2)
        let xc = x.replacing(with: hiCut, where: x .> hiCut).replacing(with: loCut, where: x .< loCut)
        let magic: Float = 12_582_912    // 1.5·2^23: adding it rounds to an integer held in the low bits
        let t = xc * 1.442_695_04 + magic
        let k = t - magic
        let r = (xc - k * 0.693_359_375) - k * -2.121_944_4e-4
        var p: SIMD16<Float> = SIMD16(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let ki = unsafeBitCast(t, to: SIMD16<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
        let e1 = ki &>> 1
        let e2 = ki &- e1
        let s1 = unsafeBitCast((e1 &+ 127) &<< 23, to: SIMD16<Float>.self)
        let s2 = unsafeBitCast((e2 &+ 127) &<< 23, to: SIMD16<Float>.self)
        return (p * s1 * s2)
            .replacing(with: .infinity, where: x .> hiCut)
            .replacing(with: 0, where: x .< loCut)
    }

    @inlinable @inline(__always)
    static func expDouble(_ x: SIMD16<Double>) -> SIMD16<Double> {
        let hiCut = 709.782_712_893_384        // ln(Double.greatestFiniteMagnitude)
        let loCut = -745.133_219_101_941_2     // ln of the least subnormal
        let xc = x.replacing(with: hiCut, where: x .> hiCut).replacing(with: loCut, where: x .< loCut)
        let magic = 6_755_399_441_055_744.0    // 1.5·2^52
        let t = xc * 1.442_695_040_888_963_4 + magic
        let k = t - magic
        let r = (xc - k * 6.931_471_803_691_238_164_90e-01) - k * 1.908_214_929_270_587_700_02e-10
        // Taylor coefficients 1/n!, n = 13 … 0.
        var p: SIMD16<Double> = SIMD16(repeating: 1.0 / 6_227_020_800)
        p = p * r + 1.0 / 479_001_600
        p = p * r + 1.0 / 39_916_800
        p = p * r + 1.0 / 3_628_800
        p = p * r + 1.0 / 362_880
        p = p * r + 1.0 / 40_320
        p = p * r + 1.0 / 5_040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let ki = unsafeBitCast(t, to: SIMD16<Int64>.self) &- Int64(bitPattern: magic.bitPattern)
        let e1 = ki &>> 1
        let e2 = ki &- e1
        let s1 = unsafeBitCast((e1 &+ 1023) &<< 52, to: SIMD16<Double>.self)
        let s2 = unsafeBitCast((e2 &+ 1023) &<< 52, to: SIMD16<Double>.self)
        return (p * s1 * s2)
            .replacing(with: .infinity, where: x .> hiCut)
            .replacing(with: 0, where: x .< loCut)
    }

    /// `expm1`'s Float path; public and transparent like `expFloat`.
    @_transparent
    public static func expm1Float(_ x: SIMD16<Float>) -> SIMD16<Float> {
        // x·(1 + x/2! + … + x^7/8!): relative truncation error < 1e-9 on |x| ≤ 0.3466.
        var p: SIMD16<Float> = SIMD16(repeating: 1.0 / 40_320)
        p = p * x + 1.0 / 5_040
        p = p * x + 1.0 / 720
        p = p * x + 1.0 / 120
        p = p * x + 1.0 / 24
        p = p * x + 1.0 / 6
        p = p * x + 0.5
        p = p * x + 1
        let small = x * p
        let large = expFloat(x) - 1
        // |x| as `abs` computes it, written on SIMD16<Float> (one compare and a masked move).
        let magnitude = x.replacing(with: -x, where: x .< 0) + 0
        return large.replacing(with: small, where: magnitude .<= 0.346_573_6)
    }

    @inlinable @inline(__always)
    static func expm1Double(_ x: SIMD16<Double>) -> SIMD16<Double> {
        // x·(1 + x/2! + … + x^13/14!): relative truncation error < 1e-17 on |x| ≤ 0.3466.
        var p: SIMD16<Double> = SIMD16(repeating: 1.0 / 87_178_291_200)
        p = p * x + 1.0 / 6_227_020_800
        p = p * x + 1.0 / 479_001_600
        p = p * x + 1.0 / 39_916_800
        p = p * x + 1.0 / 3_628_800
        p = p * x + 1.0 / 362_880
        p = p * x + 1.0 / 40_320
        p = p * x + 1.0 / 5_040
        p = p * x + 1.0 / 720
        p = p * x + 1.0 / 120
        p = p * x + 1.0 / 24
        p = p * x + 1.0 / 6
        p = p * x + 0.5
        p = p * x + 1
        let small = x * p
        let large = expDouble(x) - 1
        return large.replacing(with: small, where: abs(x) .<= 0.346_573_590_279_972_6)
    }

    /// erfc per scalar, in the type's own precision (libm erfcf / erfc).
    @inlinable @inline(__always)
    public static func erfc<T: ElementScalar>(_ x: T) -> T { T.erfc(x) }

    /// erfc per lane: vectorized for Float (`erfcFloat`, within 5e-7 relative of the
    /// exact value wherever the result is a normal number), libm's erfc per lane for
    /// Double, so f64 keeps full precision.
    @inlinable @inline(__always)
    public static func erfc<T: ElementScalar>(_ x: SIMD16<T>) -> SIMD16<T> {
        if T.self == Float.self {
            return unsafeBitCast(erfcFloat(unsafeBitCast(x, to: SIMD16<Float>.self)), to: SIMD16<T>.self)
        }
        return lanes(x) { T.erfc($0) }
    }

    /// erfc(x) and e^(−x²) per lane: for Float both from one evaluation of
    /// `erfcFloat`, which computes e^(−x²) on the way (0 for |x| > 20, where
    /// it underflows anyway); for Double libm's erfc and `exp`. GELU′ needs
    /// both at x/√2 (Φ and the normal density), and the shared e^(−x²)
    /// spares it one exponential per lane.
    @inlinable @inline(__always)
    public static func erfcAndGaussian<T: ElementScalar>(_ x: SIMD16<T>) -> (erfc: SIMD16<T>, gaussian: SIMD16<T>) {
        if T.self == Float.self {
            let (e, g) = erfcFloatParts(unsafeBitCast(x, to: SIMD16<Float>.self))
            return (unsafeBitCast(e, to: SIMD16<T>.self), unsafeBitCast(g, to: SIMD16<T>.self))
        }
        return (lanes(x) { T.erfc($0) }, exp(-(x * x)))
    }

    /// erfc of Float lanes, with a = |x| and erfc(−a) = 2 − erfc(a):
    /// - a < 0.5: erfc(x) = 1 ∓ a·P(a²), P of degree 5 fitted to erf(a)/a (relative
    ///   error of the fit 1.4e-11);
    /// - a ≥ 0.5: erfc(a) = e^(−a²)·R(t), t = 1/(1 + a/2), R of degree 9 fitted to
    ///   erfc(a)·e^(a²) on [0.5, 10.1] (relative error of the fit 1.6e-9). e^(−a²) is
    ///   e^(−h²)·e^(−l·(a + h)) with h = a cut to 12 significant bits and l = a − h,
    ///   so h² is exact and the rounding of a² does not multiply the error by a².
    /// Both fits are least squares in relative terms (weighted by 1/value) at
    /// Chebyshev nodes of the interval, against 30-digit values; evaluated in Float
    /// over [−10, 10.1] the result stays within 4.6e-7 relative of the exact value.
    /// Past a ≈ 10.05 erfc(a) underflows to 0 (and erfc(−a) is 2); NaN stays NaN.
    /// No multiply-add is fused, so AVX-512 and portable builds agree bit for bit.
    @inlinable @inline(__always)
    static func erfcFloat(_ x: SIMD16<Float>) -> SIMD16<Float> { erfcFloatParts(x).erfc }

    /// `erfcFloat` and the e^(−a²) it computes on the way (a = |x| cut at 20).
    @inlinable @inline(__always)
    static func erfcFloatParts(_ x: SIMD16<Float>) -> (erfc: SIMD16<Float>, gaussian: SIMD16<Float>) {
        let negative = x .< 0
        let a = x.replacing(with: -x, where: negative) + 0
        // Near 0: erf(a) = a·P(a²).
        let s = a * a
        var p = SIMD16<Float>(repeating: -7.706_719_334_237_278e-4)
        p = p * s + 5.201_227_962_970_734e-3
        p = p * s + -2.686_333_842_575_550e-2
        p = p * s + 1.128_377_616_405_487e-1
        p = p * s + -3.761_263_787_746_429e-1
        p = p * s + 1.128_379_225_730_896
        let e = a * p
        let near = (1 - e).replacing(with: 1 + e, where: negative)
        // Elsewhere: e^(−a²)·R(t); beyond 20 the result is 0 anyway (and h, l stay finite).
        let ac = a.replacing(with: 20, where: a .> 20)
        let h = unsafeBitCast(unsafeBitCast(ac, to: SIMD16<UInt32>.self) & 0xFFFF_F000, to: SIMD16<Float>.self)
        let l = ac - h
        let g = expFloat(-(h * h)) * expFloat(-(l * (ac + h)))
        let t = 1 / (1 + 0.5 * ac)
        var r = SIMD16<Float>(repeating: -7.466_614_246_368_408e-2)
        r = r * t + 3.522_120_118_141_174_3e-1
        r = r * t + -6.125_760_674_476_624e-1
        r = r * t + 4.079_135_060_310_364e-1
        r = r * t + -1.090_628_132_224_083e-1
        r = r * t + 2.358_120_828_866_958_6e-1
        r = r * t + 2.347_152_233_123_779_3e-1
        r = r * t + 2.836_614_251_136_78e-1
        r = r * t + 2.819_784_283_638_000_5e-1
        r = r * t + 3.776_777_930_397_656_7e-6
        let tail = g * r
        let far = tail.replacing(with: 2 - tail, where: negative)
        return (far.replacing(with: near, where: a .< 0.5), g)
    }
}
