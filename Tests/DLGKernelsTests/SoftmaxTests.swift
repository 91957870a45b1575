import Testing
@testable import DLGKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax and friends from their definitions, in Double, on [outer, n, inner].
enum SoftmaxReference {
    static func at(_ o: Int, _ i: Int, _ j: Int, _ n: Int, _ inner: Int) -> Int { (o * n + i) * inner + j }

    static func softmax(_ x: [Double], _ outer: Int, _ n: Int, _ inner: Int, log logOutput: Bool) -> [Double] {
        var y = x
        for o in 0..<outer {
            for j in 0..<inner {
                var m = -Double.infinity
                for i in 0..<n { m = Swift.max(m, x[at(o, i, j, n, inner)]) }
                var s = 0.0
                for i in 0..<n { s += exp(x[at(o, i, j, n, inner)] - m) }
                for i in 0..<n {
                    let k = at(o, i, j, n, inner)
                    y[k] = logOutput ? x[k] - m - log(s) : exp(x[k] - m) / s
                }
            }
        }
        return y
    }

    /// softmax: dx_i = y_i·(dy_i − Σ dy·y); log-softmax: dx_i = dy_i − e^(y_i)·Σ dy.
    static func backward(_ y: [Double], _ dy: [Double], _ outer: Int, _ n: Int, _ inner: Int,
                         log logOutput: Bool) -> [Double] {
        var dx = y
        for o in 0..<outer {
            for j in 0..<inner {
                var s = 0.0
                for i in 0..<n {
                    let k = at(o, i, j, n, inner)
                    s += logOutput ? dy[k] : dy[k] * y[k]
                }
                for i in 0..<n {
                    let k = at(o, i, j, n, inner)
                    dx[k] = logOutput ? dy[k] - exp(y[k]) * s : y[k] * (dy[k] - s)
                }
            }
        }
        return dx
    }

    static func logSumExp(_ z: ArraySlice<Double>) -> Double {
        let m = z.max()!
        return m + log(z.reduce(0) { $0 + exp($1 - m) })
    }
}

@Suite struct SoftmaxTests {
    static let geometries: [(Int, Int, Int)] = [
        (1, 3, 1), (4, 7, 1), (3, 17, 1), (2, 33, 1), (1, 1, 1), (2, 200, 1),
        (2, 5, 3), (3, 4, 17), (1, 6, 33), (2, 1, 5),
    ]

    func checkForward<T: KernelScalar>(_ outer: Int, _ n: Int, _ inner: Int, log isLog: Bool, _: T.Type,
                                       sourceLocation: SourceLocation = #_sourceLocation) {
        let count = outer * n * inner
        let x = EWSupport.rounded(EWSupport.values(count, -5, 5, seed: UInt64(count)), T.self)
        let got = EWSupport.run(x, T.self, outCount: count) { xp, yp in
            if isLog { logSoftmax(xp, yp, outer: outer, n: n, inner: inner) } else { softmax(xp, yp, outer: outer, n: n, inner: inner) }
        }
        // Log-softmax values near 0 (a dominant class) come from subtracting
        // numbers of size |x − max|, so the error is absolute, not relative:
        // allow rtol·(|ref| + 10) (|x| ≤ 5 here, and log n ≤ 5.3).
        let want = SoftmaxReference.softmax(x, outer, n, inner, log: isLog)
        EWSupport.expectClose(got, want, rtol: EWSupport.rtol(T.self), atol: isLog ? 10 * EWSupport.rtol(T.self) : 0,
                              "\(isLog ? "logSoftmax" : "softmax") [\(outer), \(n), \(inner)] \(T.dtypeName)",
                              sourceLocation: sourceLocation)
    }

    @Test func forwardMatchesDefinition() {
        for (o, n, i) in Self.geometries {
            for isLog in [false, true] {
                checkForward(o, n, i, log: isLog, Float.self)
                checkForward(o, n, i, log: isLog, Double.self)
            }
        }
    }

    /// softmax([1, 2, 3]) = e^k / (e + e² + e³): 0.09003057, 0.24472847, 0.66524096.
    @Test func handCheckedSoftmax() {
        let y = EWSupport.run([1, 2, 3], Float.self, outCount: 3) { xp, yp in softmax(xp, yp, outer: 1, n: 3, inner: 1) }
        EWSupport.expectClose(y, [0.09003057, 0.24472847, 0.66524096], rtol: 1e-6, "softmax([1, 2, 3])")
    }

    /// Large logits do not overflow: softmax([1000, 1001]) = softmax([0, 1]), finite.
    @Test func largeLogitsAreStable() {
        for isLog in [false, true] {
            func run(_ x: [Double]) -> [Double] {
                EWSupport.run(x, Float.self, outCount: 2) { xp, yp in
                    if isLog { logSoftmax(xp, yp, outer: 1, n: 2, inner: 1) } else { softmax(xp, yp, outer: 1, n: 2, inner: 1) }
                }
            }
            let big = run([1000, 1001]), small = run([0, 1])
            #expect(big.allSatisfy { $0.isFinite })
            EWSupport.expectClose(big, small, rtol: 1e-6, "\(isLog ? "log" : "")softmax of [1000, 1001]")
            // Strided axis (inner = 2), the same rows laid out as columns.
            let col = EWSupport.run([1000, -1000, 1001, -999], Float.self, outCount: 4) { xp, yp in
                if isLog { logSoftmax(xp, yp, outer: 1, n: 2, inner: 2) } else { softmax(xp, yp, outer: 1, n: 2, inner: 2) }
            }
            EWSupport.expectClose([col[0], col[2]], small, rtol: 1e-6, "strided, large positive")
            EWSupport.expectClose([col[1], col[3]], small, rtol: 1e-6, "strided, large negative")
            // A spread of 200 within one softmax: e^200 overflows Float, e^−200
            // underflows it; the shifted form gives [0, 1] (log: [−200, 0]).
            let wide: [Double] = isLog ? [-200, 0] : [0, 1]
            let row = EWSupport.run([0, 200], Float.self, outCount: 2) { xp, yp in
                if isLog { logSoftmax(xp, yp, outer: 1, n: 2, inner: 1) } else { softmax(xp, yp, outer: 1, n: 2, inner: 1) }
            }
            #expect(row == wide)
            let cols = EWSupport.run([0, 200, 200, 0], Float.self, outCount: 4) { xp, yp in
                if isLog { logSoftmax(xp, yp, outer: 1, n: 2, inner: 2) } else { softmax(xp, yp, outer: 1, n: 2, inner: 2) }
            }
            #expect([cols[0], cols[2]] == wide && [cols[3], cols[1]] == wide)
        }
    }

    @Test func inPlaceMatchesOutOfPlace() {
        for (o, n, i) in [(3, 17, 1), (2, 5, 3)] {
            let x = EWSupport.values(o * n * i, -3, 3, seed: 4).map { Float($0) }
            for isLog in [false, true] {
                var a = x, b = x
                a.withUnsafeMutableBufferPointer { p in
                    if isLog { logSoftmax(UnsafePointer(p.baseAddress!), p.baseAddress!, outer: o, n: n, inner: i) } else { softmax(UnsafePointer(p.baseAddress!), p.baseAddress!, outer: o, n: n, inner: i) }
                }
                x.withUnsafeBufferPointer { xp in
                    b.withUnsafeMutableBufferPointer { bp in
                        if isLog { logSoftmax(xp.baseAddress!, bp.baseAddress!, outer: o, n: n, inner: i) } else { softmax(xp.baseAddress!, bp.baseAddress!, outer: o, n: n, inner: i) }
                    }
                }
                #expect(a == b)
            }
        }
    }

    /// Backward against the formulas; tolerance relative to |ref| + max|dy|·|y|
    /// scale, because dy − Σdy·y cancels (the exact gradient of a softmax sums to 0).
    func checkBackward<T: KernelScalar>(_ outer: Int, _ n: Int, _ inner: Int, log isLog: Bool, _: T.Type,
                                        sourceLocation: SourceLocation = #_sourceLocation) {
        let count = outer * n * inner
        let x = EWSupport.values(count, -3, 3, seed: 31)
        let yRef = SoftmaxReference.softmax(x, outer, n, inner, log: isLog)
        let y = EWSupport.rounded(yRef, T.self)
        let dy = EWSupport.rounded(EWSupport.values(count, -1, 1, seed: 32), T.self)
        let got = EWSupport.run2(y, dy, T.self, outCount: count) { yp, gp, dxp in
            if isLog {
                logSoftmaxBackward(y: yp, dy: gp, dx: dxp, outer: outer, n: n, inner: inner)
            } else {
                softmaxBackward(y: yp, dy: gp, dx: dxp, outer: outer, n: n, inner: inner)
            }
        }
        let want = SoftmaxReference.backward(y, dy, outer, n, inner, log: isLog)
        EWSupport.expectClose(got, want, rtol: EWSupport.rtol(T.self), atol: 4 * EWSupport.rtol(T.self),
                              "backward [\(outer), \(n), \(inner)] \(T.dtypeName)", sourceLocation: sourceLocation)
    }

    @Test func backwardMatchesFormula() {
        for (o, n, i) in Self.geometries {
            for isLog in [false, true] {
                checkBackward(o, n, i, log: isLog, Float.self)
                checkBackward(o, n, i, log: isLog, Double.self)
            }
        }
    }

    /// L(x) = Σ w·softmax(x) (or log-softmax); the backward kernel's gradient
    /// against central differences in Double, on a strided and a contiguous axis.
    @Test func backwardMatchesFiniteDifferences() {
        for (o, n, i) in [(2, 5, 1), (1, 4, 3)] {
            for isLog in [false, true] {
                let count = o * n * i
                let x = EWSupport.values(count, -2, 2, seed: 41)
                let w = EWSupport.values(count, -1, 1, seed: 42)
                func forward(_ x: [Double]) -> [Double] {
                    EWSupport.run(x, Double.self, outCount: count) { xp, yp in
                        if isLog { logSoftmax(xp, yp, outer: o, n: n, inner: i) } else { softmax(xp, yp, outer: o, n: n, inner: i) }
                    }
                }
                func loss(_ x: [Double]) -> Double { zip(forward(x), w).reduce(0) { $0 + $1.0 * $1.1 } }
                let grad = EWSupport.run2(forward(x), w, Double.self, outCount: count) { yp, wp, gp in
                    if isLog {
                        logSoftmaxBackward(y: yp, dy: wp, dx: gp, outer: o, n: n, inner: i)
                    } else {
                        softmaxBackward(y: yp, dy: wp, dx: gp, outer: o, n: n, inner: i)
                    }
                }
                let h = 1e-6
                for k in 0..<count {
                    var xp = x, xm = x
                    xp[k] += h
                    xm[k] -= h
                    let fd = (loss(xp) - loss(xm)) / (2 * h)
                    #expect(Swift.abs(fd - grad[k]) <= 1e-7 * (Swift.abs(fd) + 1), "log=\(isLog) [\(k)]: \(grad[k]) vs \(fd)")
                }
            }
        }
    }

    // MARK: Cross-entropy

    func sparseCE<T: KernelScalar>(_ z: [Double], _ labels: [Int32], classes: Int, _: T.Type,
                                   threads: Int = 1) throws(LabelError) -> [Double] {
        let rows = labels.count
        var err: LabelError? = nil
        let loss = EWSupport.run(z, T.self, outCount: rows) { zp, lp in
            labels.withUnsafeBufferPointer { lb in
                do throws(LabelError) {
                    try softmaxCrossEntropy(logits: zp, labels: lb.baseAddress!, loss: lp, rows: rows, classes: classes,
                                            threads: threads)
                } catch { err = error }
            }
        }
        if let err { throw err }
        return loss
    }

    func sparseCEBackward<T: KernelScalar>(_ z: [Double], _ labels: [Int32], _ dloss: [Double], classes: Int,
                                           _: T.Type, threads: Int = 1) throws(LabelError) -> [Double] {
        var err: LabelError? = nil
        let dz = EWSupport.run2(z, dloss, T.self, outCount: z.count) { zp, gp, dzp in
            labels.withUnsafeBufferPointer { lb in
                do throws(LabelError) {
                    try softmaxCrossEntropyBackward(logits: zp, labels: lb.baseAddress!, dloss: gp, dlogits: dzp,
                                                    rows: labels.count, classes: classes, threads: threads)
                } catch { err = error }
            }
        }
        if let err { throw err }
        return dz
    }

    /// Logits [2, 1, 0.1], label 0: loss = log(e² + e + e^0.1) − 2 = 0.41703;
    /// softmax = [0.65900, 0.24243, 0.09857], so dz = [−0.34100, 0.24243, 0.09857].
    @Test func handCheckedCrossEntropy() throws {
        let loss = try sparseCE([2, 1, 0.1], [0], classes: 3, Float.self)
        #expect(Swift.abs(loss[0] - 0.41703) < 1e-5)
        let dz = try sparseCEBackward([2, 1, 0.1], [0], [1], classes: 3, Float.self)
        EWSupport.expectClose(dz, [0.65900114 - 1, 0.24243297, 0.09856589], rtol: 1e-5, "dz")
        // Dense with a one-hot target is the same loss and gradient.
        let dense = EWSupport.run2([2, 1, 0.1], [1, 0, 0], Float.self, outCount: 1) { zp, tp, lp in
            softmaxCrossEntropy(logits: zp, targets: tp, loss: lp, rows: 1, classes: 3)
        }
        #expect(Swift.abs(dense[0] - 0.41703) < 1e-5)
    }

    func checkCE<T: KernelScalar>(rows: Int, classes: Int, _: T.Type, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let z = EWSupport.rounded(EWSupport.values(rows * classes, -4, 4, seed: UInt64(classes)), T.self)
        var rng = RandomStream(seed: UInt64(rows))
        let labels = (0..<rows).map { _ in Int32(rng.below(classes)) }
        let dloss = EWSupport.rounded(EWSupport.values(rows, 0.5, 2, seed: 3), T.self)
        // Targets: random distributions (rows sum to 1) with some exact zeros.
        var t = EWSupport.values(rows * classes, -0.5, 1, seed: 4).map { Swift.max($0, 0) }
        for r in 0..<rows {
            t[r * classes + Int(labels[r])] += 0.5
            let s = t[(r * classes)..<(r * classes + classes)].reduce(0, +)
            for c in 0..<classes { t[r * classes + c] /= s }
        }
        t = EWSupport.rounded(t, T.self)
        let rtol = EWSupport.rtol(T.self)

        let loss = try sparseCE(z, labels, classes: classes, T.self)
        let dz = try sparseCEBackward(z, labels, dloss, classes: classes, T.self)
        let dLoss = EWSupport.run2(z, t, T.self, outCount: rows) { zp, tp, lp in
            softmaxCrossEntropy(logits: zp, targets: tp, loss: lp, rows: rows, classes: classes)
        }
        let dDz = EWSupport.run3(z, t, dloss, T.self, outCount: rows * classes) { zp, tp, gp, dzp in
            softmaxCrossEntropyBackward(logits: zp, targets: tp, dloss: gp, dlogits: dzp, rows: rows, classes: classes)
        }
        for r in 0..<rows {
            let row = z[(r * classes)..<(r * classes + classes)]
            let lse = SoftmaxReference.logSumExp(row)
            let l = Int(labels[r])
            // The loss is a difference of O(|z|) terms: tolerance rtol·(|ref| + 10).
            let want = lse - z[r * classes + l]
            #expect(Swift.abs(loss[r] - want) <= rtol * (Swift.abs(want) + 10), sourceLocation: sourceLocation)
            var dwant = 0.0
            for c in 0..<classes {
                let k = r * classes + c
                dwant -= t[k] * (z[k] - lse)
                let p = exp(z[k] - lse)
                let g = (p - (c == l ? 1 : 0)) * dloss[r]
                #expect(Swift.abs(dz[k] - g) <= rtol * (Swift.abs(g) + dloss[r]),
                        "sparse dz [\(r), \(c)]: \(dz[k]) vs \(g)", sourceLocation: sourceLocation)
                let gd = (p - t[k]) * dloss[r]
                #expect(Swift.abs(dDz[k] - gd) <= rtol * (Swift.abs(gd) + dloss[r]),
                        "dense dz [\(r), \(c)]: \(dDz[k]) vs \(gd)", sourceLocation: sourceLocation)
            }
            #expect(Swift.abs(dLoss[r] - dwant) <= rtol * (Swift.abs(dwant) + 10),
                    "dense loss [\(r)]: \(dLoss[r]) vs \(dwant)", sourceLocation: sourceLocation)
        }
    }

    @Test func crossEntropyMatchesDefinition() throws {
        for (rows, classes) in [(1, 1), (3, 2), (5, 10), (4, 17), (2, 33), (2, 130)] {
            try checkCE(rows: rows, classes: classes, Float.self)
            try checkCE(rows: rows, classes: classes, Double.self)
        }
    }

    /// ∂loss/∂z by central differences in Double, for both forms (dense with
    /// targets that do not sum to 1, where the gradient has the Σt factor).
    @Test func crossEntropyBackwardMatchesFiniteDifferences() throws {
        let rows = 2, classes = 5
        let z = EWSupport.values(rows * classes, -2, 2, seed: 51)
        let labels: [Int32] = [3, 0]
        let t = EWSupport.values(rows * classes, 0, 1, seed: 52)
        let w = [0.7, -1.2]
        func lossSparse(_ z: [Double]) throws -> Double {
            zip(try sparseCE(z, labels, classes: classes, Double.self), w).reduce(0) { $0 + $1.0 * $1.1 }
        }
        func lossDense(_ z: [Double]) -> Double {
            let l = EWSupport.run2(z, t, Double.self, outCount: rows) { zp, tp, lp in
                softmaxCrossEntropy(logits: zp, targets: tp, loss: lp, rows: rows, classes: classes)
            }
            return zip(l, w).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let gs = try sparseCEBackward(z, labels, w, classes: classes, Double.self)
        let gd = EWSupport.run3(z, t, w, Double.self, outCount: rows * classes) { zp, tp, wp, gp in
            softmaxCrossEntropyBackward(logits: zp, targets: tp, dloss: wp, dlogits: gp, rows: rows, classes: classes)
        }
        let h = 1e-6
        for k in 0..<(rows * classes) {
            var zp = z, zm = z
            zp[k] += h
            zm[k] -= h
            let fs = (try lossSparse(zp) - lossSparse(zm)) / (2 * h)
            let fdd = (lossDense(zp) - lossDense(zm)) / (2 * h)
            #expect(Swift.abs(fs - gs[k]) <= 1e-7 * (Swift.abs(fs) + 1), "sparse [\(k)]")
            #expect(Swift.abs(fdd - gd[k]) <= 1e-7 * (Swift.abs(fdd) + 1), "dense [\(k)]")
        }
    }

    /// A label outside 0..<C is reported with its row, value and C; the other
    /// rows are still computed and nothing traps.
    @Test func outOfRangeLabelIsAnErrorValue() throws {
        let z: [Double] = [2, 1, 0.1, 0, 0, 0, 1, 2, 3]
        let good = try sparseCE(z, [0, 1, 2], classes: 3, Float.self)
        do {
            _ = try sparseCE(z, [0, 3, -1], classes: 3, Float.self)
            Issue.record("expected a LabelError")
        } catch {
            #expect(error == LabelError(row: 1, label: 3, classes: 3))
            #expect(error.description == "label 3 in row 1 is out of range 0..<3")
        }
        var loss = [Float](repeating: 0, count: 3)
        let zf = z.map { Float($0) }
        let labels: [Int32] = [0, 7, 2]
        var caught: LabelError? = nil
        zf.withUnsafeBufferPointer { zp in
            labels.withUnsafeBufferPointer { lp in
                loss.withUnsafeMutableBufferPointer { op in
                    do throws(LabelError) {
                        try softmaxCrossEntropy(logits: zp.baseAddress!, labels: lp.baseAddress!, loss: op.baseAddress!,
                                                rows: 3, classes: 3)
                    } catch { caught = error }
                }
            }
        }
        #expect(caught == LabelError(row: 1, label: 7, classes: 3))
        #expect(Double(loss[0]) == good[0] && loss[1].isNaN && Double(loss[2]) == good[2])
        #expect(throws: LabelError(row: 0, label: -2, classes: 3)) {
            try sparseCEBackward(z, [-2, 0, 0], [1, 1, 1], classes: 3, Float.self)
        }
    }

    /// Split over threads (600 rows of 64 logits: two chunks of 300), the
    /// losses and gradients are bit for bit the one-thread ones, and the error
    /// names the first bad row of the whole batch, whichever chunk holds it.
    @Test func threadedSparseCrossEntropyIsTheSameAndNamesTheFirstBadRow() throws {
        var rng = RandomStream(seed: 61)
        let rows = 600, classes = 64
        let z = (0 ..< rows * classes).map { _ in Double(rng.uniform(Float(-3), Float(3))) }
        let labels = (0 ..< rows).map { _ in Int32(rng.uniform(Float(0), Float(63.99))) }
        let dloss = (0 ..< rows).map { _ in Double(rng.uniform(Float(0.5), Float(1.5))) }
        let one = try sparseCE(z, labels, classes: classes, Float.self)
        let two = try sparseCE(z, labels, classes: classes, Float.self, threads: 2)
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
        let dOne = try sparseCEBackward(z, labels, dloss, classes: classes, Float.self)
        let dTwo = try sparseCEBackward(z, labels, dloss, classes: classes, Float.self, threads: 2)
        #expect(dOne.map(\.bitPattern) == dTwo.map(\.bitPattern))
        // Bad rows only in the second chunk, then in both: the first of the batch is named.
        for (bad, first) in [([450, 500], 450), ([520, 100, 450], 100)] {
            var l = labels
            for r in bad { l[r] = 64 }
            #expect(throws: LabelError(row: first, label: 64, classes: classes)) {
                _ = try sparseCE(z, l, classes: classes, Float.self, threads: 2)
            }
            #expect(throws: LabelError(row: first, label: 64, classes: classes)) {
                _ = try sparseCEBackward(z, l, dloss, classes: classes, Float.self, threads: 2)
            }
        }
    }
}
