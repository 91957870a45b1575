import Testing
@testable import DLGKernels

extension DenseKernelTests {
    @Suite struct PoolingTests {
        struct Case: CustomStringConvertible, Sendable {
            var n: Int, c: Int, h: Int, w: Int, kh: Int, kw: Int, sh: Int, sw: Int
            var pt = 0, pb = 0, pl = 0, pr = 0
            var ceil = false

            var description: String {
                "n\(n) c\(c) \(h)×\(w) k\(kh)×\(kw) s\(sh)×\(sw) pad \(pt),\(pb),\(pl),\(pr)\(ceil ? " ceil" : "")"
            }

            func geometry() throws -> Pool2DGeometry {
                let oh = try Pool2DGeometry.outputSize(input: h, kernel: kh, stride: sh, padBegin: pt, padEnd: pb, ceilMode: ceil)
                let ow = try Pool2DGeometry.outputSize(input: w, kernel: kw, stride: sw, padBegin: pl, padEnd: pr, ceilMode: ceil)
                return try Pool2DGeometry(n: n, c: c, h: h, w: w, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw,
                                          padTop: pt, padBottom: pb, padLeft: pl, padRight: pr, oh: oh, ow: ow)
            }
        }

        static let cases: [Case] = [
            Case(n: 7, c: 2, h: 7, w: 9, kh: 2, kw: 2, sh: 2, sw: 2),
            // 2×2 at stride 2 tiling the plane exactly (the vectorized pairwise loops).
            Case(n: 3, c: 5, h: 8, w: 36, kh: 2, kw: 2, sh: 2, sw: 2),
            Case(n: 2, c: 3, h: 5, w: 69, kh: 2, kw: 2, sh: 2, sw: 2),
            // LeNet-5's two poolings: rows of 14 and of 5 windows (partial vectors), exact tiling.
            Case(n: 2, c: 3, h: 28, w: 28, kh: 2, kw: 2, sh: 2, sw: 2),
            Case(n: 3, c: 2, h: 10, w: 10, kh: 2, kw: 2, sh: 2, sw: 2),
            Case(n: 1, c: 3, h: 9, w: 10, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pb: 1, pl: 1, pr: 1, ceil: true),
            Case(n: 2, c: 2, h: 8, w: 7, kh: 3, kw: 2, sh: 3, sw: 2, pt: 1, pb: 0, pl: 0, pr: 1, ceil: true),
            // Overlapping windows (stride < kernel): gradients accumulate.
            Case(n: 2, c: 1, h: 5, w: 6, kh: 2, kw: 3, sh: 1, sw: 1, pt: 1, pb: 1, pl: 1, pr: 1),
            // Ceil mode: the last window reaches past the padded input.
            Case(n: 1, c: 2, h: 8, w: 8, kh: 3, kw: 3, sh: 2, sw: 2, ceil: true),
            Case(n: 3, c: 1, h: 11, w: 10, kh: 4, kw: 4, sh: 3, sw: 3, pt: 2, pb: 1, pl: 2, pr: 0, ceil: true),
        ]

        static let kinds: [PoolKind] = [.max, .min, .average(countIncludePad: true), .average(countIncludePad: false)]

        // MARK: Naive references

        /// Direct loops over each window's cells; max/min keep the first
        /// strictly better cell; the average divides by the cells counted per
        /// the padding convention. Returns the output, the winning indices and
        /// each window's (input cells, divisor).
        static func naiveForward(_ g: Pool2DGeometry, kind: PoolKind, x: [Double]) -> (y: [Double], idx: [Int]) {
            var y = [Double](repeating: 0, count: g.outputCount), idx = [Int](repeating: -1, count: g.outputCount)
            for u in 0 ..< g.n * g.c {
                for oy in 0 ..< g.oh {
                    for ox in 0 ..< g.ow {
                        var best = 0.0, at = -1, sum = 0.0, padded = 0, inside = 0
                        for ky in 0 ..< g.kh {
                            for kx in 0 ..< g.kw {
                                let iy = oy * g.strideH - g.padTop + ky, ix = ox * g.strideW - g.padLeft + kx
                                if iy >= -g.padTop && iy < g.h + g.padBottom && ix >= -g.padLeft && ix < g.w + g.padRight {
                                    padded += 1
                                }
                                if iy < 0 || iy >= g.h || ix < 0 || ix >= g.w { continue }
                                inside += 1
                                let v = x[u * g.h * g.w + iy * g.w + ix]
                                sum += v
                                let better: Bool
                                switch kind {
                                case .max: better = v > best
                                case .min: better = v < best
                                case .average: better = false
                                }
                                if at < 0 || better { best = v; at = iy * g.w + ix }
                            }
                        }
                        let o = (u * g.oh + oy) * g.ow + ox
                        switch kind {
                        case .max, .min: y[o] = best; idx[o] = at
                        case .average(let includePad): y[o] = sum / Double(includePad ? padded : inside)
                        }
                    }
                }
            }
            return (y, idx)
        }

        /// The adjoint: max/min send dy to the winning cell; the average
        /// sends dy/divisor to each input cell of the window.
        static func naiveBackward(_ g: Pool2DGeometry, kind: PoolKind, idx: [Int], dy: [Double]) -> [Double] {
            var dx = [Double](repeating: 0, count: g.inputCount)
            for u in 0 ..< g.n * g.c {
                for oy in 0 ..< g.oh {
                    for ox in 0 ..< g.ow {
                        let o = (u * g.oh + oy) * g.ow + ox
                        guard case .average(let includePad) = kind else {
                            dx[u * g.h * g.w + idx[o]] += dy[o]
                            continue
                        }
                        var cells: [Int] = [], padded = 0
                        for ky in 0 ..< g.kh {
                            for kx in 0 ..< g.kw {
                                let iy = oy * g.strideH - g.padTop + ky, ix = ox * g.strideW - g.padLeft + kx
                                if iy >= -g.padTop && iy < g.h + g.padBottom && ix >= -g.padLeft && ix < g.w + g.padRight {
                                    padded += 1
                                }
                                if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w { cells.append(iy * g.w + ix) }
                            }
                        }
                        let divisor = Double(includePad ? padded : cells.count)
                        for cell in cells { dx[u * g.h * g.w + cell] += dy[o] / divisor }
                    }
                }
            }
            return dx
        }

        // MARK: Helpers

        static func random<T: KernelScalar>(_ count: Int, seed: UInt64, as _: T.Type) -> [T] {
            var rng = RandomStream(seed: seed)
            return (0 ..< count).map { _ in rng.uniform(T(-1), T(1)) }
        }

        static func tolerance<T: KernelScalar>(_: T.Type) -> Double { T.self == Float.self ? 1e-5 : 1e-12 }

        static func expectClose<T: KernelScalar>(_ got: [T], _ want: [Double], tolerance: Double, _ what: String,
                                                 sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(got.count == want.count, "\(what): count", sourceLocation: sourceLocation)
            let scale = max(want.map { abs($0) }.max() ?? 0, 1e-30)
            var worst = 0.0, at = -1
            for i in 0 ..< min(got.count, want.count) {
                let err = abs(Double(got[i]) - want[i])
                if err.isNaN || err > worst { worst = err; at = i }
            }
            #expect(worst <= tolerance * scale, "\(what): max error \(worst) at \(at), scale \(scale)",
                    sourceLocation: sourceLocation)
        }

        static func forward<T: KernelScalar>(_ g: Pool2DGeometry, kind: PoolKind, x: [T], threads: Int) -> ([T], [Int32]) {
            var y = [T](repeating: .nan, count: g.outputCount)
            var idx = [Int32](repeating: -7, count: g.outputCount)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    idx.withUnsafeMutableBufferPointer { ip in
                        Pool2D.forward(g, kind: kind, input: xp.baseAddress!, output: yp.baseAddress!,
                                       indices: ip.baseAddress!, threads: threads)
                    }
                }
            }
            // Without indices (the training kernels' call) the values are the same, NaN for NaN.
            var values = [T](repeating: 7, count: g.outputCount)
            x.withUnsafeBufferPointer { xp in
                values.withUnsafeMutableBufferPointer { vp in
                    Pool2D.forward(g, kind: kind, input: xp.baseAddress!, output: vp.baseAddress!, threads: threads)
                }
            }
            #expect(zip(values, y).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "forward without indices: \(g)")
            return (y, idx)
        }

        static func checkCase<T: KernelScalar>(_ k: Case, as _: T.Type) throws {
            let g = try k.geometry()
            let x = random(g.inputCount, seed: 1, as: T.self)
            let dy = random(g.outputCount, seed: 2, as: T.self)
            let tol = tolerance(T.self)
            for kind in kinds {
                let (want, wantIdx) = naiveForward(g, kind: kind, x: x.map(Double.init))
                let wantDx = naiveBackward(g, kind: kind, idx: wantIdx, dy: dy.map(Double.init))
                for threads in [1, 2] {
                    let what = "\(T.dtypeName) \(k) \(kind) threads \(threads)"
                    let (y, idx) = forward(g, kind: kind, x: x, threads: threads)
                    expectClose(y, want, tolerance: tol, "forward \(what)")
                    if kind == .max || kind == .min {
                        #expect(idx.map(Int.init) == wantIdx, "indices \(what)")
                        var dx = [T](repeating: .nan, count: g.inputCount)
                        idx.withUnsafeBufferPointer { ip in
                            dy.withUnsafeBufferPointer { dyp in
                                dx.withUnsafeMutableBufferPointer { dxp in
                                    Pool2D.backward(g, indices: ip.baseAddress!, gradOutput: dyp.baseAddress!,
                                                    gradInput: dxp.baseAddress!, threads: threads)
                                }
                            }
                        }
                        expectClose(dx, wantDx, tolerance: tol, "backward from indices \(what)")
                    }
                    // Recomputing (max/min) or spreading (average) without indices.
                    var dx = [T](repeating: .nan, count: g.inputCount)
                    x.withUnsafeBufferPointer { xp in
                        dy.withUnsafeBufferPointer { dyp in
                            dx.withUnsafeMutableBufferPointer { dxp in
                                Pool2D.backward(g, kind: kind, input: xp.baseAddress!, gradOutput: dyp.baseAddress!,
                                                gradInput: dxp.baseAddress!, threads: threads)
                            }
                        }
                    }
                    expectClose(dx, wantDx, tolerance: tol, "backward recomputed \(what)")
                }
                // accumulate adds to the existing gradient.
                let dx0 = random(g.inputCount, seed: 3, as: T.self)
                var dx = dx0
                x.withUnsafeBufferPointer { xp in
                    dy.withUnsafeBufferPointer { dyp in
                        dx.withUnsafeMutableBufferPointer { dxp in
                            Pool2D.backward(g, kind: kind, input: xp.baseAddress!, gradOutput: dyp.baseAddress!,
                                            gradInput: dxp.baseAddress!, accumulate: true, threads: 2)
                        }
                    }
                }
                expectClose(dx, zip(wantDx, dx0).map { $0 + Double($1) }, tolerance: tol, "accumulate \(k) \(kind)")
            }
        }

        // MARK: Tests

        @Test(arguments: cases)
        func poolingMatchesDirectLoops(_ k: Case) throws {
            try Self.checkCase(k, as: Float.self)
            try Self.checkCase(k, as: Double.self)
        }

        /// A 4×4 plane pooled 2×2 with stride 2, worked by hand:
        ///
        ///     1 3 | 2 1        max: 6 (row 1, col 1 → index 5)   6 (row 1, col 2 → 6)
        ///     4 6 | 6 0             7 (tie 7/7: first, row 2 col 0 → 8)   9 (tie: first, row 2 col 2 → 10)
        ///     7 2 | 9 8        average: (1+3+4+6)/4 = 3.5, (2+1+6+0)/4 = 2.25,
        ///     7 0 | 3 9                 (7+2+7+0)/4 = 4,   (9+8+3+9)/4 = 7.25
        @Test func maxPoolTwoByTwoByHand() throws {
            let g = try Pool2DGeometry(n: 1, c: 1, h: 4, w: 4, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, oh: 2, ow: 2)
            let x: [Float] = [1, 3, 2, 1,
                              4, 6, 6, 0,
                              7, 2, 9, 8,
                              7, 0, 3, 9]
            let (y, idx) = Self.forward(g, kind: .max, x: x, threads: 1)
            #expect(y == [6, 6, 7, 9])
            #expect(idx == [5, 6, 8, 10])
            let (avg, _) = Self.forward(g, kind: .average(countIncludePad: true), x: x, threads: 1)
            #expect(avg == [3.5, 2.25, 4, 7.25])
            let (mn, minIdx) = Self.forward(g, kind: .min, x: x, threads: 1)
            #expect(mn == [1, 0, 0, 3])
            #expect(minIdx == [0, 7, 13, 14])
            // Backward routes each output gradient to its winner.
            let dy: [Float] = [1, 2, 3, 4]
            var dx = [Float](repeating: .nan, count: 16)
            idx.withUnsafeBufferPointer { ip in
                dy.withUnsafeBufferPointer { dyp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        Pool2D.backward(g, indices: ip.baseAddress!, gradOutput: dyp.baseAddress!, gradInput: dxp.baseAddress!)
                    }
                }
            }
            #expect(dx == [0, 0, 0, 0, 0, 1, 2, 0, 3, 0, 4, 0, 0, 0, 0, 0])
        }

        /// Padding never wins a max even when every input value is negative,
        /// and a NaN in a window propagates.
        @Test func paddingIsIgnoredAndNaNPropagates() throws {
            let g = try Pool2DGeometry(n: 1, c: 1, h: 2, w: 2, kernelH: 2, kernelW: 2, strideH: 1, strideW: 1,
                                       padTop: 1, padBottom: 1, padLeft: 1, padRight: 1, oh: 3, ow: 3)
            let (y, _) = Self.forward(g, kind: .max, x: [-1, -2, -3, -4] as [Double], threads: 1)
            // Windows (top-left corner at padded (y−1, x−1)) cover: {−1}, {−1,−2}, {−2}, {−1,−3}, all, {−2,−4}, {−3}, {−3,−4}, {−4}.
            #expect(y == [-1, -1, -2, -1, -1, -2, -3, -3, -4])
            let (z, zi) = Self.forward(g, kind: .max, x: [1, .nan, 3, 4] as [Double], threads: 1)
            #expect(z[4].isNaN && zi[4] == 1)
            #expect(z[6] == 3 && z[8] == 4)
        }

        /// The 2×2 stride-2 loops keep the window scan's NaN rule: the first NaN of a window
        /// (row-major) wins, whatever comes before or after it. Plane 2×6:
        ///     1  NaN | 3   4  | NaN 0
        ///     5  6   | NaN 8  | 9   NaN
        @Test func pairwisePoolingPropagatesTheFirstNaN() throws {
            let g = try Pool2DGeometry(n: 1, c: 1, h: 2, w: 6, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, oh: 1, ow: 3)
            let x: [Float] = [1, .nan, 3, 4, .nan, 0, 5, 6, .nan, 8, 9, .nan]
            for kind in [PoolKind.max, .min] {
                let (y, idx) = Self.forward(g, kind: kind, x: x, threads: 1)
                #expect(y.allSatisfy { $0.isNaN }, "\(kind): \(y)")
                #expect(idx == [1, 8, 4], "\(kind): \(idx)")
                // The recomputing backward routes each window's gradient to that NaN cell.
                var dx = [Float](repeating: -1, count: 12)
                let dy: [Float] = [10, 20, 30]
                x.withUnsafeBufferPointer { xp in
                    dy.withUnsafeBufferPointer { dyp in
                        dx.withUnsafeMutableBufferPointer { dxp in
                            Pool2D.backward(g, kind: kind, input: xp.baseAddress!, gradOutput: dyp.baseAddress!,
                                            gradInput: dxp.baseAddress!, threads: 1)
                        }
                    }
                }
                #expect(dx == [0, 10, 0, 0, 30, 0, 0, 0, 20, 0, 0, 0], "\(kind): \(dx)")
            }
        }

        /// The same rule in the 16-window vector loop: one NaN per window, at each of the four
        /// positions in turn, the other cells counting up.
        @Test func pairwiseVectorLoopPropagatesTheFirstNaN() throws {
            try Self.pairwiseNaNs(as: Double.self)
            try Self.pairwiseNaNs(as: Float.self)
        }

        static func pairwiseNaNs<T: KernelScalar>(as _: T.Type) throws {
            let ow = 20
            let g = try Pool2DGeometry(n: 1, c: 1, h: 2, w: 2 * ow, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, oh: 1, ow: ow)
            var x = (0 ..< 4 * ow).map { T($0) }
            var want: [Int32] = []
            for ox in 0 ..< ow {
                let cells = [2 * ox, 2 * ox + 1, 2 * ow + 2 * ox, 2 * ow + 2 * ox + 1]
                let nanAt = cells[ox % 4]
                x[nanAt] = .nan
                if ox % 5 == 4 { x[cells[3]] = .nan }   // a second NaN later in the window loses
                want.append(Int32(nanAt))
            }
            for kind in [PoolKind.max, .min] {
                let (y, _) = Self.forward(g, kind: kind, x: x, threads: 1)
                #expect(y.allSatisfy { $0.isNaN }, "\(kind): \(y)")
                var dx = [T](repeating: -1, count: x.count)
                let dy = (0 ..< ow).map { T($0 + 1) }
                x.withUnsafeBufferPointer { xp in
                    dy.withUnsafeBufferPointer { dyp in
                        dx.withUnsafeMutableBufferPointer { dxp in
                            Pool2D.backward(g, kind: kind, input: xp.baseAddress!, gradOutput: dyp.baseAddress!,
                                            gradInput: dxp.baseAddress!, threads: 1)
                        }
                    }
                }
                var expected = [T](repeating: 0, count: x.count)
                for (o, cell) in want.enumerated() { expected[Int(cell)] = dy[o] }
                #expect(dx == expected, "\(T.dtypeName) \(kind)")
            }
        }

        /// Output sizes worked by hand:
        /// floor (5 − 2)/2 + 1 = 2, ceil ⌈3/2⌉ + 1 = 3 (the last window starts at 4 < 5);
        /// input 5, kernel 2, stride 2, padding 1+1: ceil ⌈5/2⌉ + 1 = 4, but that
        /// window would start at 3·2 = 6 ≥ 5 + 1 (in the trailing padding), so 3;
        /// ResNet's stem pool 112, 3, 2, pad 1: floor 111/2 + 1 = 56, ceil 57.
        @Test func outputSizeFloorAndCeil() throws {
            #expect(try Pool2DGeometry.outputSize(input: 5, kernel: 2, stride: 2, padBegin: 0, padEnd: 0, ceilMode: false) == 2)
            #expect(try Pool2DGeometry.outputSize(input: 5, kernel: 2, stride: 2, padBegin: 0, padEnd: 0, ceilMode: true) == 3)
            #expect(try Pool2DGeometry.outputSize(input: 5, kernel: 2, stride: 2, padBegin: 1, padEnd: 1, ceilMode: true) == 3)
            #expect(try Pool2DGeometry.outputSize(input: 5, kernel: 2, stride: 2, padBegin: 1, padEnd: 1, ceilMode: false) == 3)
            #expect(try Pool2DGeometry.outputSize(input: 112, kernel: 3, stride: 2, padBegin: 1, padEnd: 1, ceilMode: false) == 56)
            #expect(try Pool2DGeometry.outputSize(input: 112, kernel: 3, stride: 2, padBegin: 1, padEnd: 1, ceilMode: true) == 57)
            #expect(throws: KernelGeometryError.self) {
                try Pool2DGeometry.outputSize(input: 2, kernel: 5, stride: 1, padBegin: 1, padEnd: 1, ceilMode: false)
            }
        }

        @Test func windowsEntirelyInPaddingAreErrors() {
            // Kernel 2 with top padding 2: the first window covers only padding rows −2, −1.
            #expect(throws: KernelGeometryError.self) {
                try Pool2DGeometry(n: 1, c: 1, h: 4, w: 4, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2,
                                   padTop: 2, oh: 2, ow: 2)
            }
            // oh = 3 with stride 2 on height 4: the last window starts at row 4, past the input.
            do {
                _ = try Pool2DGeometry(n: 1, c: 1, h: 4, w: 4, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, oh: 3, ow: 2)
                Issue.record("a window outside the input was accepted")
            } catch {
                #expect(error.message.contains("(3−1)·2 − 0 = 4"))
            }
            #expect(throws: KernelGeometryError.self) {
                try Pool2DGeometry(n: 1, c: 1, h: 4, w: 4, kernelH: 2, kernelW: 2, strideH: 0, strideW: 2, oh: 2, ow: 2)
            }
        }

        /// Global pooling over H×W against direct loops: mean, max with its
        /// first index, and their gradients (mean spreads dy/(H·W); max routes dy).
        @Test(arguments: [1, 2])
        func globalPoolingMatchesDirectLoops(threads: Int) {
            let planes = 6, size = 21
            var x = Self.random(planes * size, seed: 30, as: Double.self)
            x[2 * size + 4] = 5; x[2 * size + 9] = 5   // a tie: index 4 wins
            let dy = Self.random(planes, seed: 31, as: Double.self)
            var mean = [Double](repeating: 0, count: planes), best = [Double](repeating: -.infinity, count: planes)
            var at = [Int32](repeating: 0, count: planes)
            for u in 0 ..< planes {
                for i in 0 ..< size {
                    mean[u] += x[u * size + i] / Double(size)
                    if x[u * size + i] > best[u] { best[u] = x[u * size + i]; at[u] = Int32(i) }
                }
            }
            #expect(at[2] == 4)
            var y = [Double](repeating: .nan, count: planes), idx = [Int32](repeating: -1, count: planes)
            var dxMean = [Double](repeating: .nan, count: planes * size)
            var dxMax = [Double](repeating: .nan, count: planes * size), dxMax2 = dxMax
            x.withUnsafeBufferPointer { xp in
                dy.withUnsafeBufferPointer { dyp in
                    y.withUnsafeMutableBufferPointer { yp in
                        Pool2D.globalForward(kind: .average(countIncludePad: false), planes: planes, planeSize: size,
                                             input: xp.baseAddress!, output: yp.baseAddress!, threads: threads)
                    }
                    Self.expectClose(y, mean, tolerance: 1e-12, "global mean")
                    y.withUnsafeMutableBufferPointer { yp in
                        idx.withUnsafeMutableBufferPointer { ip in
                            Pool2D.globalForward(kind: .max, planes: planes, planeSize: size, input: xp.baseAddress!,
                                                 output: yp.baseAddress!, indices: ip.baseAddress!, threads: threads)
                        }
                    }
                    dxMean.withUnsafeMutableBufferPointer { dp in
                        Pool2D.globalBackward(kind: .average(countIncludePad: false), planes: planes, planeSize: size,
                                              input: xp.baseAddress!, gradOutput: dyp.baseAddress!,
                                              gradInput: dp.baseAddress!, threads: threads)
                    }
                    idx.withUnsafeBufferPointer { ip in
                        dxMax.withUnsafeMutableBufferPointer { dp in
                            Pool2D.globalBackward(planes: planes, planeSize: size, indices: ip.baseAddress!,
                                                  gradOutput: dyp.baseAddress!, gradInput: dp.baseAddress!, threads: threads)
                        }
                    }
                    dxMax2.withUnsafeMutableBufferPointer { dp in
                        Pool2D.globalBackward(kind: .max, planes: planes, planeSize: size, input: xp.baseAddress!,
                                              gradOutput: dyp.baseAddress!, gradInput: dp.baseAddress!, threads: threads)
                    }
                }
            }
            #expect(y == best)
            #expect(idx == at)
            var wantMean = [Double](repeating: 0, count: planes * size), wantMax = wantMean
            for u in 0 ..< planes {
                for i in 0 ..< size { wantMean[u * size + i] = dy[u] / Double(size) }
                wantMax[u * size + Int(at[u])] = dy[u]
            }
            Self.expectClose(dxMean, wantMean, tolerance: 1e-12, "global mean backward")
            #expect(dxMax == wantMax)
            #expect(dxMax2 == wantMax)
        }
    }
}
