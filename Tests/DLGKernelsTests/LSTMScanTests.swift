import Foundation
import Testing
@testable import DLGKernels

/// `LSTMScan`: the fused LSTM recurrence and its gradient, against plain loops
/// in Double written here (the gate equations spelled out per t, b, j), and the
/// gradient against finite differences of the forward kernel.
@Suite struct LSTMScanTests {
    /// The inputs of one problem, in Double (drawn as Floats, so that the f32
    /// and f64 runs see the same values).
    struct Problem {
        let batch: Int, steps: Int, hidden: Int, reverse: Bool, state: Bool
        let xb: [Double], whh: [Double], h0: [Double], c0: [Double]
        var dtape: [Double]

        init(batch: Int, steps: Int, hidden: Int, reverse: Bool, state: Bool, seed: UInt64) {
            self.batch = batch; self.steps = steps; self.hidden = hidden; self.reverse = reverse; self.state = state
            var rng = RandomStream(seed: seed)
            func draw(_ n: Int, _ scale: Float) -> [Double] { (0 ..< n).map { _ in Double(rng.uniform(-scale, scale)) } }
            // Pre-activations up to ±2 and weights ~1/√H: the gates neither saturate nor stay linear.
            xb = draw(batch * steps * 4 * hidden, 2)
            whh = draw(4 * hidden * hidden, 2 / Float(hidden).squareRoot())
            h0 = state ? draw(batch * hidden, 1) : []
            c0 = state ? draw(batch * hidden, 1) : []
            dtape = draw(batch * steps * 6 * hidden, 1)
        }

        var dpreRows: Int { steps + (state ? 1 : 0) }

        /// dtape's h parts [B, T, H]: the gradient operand of `dhOnly`.
        var dh: [Double] {
            let H = hidden
            return (0 ..< batch * steps).flatMap { r in dtape[(r * 6 * H) ..< (r * 6 * H + H)] }
        }

        /// The problem with dtape's c parts zero, as when h alone is an output.
        func zeroingC() -> Problem {
            var p = self
            for r in 0 ..< batch * steps { for j in 0 ..< hidden { p.dtape[r * 6 * hidden + hidden + j] = 0 } }
            return p
        }
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// The tape [B, T, 6H], step by step in the processing order.
    static func referenceForward(_ p: Problem) -> [Double] {
        let (B, T, H) = (p.batch, p.steps, p.hidden)
        var tape = [Double](repeating: .nan, count: B * T * 6 * H)
        for b in 0 ..< B {
            var h = p.state ? Array(p.h0[b * H ..< (b + 1) * H]) : [Double](repeating: 0, count: H)
            var c = p.state ? Array(p.c0[b * H ..< (b + 1) * H]) : [Double](repeating: 0, count: H)
            for s in 0 ..< T {
                let t = p.reverse ? T - 1 - s : s
                var hNew = h, cNew = c
                for j in 0 ..< H {
                    var a = [Double](repeating: 0, count: 4)
                    for q in 0 ..< 4 {
                        var sum = p.xb[(b * T + t) * 4 * H + q * H + j]
                        for k in 0 ..< H { sum += h[k] * p.whh[(q * H + j) * H + k] }
                        a[q] = sum
                    }
                    let i = sigmoid(a[0]), f = sigmoid(a[1]), g = tanh(a[2]), o = sigmoid(a[3])
                    cNew[j] = f * c[j] + i * g
                    hNew[j] = o * tanh(cNew[j])
                    let row = (b * T + t) * 6 * H
                    tape[row + j] = hNew[j]
                    tape[row + H + j] = cNew[j]
                    tape[row + 2 * H + j] = i
                    tape[row + 3 * H + j] = f
                    tape[row + 4 * H + j] = g
                    tape[row + 5 * H + j] = o
                }
                h = hNew
                c = cNew
            }
        }
        return tape
    }

    /// dpre [B, T(+1), 4H] from the reference tape, in the reverse processing order.
    static func referenceBackward(_ p: Problem, tape: [Double]) -> [Double] {
        let (B, T, H) = (p.batch, p.steps, p.hidden), R = p.dpreRows
        var dpre = [Double](repeating: .nan, count: B * R * 4 * H)
        for b in 0 ..< B {
            var carry = [Double](repeating: 0, count: H)
            var next: [Double]? = nil
            for s in stride(from: T - 1, through: 0, by: -1) {
                let t = p.reverse ? T - 1 - s : s
                let tPrev = p.reverse ? t + 1 : t - 1
                let row = (b * T + t) * 6 * H
                var pre = [Double](repeating: 0, count: 4 * H)
                for j in 0 ..< H {
                    var dh = p.dtape[row + j]
                    if let next { for r in 0 ..< 4 * H { dh += next[r] * p.whh[r * H + j] } }
                    let c = tape[row + H + j]
                    let i = tape[row + 2 * H + j], f = tape[row + 3 * H + j], g = tape[row + 4 * H + j], o = tape[row + 5 * H + j]
                    let cPrev = s == 0 ? (p.state ? p.c0[b * H + j] : 0) : tape[(b * T + tPrev) * 6 * H + H + j]
                    let tc = tanh(c)
                    let dc = p.dtape[row + H + j] + carry[j] + dh * o * (1 - tc * tc)
                    let dO = dh * tc, dI = dc * g, dG = dc * i, dF = dc * cPrev
                    carry[j] = dc * f
                    pre[j] = dI * i * (1 - i)
                    pre[H + j] = dF * f * (1 - f)
                    pre[2 * H + j] = dG * (1 - g * g)
                    pre[3 * H + j] = dO * o * (1 - o)
                }
                for r in 0 ..< 4 * H { dpre[(b * R + t) * 4 * H + r] = pre[r] }
                next = pre
            }
            if p.state {
                let base = (b * R + T) * 4 * H
                for j in 0 ..< H {
                    var dh0 = 0.0
                    if let next { for r in 0 ..< 4 * H { dh0 += next[r] * p.whh[r * H + j] } }
                    dpre[base + j] = dh0
                    dpre[base + H + j] = carry[j]
                    dpre[base + 2 * H + j] = 0
                    dpre[base + 3 * H + j] = 0
                }
            }
        }
        return dpre
    }

    /// Runs the kernels in `S` (on the path `fast` names): the tape, then dpre
    /// (`dhOnly`: from dtape's h parts alone, [B, T, H]).
    static func run<S: KernelScalar>(_ p: Problem, _: S.Type, threads: Int, fast: Bool,
                                     dhOnly: Bool = false) -> (tape: [S], dpre: [S]) {
        let (B, T, H) = (p.batch, p.steps, p.hidden)
        let xb = p.xb.map { S($0) }, whh = p.whh.map { S($0) }, h0 = p.h0.map { S($0) }, c0 = p.c0.map { S($0) }
        let dtape = (dhOnly ? p.dh : p.dtape).map { S($0) }
        // Outputs and workspace start as NaN: every element must be written, no workspace element read before written.
        var tape = [S](repeating: .nan, count: B * T * 6 * H)
        var dpre = [S](repeating: .nan, count: B * p.dpreRows * 4 * H)
        var wf = [S](repeating: .nan, count: LSTMScan.forwardWorkspace(S.self, batch: B, hidden: H, threads: threads))
        var wb = [S](repeating: .nan, count: LSTMScan.backwardWorkspace(S.self, batch: B, hidden: H, threads: threads))
        h0.withUnsafeBufferPointer { h0 in
            c0.withUnsafeBufferPointer { c0 in
                let ph0 = p.state ? h0.baseAddress : nil, pc0 = p.state ? c0.baseAddress : nil
                LSTMScan.forward(xb: xb, whh: whh, h0: ph0, c0: pc0, tape: &tape, batch: B, steps: T, hidden: H,
                                 reverse: p.reverse, workspace: &wf, threads: threads, fast: fast)
                LSTMScan.backward(tape: tape, whh: whh, h0: ph0, c0: pc0, dtape: dtape, dhOnly: dhOnly, dpre: &dpre, batch: B,
                                  steps: T, hidden: H, reverse: p.reverse, workspace: &wb, threads: threads, fast: fast)
            }
        }
        return (tape, dpre)
    }

    /// The largest |x − ref| / (1 + |ref|) (infinite for a NaN).
    static func worst<S: BinaryFloatingPoint>(_ x: [S], _ ref: [Double]) -> Double {
        var e = 0.0
        for (a, r) in zip(x, ref) {
            let d = abs(Double(a) - r) / (1 + abs(r))
            if !(d <= e) { e = d.isNaN ? .infinity : d }
        }
        return x.count == ref.count ? e : .infinity
    }

    static let shapes: [(batch: Int, steps: Int, hidden: Int)] = [(5, 1, 12), (5, 7, 12), (5, 1, 40), (5, 7, 40), (3, 4, 1), (9, 3, 32), (37, 2, 20)]

    @Test(arguments: [false, true], [1, 2])
    func doubleMatchesReference(reverse: Bool, threads: Int) {
        for (n, shape) in Self.shapes.enumerated() {
            for state in [false, true] {
                let p = Problem(batch: shape.batch, steps: shape.steps, hidden: shape.hidden, reverse: reverse, state: state,
                                seed: UInt64(100 + n))
                let tape = Self.referenceForward(p)
                let dpre = Self.referenceBackward(p, tape: tape)
                let got = Self.run(p, Double.self, threads: threads, fast: false)
                #expect(Self.worst(got.tape, tape) < 1e-12, "tape \(shape) state \(state)")
                #expect(Self.worst(got.dpre, dpre) < 1e-12, "dpre \(shape) state \(state)")
            }
        }
    }

    /// The portable path in f32 (also what `DLG_KERNELS=baseline` runs). The
    /// products sum H or 4H terms of size ≲ 1 with float rounding (≈ 6·10⁻⁸
    /// each), the transcendental functions add a few ulps, and the recurrence
    /// carries the error over ≤ 7 steps of contracting maps: 1e-5 relative to
    /// 1 + |ref| leaves a wide margin over the ~10⁻⁶ seen.
    @Test(arguments: [false, true], [1, 2])
    func portableFloatMatchesReference(reverse: Bool, threads: Int) {
        for (n, shape) in Self.shapes.enumerated() {
            for state in [false, true] {
                let p = Problem(batch: shape.batch, steps: shape.steps, hidden: shape.hidden, reverse: reverse, state: state,
                                seed: UInt64(200 + n))
                let tape = Self.referenceForward(p)
                let dpre = Self.referenceBackward(p, tape: tape)
                let got = Self.run(p, Float.self, threads: threads, fast: false)
                #expect(Self.worst(got.tape, tape) < 1e-5, "tape \(shape) state \(state)")
                #expect(Self.worst(got.dpre, dpre) < 1e-5, "dpre \(shape) state \(state)")
            }
        }
    }

    /// The AVX-512 f32 path (where the CPU has it; the portable path otherwise,
    /// which the same bound holds for): the products are fused multiply-add
    /// chains of H or 4H f32 terms (relative rounding ≲ k·6·10⁻⁸ of Σ|terms|,
    /// Σ|terms| ≲ 2 here), SIMDMath's f32 sigmoid/tanh are within a few ulps,
    /// and the cell is contracting (|f|, |o| < 1), so over ≤ 7 steps the error
    /// stays near 10⁻⁶ of 1 + |ref|; 1e-5 is the bound. H = 12, 37 (not
    /// multiples of 8 or 32: partial panels), 40, 200 (several panels, so that
    /// two threads split a step).
    @Test(arguments: [false, true], [1, 2])
    func fastFloatMatchesReference(reverse: Bool, threads: Int) {
        let shapes = Self.shapes + [(5, 3, 37), (9, 3, 200), (32, 2, 64)]
        for (n, shape) in shapes.enumerated() {
            for state in [false, true] {
                let p = Problem(batch: shape.batch, steps: shape.steps, hidden: shape.hidden, reverse: reverse, state: state,
                                seed: UInt64(300 + n))
                let tape = Self.referenceForward(p)
                let dpre = Self.referenceBackward(p, tape: tape)
                let got = Self.run(p, Float.self, threads: threads, fast: true)
                #expect(Self.worst(got.tape, tape) < 1e-5, "tape \(shape) state \(state)")
                #expect(Self.worst(got.dpre, dpre) < 1e-5, "dpre \(shape) state \(state)")
            }
        }
    }

    /// The gradient from h's alone ([B, T, H], what lstm_scan_grad reads once
    /// algebraic simplification has removed a slice_grad): the same bits as from
    /// the whole dtape with its c parts zero, on both paths and in f32 and f64,
    /// and that against the reference.
    @Test(arguments: [false, true], [false, true])
    func gradientOfHAloneIsTheGradientWithZeroC(fast: Bool, reverse: Bool) {
        for (n, shape) in (Self.shapes + [(9, 3, 200)]).enumerated() {
            for state in [false, true] {
                let p = Problem(batch: shape.batch, steps: shape.steps, hidden: shape.hidden, reverse: reverse, state: state,
                                seed: UInt64(500 + n)).zeroingC()
                let dpre = Self.referenceBackward(p, tape: Self.referenceForward(p))
                let whole = Self.run(p, Float.self, threads: 2, fast: fast)
                let alone = Self.run(p, Float.self, threads: 2, fast: fast, dhOnly: true)
                #expect(alone.dpre == whole.dpre, "f32 \(shape) state \(state)")
                #expect(Self.worst(alone.dpre, dpre) < 1e-5, "f32 \(shape) state \(state)")
                let wholeD = Self.run(p, Double.self, threads: 2, fast: false)
                let aloneD = Self.run(p, Double.self, threads: 2, fast: false, dhOnly: true)
                #expect(aloneD.dpre == wholeD.dpre, "f64 \(shape) state \(state)")
                #expect(Self.worst(aloneD.dpre, dpre) < 1e-12, "f64 \(shape) state \(state)")
            }
        }
    }

    /// On the AVX-512 path each element is computed the same way whatever the
    /// thread count (a step is split by hidden units, never along a product's
    /// inner dimension): 1 and 2 threads give identical bits. (The portable
    /// path's `GemmPlan` may split the inner dimension and add partial sums, so
    /// it is only within rounding of itself across thread counts.)
    @Test func fastPathIsIndependentOfThreadCount() {
        for state in [false, true] {
            let p = Problem(batch: 9, steps: 4, hidden: 200, reverse: state, state: state, seed: 400)
            let one = Self.run(p, Float.self, threads: 1, fast: true), two = Self.run(p, Float.self, threads: 2, fast: true)
            let sameTape = one.tape == two.tape, sameDpre = one.dpre == two.dpre
            #expect(sameTape, "state \(state)")
            #expect(sameDpre, "state \(state)")
        }
    }

    /// backward against central differences of forward: loss = Σ wH·h + Σ wC·c
    /// over the tape (wH, wC random, the gate parts of dtape random too — they
    /// must be ignored), differentiated w.r.t. every element of xb, h0 and c0.
    @Test(arguments: [false, true], [false, true])
    func backwardMatchesFiniteDifferences(reverse: Bool, state: Bool) {
        let (B, T, H) = (2, 3, 3)
        let p = Problem(batch: B, steps: T, hidden: H, reverse: reverse, state: state, seed: 7)
        func loss(xb: [Double], h0: [Double], c0: [Double]) -> Double {
            var tape = [Double](repeating: 0, count: B * T * 6 * H)
            var w = [Double](repeating: 0, count: LSTMScan.forwardWorkspace(Double.self, batch: B, hidden: H, threads: 1))
            h0.withUnsafeBufferPointer { h0 in
                c0.withUnsafeBufferPointer { c0 in
                    LSTMScan.forward(xb: xb, whh: p.whh, h0: state ? h0.baseAddress : nil, c0: state ? c0.baseAddress : nil,
                                     tape: &tape, batch: B, steps: T, hidden: H, reverse: reverse, workspace: &w, threads: 1)
                }
            }
            var l = 0.0
            for r in 0 ..< B * T {
                for j in 0 ..< 2 * H { l += p.dtape[r * 6 * H + j] * tape[r * 6 * H + j] }
            }
            return l
        }
        let dpre = Self.run(p, Double.self, threads: 1, fast: false).dpre
        let R = p.dpreRows, eps = 1e-5
        func central(_ f: (Double) -> Double) -> Double { (f(eps) - f(-eps)) / (2 * eps) }
        for b in 0 ..< B {
            for t in 0 ..< T {
                for r in 0 ..< 4 * H {
                    let index = (b * T + t) * 4 * H + r
                    let numeric = central { d in
                        var x = p.xb
                        x[index] += d
                        return loss(xb: x, h0: p.h0, c0: p.c0)
                    }
                    #expect(abs(numeric - dpre[(b * R + t) * 4 * H + r]) < 1e-7, "xb b \(b) t \(t) r \(r)")
                }
            }
            if state {
                for j in 0 ..< H {
                    let dh0 = central { d in
                        var h = p.h0
                        h[b * H + j] += d
                        return loss(xb: p.xb, h0: h, c0: p.c0)
                    }
                    let dc0 = central { d in
                        var c = p.c0
                        c[b * H + j] += d
                        return loss(xb: p.xb, h0: p.h0, c0: c)
                    }
                    let row = (b * R + T) * 4 * H
                    #expect(abs(dh0 - dpre[row + j]) < 1e-7, "dh0 b \(b) j \(j)")
                    #expect(abs(dc0 - dpre[row + H + j]) < 1e-7, "dc0 b \(b) j \(j)")
                    #expect(dpre[row + 2 * H + j] == 0 && dpre[row + 3 * H + j] == 0)
                }
            }
        }
    }

    /// Zero steps write nothing but dh0 = dc0 = 0; zero batch or hidden does nothing.
    @Test func emptySizes() {
        var dpre = [Double](repeating: .nan, count: 2 * 4 * 3)
        var w = [Double](repeating: 0, count: LSTMScan.backwardWorkspace(Double.self, batch: 2, hidden: 3, threads: 1))
        let h0 = [Double](repeating: 1, count: 6), whh = [Double](repeating: 1, count: 36)
        LSTMScan.backward(tape: [], whh: whh, h0: h0, c0: h0, dtape: [], dpre: &dpre, batch: 2, steps: 0, hidden: 3,
                          reverse: false, workspace: &w, threads: 1)
        #expect(dpre.allSatisfy { $0 == 0 })
        var tape = [Double]()
        LSTMScan.forward(xb: [], whh: [], h0: nil, c0: nil, tape: &tape, batch: 0, steps: 4, hidden: 3, reverse: false,
                         workspace: &w, threads: 2)
    }
}
