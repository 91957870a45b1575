import Testing
@testable import DLGKernels

extension DenseKernelTests {
    @Suite struct Conv2DTests {
        /// One test configuration.
        struct Case: CustomStringConvertible, Sendable {
            var n: Int, c: Int, h: Int, w: Int, f: Int, kh: Int, kw: Int
            var sh = 1, sw = 1, pt = 0, pb = 0, pl = 0, pr = 0, dh = 1, dw = 1, groups = 1
            var bias = true
            var epilogue: UnaryFunction? = nil

            var description: String {
                "n\(n) c\(c) \(h)×\(w) f\(f) k\(kh)×\(kw) s\(sh)×\(sw) pad \(pt),\(pb),\(pl),\(pr) d\(dh)×\(dw) g\(groups) bias \(bias) \(epilogue.map(\.description) ?? "none")"
            }

            func geometry() throws -> Conv2DGeometry {
                try Conv2DGeometry(n: n, c: c, h: h, w: w, filters: f, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw,
                                   padTop: pt, padBottom: pb, padLeft: pl, padRight: pr,
                                   dilationH: dh, dilationW: dw, groups: groups)
            }

            // The output size by the rule, written out independently of the kernel.
            var oh: Int { (h + pt + pb - dh * (kh - 1) - 1) / sh + 1 }
            var ow: Int { (w + pl + pr - dw * (kw - 1) - 1) / sw + 1 }
            var cg: Int { c / groups }
            var fg: Int { f / groups }

            /// Flat index of input cell (i, ch, y, x), or nil when (y, x) is padding.
            func inputIndex(_ i: Int, _ ch: Int, _ y: Int, _ x: Int) -> Int? {
                y >= 0 && y < h && x >= 0 && x < w ? ((i * c + ch) * h + y) * w + x : nil
            }
        }

        static let cases: [Case] = [
            // Plain 3×3 'same', bias + relu, batch 1.
            Case(n: 1, c: 3, h: 7, w: 9, f: 4, kh: 3, kw: 3, pt: 1, pb: 1, pl: 1, pr: 1, epilogue: fn(.relu)),
            // Batch 7, stride 2×3, asymmetric padding, rectangular kernel, 2 groups, leaky relu.
            Case(n: 7, c: 4, h: 9, w: 8, f: 6, kh: 3, kw: 2, sh: 2, sw: 3, pt: 0, pb: 2, pl: 1, pr: 0,
                 groups: 2, epilogue: fn(.leaky_relu, alpha: 0.1)),
            // Dilation 2, stride 2, no bias, sigmoid.
            Case(n: 2, c: 3, h: 11, w: 10, f: 5, kh: 3, kw: 3, sh: 2, sw: 2, pt: 2, pb: 1, pl: 0, pr: 1,
                 dh: 2, dw: 2, bias: false, epilogue: fn(.sigmoid)),
            // Stride 3, 4×2 kernel, tanh.
            Case(n: 3, c: 2, h: 10, w: 11, f: 3, kh: 4, kw: 2, sh: 3, sw: 3, pt: 1, pb: 1, pl: 1, pr: 1, epilogue: fn(.tanh)),
            // Depthwise (groups = c), bias, tanh, batch 7.
            Case(n: 7, c: 4, h: 8, w: 7, f: 4, kh: 3, kw: 3, pt: 1, pb: 1, pl: 1, pr: 1, groups: 4, epilogue: fn(.tanh)),
            // Depthwise with channel multiplier 2, stride 2, dilation 2, asymmetric padding, width 20 (SIMD rows).
            Case(n: 2, c: 3, h: 9, w: 20, f: 6, kh: 3, kw: 3, sh: 2, sw: 1, pt: 2, pb: 1, pl: 1, pr: 2,
                 dh: 2, dw: 2, groups: 3, bias: false),
            // Depthwise stride 3 along the width, leaky relu.
            Case(n: 1, c: 2, h: 6, w: 13, f: 2, kh: 2, kw: 3, sh: 1, sw: 3, pt: 0, pb: 1, pl: 2, pr: 0,
                 groups: 2, epilogue: fn(.leaky_relu, alpha: 0.2)),
            // Pointwise 1×1, batch 7, 2 groups, bias + relu.
            Case(n: 7, c: 6, h: 5, w: 5, f: 4, kh: 1, kw: 1, groups: 2, epilogue: fn(.relu)),
            // Pointwise, batch 1, no bias, plane of 24 (SIMD epilogue with tail).
            Case(n: 1, c: 5, h: 4, w: 6, f: 3, kh: 1, kw: 1, bias: false, epilogue: nil),
            // 1×1 with stride 2 (im2col path), odd sizes.
            Case(n: 2, c: 3, h: 7, w: 7, f: 2, kh: 1, kw: 1, sh: 2, sw: 2),
            // The kernel covers the whole padded input: a 1×1 output.
            Case(n: 3, c: 2, h: 4, w: 3, f: 2, kh: 5, kw: 4, pt: 1, pb: 0, pl: 0, pr: 1, epilogue: fn(.sigmoid)),
            // Single input channel (groups = c = 1 is not depthwise), 5×5 kernel, padding 2.
            Case(n: 2, c: 1, h: 9, w: 9, f: 3, kh: 5, kw: 5, pt: 2, pb: 2, pl: 2, pr: 2, epilogue: fn(.relu)),
            // Stride 1 with an output as wide as the input (the flat-shift im2col and col2im):
            // padding only on the top and left, batch 3.
            Case(n: 3, c: 2, h: 6, w: 5, f: 3, kh: 3, kw: 3, pt: 2, pb: 0, pl: 2, pr: 0, epilogue: fn(.relu)),
            // Flat shift with dilation 2, asymmetric padding and 2 groups.
            Case(n: 2, c: 4, h: 7, w: 9, f: 4, kh: 3, kw: 3, pt: 1, pb: 3, pl: 3, pr: 1, dh: 2, dw: 2, groups: 2),
            // Flat shift, unpadded vertically (oh = h − 4), 5×3 kernel.
            Case(n: 2, c: 3, h: 8, w: 6, f: 2, kh: 5, kw: 3, pl: 1, pr: 1, bias: false),
            // Flat shift where whole taps read only padding (kernel taller than the input).
            Case(n: 2, c: 2, h: 2, w: 4, f: 2, kh: 5, kw: 3, pt: 2, pb: 2, pl: 1, pr: 1),
            // LeNet's c1 in small: one channel, 6 filters (6-row product tiles), 5×5 'same', batch 3.
            Case(n: 3, c: 1, h: 12, w: 11, f: 6, kh: 5, kw: 5, pt: 2, pb: 2, pl: 2, pr: 2, epilogue: fn(.relu)),
            // LeNet's c3 in small: 6 → 16 filters (two 8-row tiles), 5×5 unpadded; its input
            // gradient pads the output gradient by 4 and has 6 rows.
            Case(n: 5, c: 6, h: 10, w: 9, f: 16, kh: 5, kw: 5, epilogue: fn(.relu)),
            // 13 filters (8 + 5 rows), 10 input channels (the input gradient's 6 + 4 rows), 3×3 'same'.
            Case(n: 4, c: 10, h: 9, w: 9, f: 13, kh: 3, kw: 3, pt: 1, pb: 1, pl: 1, pr: 1, bias: false),
            // Padding beyond the kernel's reach on top (3 > 3 − 1): the forward pass takes the
            // implicit GEMM, the input gradient cannot (its output gradient would need padding −1).
            Case(n: 2, c: 3, h: 7, w: 8, f: 5, kh: 3, kw: 3, pt: 3, pb: 0, pl: 0, pr: 2, epilogue: fn(.relu)),
            // Dilation 2 at stride 1 without groups, 7 filters, batch 3.
            Case(n: 3, c: 3, h: 9, w: 10, f: 7, kh: 3, kw: 3, pt: 2, pb: 2, pl: 2, pr: 2, dh: 2, dw: 2),
            // 3-wide kernels with 16, 32 and 64 filters: the weight gradient with the filters in
            // the vector lanes (tiles of 8, 4 and 2 kernel rows; 9, 15 and 4 rows here).
            Case(n: 2, c: 3, h: 7, w: 7, f: 16, kh: 3, kw: 3, bias: false),
            Case(n: 3, c: 5, h: 9, w: 8, f: 32, kh: 3, kw: 3, pt: 1, pb: 1, pl: 1, pr: 1, epilogue: fn(.relu)),
            Case(n: 2, c: 2, h: 6, w: 5, f: 64, kh: 2, kw: 3, pt: 1, pb: 0, pl: 1, pr: 1),
        ]

        // MARK: Naive references (Double)

        /// The direct 7-loop convolution (cross-correlation) plus bias, then the activation.
        static func naiveForward(_ k: Case, x: [Double], w: [Double], b: [Double]?) -> [Double] {
            var y = [Double](repeating: 0, count: k.n * k.f * k.oh * k.ow)
            for i in 0 ..< k.n {
                for o in 0 ..< k.f {
                    let g = o / k.fg
                    for oy in 0 ..< k.oh {
                        for ox in 0 ..< k.ow {
                            var s = b?[o] ?? 0
                            for cl in 0 ..< k.cg {
                                for ki in 0 ..< k.kh {
                                    for kj in 0 ..< k.kw {
                                        let iy = oy * k.sh - k.pt + ki * k.dh, ix = ox * k.sw - k.pl + kj * k.dw
                                        if let at = k.inputIndex(i, g * k.cg + cl, iy, ix) {
                                            s += w[((o * k.cg + cl) * k.kh + ki) * k.kw + kj] * x[at]
                                        }
                                    }
                                }
                            }
                            y[((i * k.f + o) * k.oh + oy) * k.ow + ox] = activate(s, k.epilogue)
                        }
                    }
                }
            }
            return y
        }

        static func activate(_ s: Double, _ e: UnaryFunction?) -> Double {
            guard let e else { return s }
            switch e.op {
            case .relu: return s > 0 ? s : 0
            case .leaky_relu: return s > 0 ? s : e.alpha * s
            case .sigmoid: return 1 / (1 + _exp(-s))
            case .tanh: return (_exp(2 * s) - 1) / (_exp(2 * s) + 1)
            default:
                Issue.record("no reference activation for \(e)")
                return .nan
            }
        }

        /// The adjoint loops: every product w·x of the forward sends dy·w back to x,
        /// dy·x back to w, and dy to the bias.
        static func naiveBackward(_ k: Case, x: [Double], w: [Double], dy: [Double])
            -> (dx: [Double], dw: [Double], db: [Double]) {
            var dx = [Double](repeating: 0, count: x.count)
            var dw = [Double](repeating: 0, count: w.count)
            var db = [Double](repeating: 0, count: k.f)
            for i in 0 ..< k.n {
                for o in 0 ..< k.f {
                    let g = o / k.fg
                    for oy in 0 ..< k.oh {
                        for ox in 0 ..< k.ow {
                            let d = dy[((i * k.f + o) * k.oh + oy) * k.ow + ox]
                            db[o] += d
                            for cl in 0 ..< k.cg {
                                for ki in 0 ..< k.kh {
                                    for kj in 0 ..< k.kw {
                                        let iy = oy * k.sh - k.pt + ki * k.dh, ix = ox * k.sw - k.pl + kj * k.dw
                                        if let at = k.inputIndex(i, g * k.cg + cl, iy, ix) {
                                            let wi = ((o * k.cg + cl) * k.kh + ki) * k.kw + kj
                                            dx[at] += d * w[wi]
                                            dw[wi] += d * x[at]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return (dx, dw, db)
        }

        // MARK: Helpers

        static func random<T: KernelScalar>(_ count: Int, seed: UInt64, as _: T.Type) -> [T] {
            var rng = RandomStream(seed: seed)
            return (0 ..< count).map { _ in rng.uniform(T(-1), T(1)) }
        }

        static func tolerance<T: KernelScalar>(_: T.Type) -> Double { T.self == Float.self ? 1e-5 : 1e-12 }

        /// Max |got − want| ≤ tolerance · max |want| (NaN counts as a failure).
        static func expectClose<T: KernelScalar>(_ got: [T], _ want: [Double], tolerance: Double, _ what: String,
                                                 sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(got.count == want.count, "\(what): count \(got.count) vs \(want.count)", sourceLocation: sourceLocation)
            let scale = max(want.map { abs($0) }.max() ?? 0, 1e-30)
            var worst = 0.0, at = -1
            for i in 0 ..< min(got.count, want.count) {
                let err = abs(Double(got[i]) - want[i])
                if err.isNaN || err > worst { worst = err; at = i }
            }
            #expect(worst <= tolerance * scale, "\(what): max error \(worst) at \(at), scale \(scale)",
                    sourceLocation: sourceLocation)
        }

        static func forward<T: KernelScalar>(_ g: Conv2DGeometry, x: [T], w: [T], b: [T]?, epilogue: UnaryFunction?,
                                             threads: Int, maxBytes: Int = Conv2D.defaultWorkspaceBytes,
                                             algorithm: Conv2D.Algorithm? = nil) -> [T] {
            var y = [T](repeating: .nan, count: g.outputCount)
            var ws = [T](repeating: .nan, count: Conv2D.workspaceCount(.forward, for: g, threads: threads, as: T.self,
                                                                       maxBytes: maxBytes, algorithm: algorithm))
            let bias = b ?? [0]
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    bias.withUnsafeBufferPointer { bp in
                        y.withUnsafeMutableBufferPointer { yp in
                            ws.withUnsafeMutableBufferPointer { wsp in
                                Conv2D.forward(g, input: xp.baseAddress!, weight: wp.baseAddress!,
                                               bias: b == nil ? nil : bp.baseAddress!, epilogue: epilogue,
                                               output: yp.baseAddress!, workspace: wsp, threads: threads,
                                               algorithm: algorithm)
                            }
                        }
                    }
                }
            }
            return y
        }

        static func backwardInput<T: KernelScalar>(_ g: Conv2DGeometry, dy: [T], w: [T], initial: [T]? = nil,
                                                   threads: Int, maxBytes: Int = Conv2D.defaultWorkspaceBytes,
                                                   algorithm: Conv2D.Algorithm? = nil) -> [T] {
            var dx = initial ?? [T](repeating: .nan, count: g.inputCount)
            var ws = [T](repeating: .nan, count: Conv2D.workspaceCount(.backwardInput, for: g, threads: threads, as: T.self,
                                                                       maxBytes: maxBytes, algorithm: algorithm))
            dy.withUnsafeBufferPointer { dyp in
                w.withUnsafeBufferPointer { wp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        ws.withUnsafeMutableBufferPointer { wsp in
                            Conv2D.backwardInput(g, gradOutput: dyp.baseAddress!, weight: wp.baseAddress!,
                                                 gradInput: dxp.baseAddress!, accumulate: initial != nil,
                                                 workspace: wsp, threads: threads, algorithm: algorithm)
                        }
                    }
                }
            }
            return dx
        }

        static func backwardWeight<T: KernelScalar>(_ g: Conv2DGeometry, x: [T], dy: [T], initial: ([T], [T])? = nil,
                                                    threads: Int, maxBytes: Int = Conv2D.defaultWorkspaceBytes,
                                                    algorithm: Conv2D.Algorithm? = nil)
            -> (dw: [T], db: [T]) {
            var dw = initial?.0 ?? [T](repeating: .nan, count: g.weightCount)
            var db = initial?.1 ?? [T](repeating: .nan, count: g.f)
            var ws = [T](repeating: .nan, count: Conv2D.workspaceCount(.backwardWeight, for: g, threads: threads,
                                                                       as: T.self, maxBytes: maxBytes, algorithm: algorithm))
            x.withUnsafeBufferPointer { xp in
                dy.withUnsafeBufferPointer { dyp in
                    dw.withUnsafeMutableBufferPointer { dwp in
                        db.withUnsafeMutableBufferPointer { dbp in
                            ws.withUnsafeMutableBufferPointer { wsp in
                                Conv2D.backwardWeight(g, input: xp.baseAddress!, gradOutput: dyp.baseAddress!,
                                                      gradWeight: dwp.baseAddress!, gradBias: dbp.baseAddress!,
                                                      accumulate: initial != nil, workspace: wsp, threads: threads,
                                                      algorithm: algorithm)
                            }
                        }
                    }
                }
            }
            return (dw, db)
        }

        /// The schedules each case runs under: one thread; two threads; two
        /// threads with the smallest workspace (one image per GEMM chunk).
        static let schedules: [(threads: Int, maxBytes: Int)] = [(1, Conv2D.defaultWorkspaceBytes),
                                                                  (2, Conv2D.defaultWorkspaceBytes), (2, 0)]

        /// The algorithms a case runs with: im2col always, and the implicit
        /// GEMM where it takes `pass` for `T` on this machine.
        static func algorithms<T: KernelScalar>(_ pass: Conv2D.Pass, _ g: Conv2DGeometry, as _: T.Type) -> [Conv2D.Algorithm] {
            Conv2D.algorithm(pass, for: g, as: T.self) == .implicitGemm ? [.im2col, .implicitGemm] : [.im2col]
        }

        static func checkForward<T: KernelScalar>(_ k: Case, as _: T.Type) throws {
            let g = try k.geometry()
            #expect(g.oh == k.oh && g.ow == k.ow, "\(k): output size")
            let x = random(g.inputCount, seed: 1, as: T.self)
            let w = random(g.weightCount, seed: 2, as: T.self)
            let b: [T]? = k.bias ? random(k.f, seed: 3, as: T.self) : nil
            let want = naiveForward(k, x: x.map(Double.init), w: w.map(Double.init), b: b?.map(Double.init))
            for a in algorithms(.forward, g, as: T.self) {
                for s in schedules {
                    let y = forward(g, x: x, w: w, b: b, epilogue: k.epilogue, threads: s.threads, maxBytes: s.maxBytes,
                                    algorithm: a)
                    expectClose(y, want, tolerance: tolerance(T.self),
                                "\(T.dtypeName) \(a) \(k) threads \(s.threads) max \(s.maxBytes)")
                }
            }
        }

        static func checkBackward<T: KernelScalar>(_ k: Case, as _: T.Type) throws {
            let g = try k.geometry()
            let x = random(g.inputCount, seed: 4, as: T.self)
            let w = random(g.weightCount, seed: 5, as: T.self)
            let dy = random(g.outputCount, seed: 6, as: T.self)
            let want = naiveBackward(k, x: x.map(Double.init), w: w.map(Double.init), dy: dy.map(Double.init))
            let tol = tolerance(T.self)
            let dx0 = random(g.inputCount, seed: 7, as: T.self)
            let dw0 = random(g.weightCount, seed: 8, as: T.self), db0 = random(k.f, seed: 9, as: T.self)
            for a in algorithms(.backwardInput, g, as: T.self) {
                for s in schedules {
                    let dx = backwardInput(g, dy: dy, w: w, threads: s.threads, maxBytes: s.maxBytes, algorithm: a)
                    expectClose(dx, want.dx, tolerance: tol, "dx \(T.dtypeName) \(a) \(k) threads \(s.threads) max \(s.maxBytes)")
                }
                // accumulate: the gradient is added to what the buffer holds.
                let dx = backwardInput(g, dy: dy, w: w, initial: dx0, threads: 2, algorithm: a)
                expectClose(dx, zip(want.dx, dx0).map { $0 + Double($1) }, tolerance: tol, "dx accumulate \(a) \(k)")
            }
            for a in algorithms(.backwardWeight, g, as: T.self) {
                for s in schedules {
                    let what = "\(T.dtypeName) \(a) \(k) threads \(s.threads) max \(s.maxBytes)"
                    let (dw, db) = backwardWeight(g, x: x, dy: dy, threads: s.threads, maxBytes: s.maxBytes, algorithm: a)
                    expectClose(dw, want.dw, tolerance: tol, "dw \(what)")
                    expectClose(db, want.db, tolerance: tol, "db \(what)")
                }
                let (dw, db) = backwardWeight(g, x: x, dy: dy, initial: (dw0, db0), threads: 2, algorithm: a)
                expectClose(dw, zip(want.dw, dw0).map { $0 + Double($1) }, tolerance: tol, "dw accumulate \(a) \(k)")
                expectClose(db, zip(want.db, db0).map { $0 + Double($1) }, tolerance: tol, "db accumulate \(a) \(k)")
            }
        }

        // MARK: Tests against the naive loops

        @Test(arguments: cases)
        func forwardMatchesDirectLoops(_ k: Case) throws {
            try Self.checkForward(k, as: Float.self)
            try Self.checkForward(k, as: Double.self)
        }

        @Test(arguments: cases)
        func backwardMatchesAdjointLoops(_ k: Case) throws {
            try Self.checkBackward(k, as: Float.self)
            try Self.checkBackward(k, as: Double.self)
        }

        /// L = Σ r ⊙ conv(x, w, b) is linear in x, w and b, so central
        /// differences equal the gradient up to rounding: compare the
        /// backward kernels with (L(θ + h) − L(θ − h)) / 2h at a few coordinates.
        @Test func backwardAgreesWithCentralDifferences() throws {
            let k = Case(n: 2, c: 4, h: 7, w: 6, f: 4, kh: 3, kw: 2, sh: 2, sw: 1, pt: 1, pb: 0, pl: 1, pr: 1,
                         dh: 1, dw: 2, groups: 2)
            let g = try k.geometry()
            var x = Self.random(g.inputCount, seed: 10, as: Double.self)
            var w = Self.random(g.weightCount, seed: 11, as: Double.self)
            var b = Self.random(k.f, seed: 12, as: Double.self)
            let r = Self.random(g.outputCount, seed: 13, as: Double.self)
            func loss() -> Double {
                let y = Self.forward(g, x: x, w: w, b: b, epilogue: nil, threads: 2)
                return zip(y, r).reduce(0) { $0 + $1.0 * $1.1 }
            }
            let dx = Self.backwardInput(g, dy: r, w: w, threads: 2)
            let (dw, db) = Self.backwardWeight(g, x: x, dy: r, threads: 2)
            let h = 1e-6
            var rng = RandomStream(seed: 14)
            for _ in 0 ..< 8 {
                let i = rng.below(x.count), j = rng.below(w.count), o = rng.below(b.count)
                let saved = (x[i], w[j], b[o])
                x[i] = saved.0 + h; let xp = loss(); x[i] = saved.0 - h; let xm = loss(); x[i] = saved.0
                w[j] = saved.1 + h; let wp = loss(); w[j] = saved.1 - h; let wm = loss(); w[j] = saved.1
                b[o] = saved.2 + h; let bp = loss(); b[o] = saved.2 - h; let bm = loss(); b[o] = saved.2
                #expect(abs((xp - xm) / (2 * h) - dx[i]) < 1e-7, "dx[\(i)]")
                #expect(abs((wp - wm) / (2 * h) - dw[j]) < 1e-7, "dw[\(j)]")
                #expect(abs((bp - bm) / (2 * h) - db[o]) < 1e-7, "db[\(o)]")
            }
        }

        // MARK: Textbook cases

        /// The vertical-edge detector: a 6×6 image, 10 in its left three
        /// columns and 0 in its right three, cross-correlated with
        /// [[1,0,−1],[1,0,−1],[1,0,−1]] gives a 4×4 map. A window over columns
        /// j..j+2 computes 3·(left column − right column): 3·(10 − 10) = 0 at
        /// j = 0, 3·(10 − 0) = 30 at j = 1 and 2, 3·(0 − 0) = 0 at j = 3.
        @Test func verticalEdgeDetector() throws {
            let g = try Conv2DGeometry(n: 1, c: 1, h: 6, w: 6, filters: 1, kernelH: 3, kernelW: 3)
            #expect(g.oh == 4 && g.ow == 4)
            let image: [Float] = (0 ..< 36).map { ($0 % 6) < 3 ? 10 : 0 }
            let kernel: [Float] = [1, 0, -1, 1, 0, -1, 1, 0, -1]
            let y = Self.forward(g, x: image, w: kernel, b: nil, epilogue: nil, threads: 1)
            let row: [Float] = [0, 30, 30, 0]
            #expect(y == row + row + row + row)
        }

        /// 'same' padding: one cell on each side keeps a 6×6 image 6×6 under a
        /// 3×3 kernel ((6 + 1 + 1 − 3)/1 + 1 = 6). With an all-ones image and
        /// kernel each output counts the window's cells inside the image:
        /// 4 at a corner (2×2), 6 along an edge (2×3), 9 inside.
        @Test func samePaddingKeepsTheSize() throws {
            let g = try Conv2DGeometry(n: 1, c: 1, h: 6, w: 6, filters: 1, kernelH: 3, kernelW: 3,
                                       padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
            #expect(g.oh == 6 && g.ow == 6)
            let y = Self.forward(g, x: [Double](repeating: 1, count: 36), w: [Double](repeating: 1, count: 9),
                                 b: nil, epilogue: nil, threads: 2)
            let edge: [Double] = [4, 6, 6, 6, 6, 4], inner: [Double] = [6, 9, 9, 9, 9, 6]
            #expect(y == edge + inner + inner + inner + inner + edge)
        }

        /// The cases above reach both im2col paths: twelve take the flat shift
        /// (stride 1, output as wide as the input), the others the row by row
        /// copy (the four strided ones, the 1×1 output, and the unpadded 5×5
        /// and 3×3 ones).
        @Test func casesCoverBothColumnPaths() throws {
            let im2col = try Self.cases.map { try $0.geometry() }.filter { !$0.isDepthwise && !$0.isPointwise }
            #expect(im2col.filter(Conv2D.isFlatShift).count == 12)
            #expect(im2col.filter { !Conv2D.isFlatShift($0) }.count == 7)
            // One worked tap: 6×5 input, 3×3 kernel, padding 2 on top and left; tap (0, 1) reads
            // input (y − 2, x − 1): rows 2..<6 and columns 1..<5, input index = output index − 11.
            let g = try Self.cases.first { $0.pt == 2 && $0.pb == 0 }!.geometry()
            let s = Conv2D.flatShift(g, ki: 0, kj: 1)
            #expect(s.rows == 2 ..< 6 && s.columns == 1 ..< 5 && s.shift == -11 && s.copied == 11 ..< 30)
        }

        /// On a CPU with AVX-512, f32 ungrouped convolutions other than 1×1
        /// stride-1 unpadded ones take the implicit GEMM: 17 of the cases
        /// forward (three of them strided), the 14 of stride 1 for the weight
        /// gradient, 13 for the input gradient (the case padded by 3 on top of
        /// a 3×3 kernel cannot stage its output gradient), with both product
        /// tile shapes, and three weight gradients with the filters in the
        /// vector lanes; f64 never does.
        @Test(.enabled(if: CPUFeatures.useAVX512, "the implicit GEMM runs on CPUs with AVX-512 only"))
        func casesCoverTheImplicitGemm() throws {
            let gs = try Self.cases.map { try $0.geometry() }
            func implicit(_ pass: Conv2D.Pass) -> [Conv2DGeometry] {
                gs.filter { Conv2D.algorithm(pass, for: $0, as: Float.self) == .implicitGemm }
            }
            #expect(implicit(.forward).count == 17)
            #expect(implicit(.forward).filter { $0.strideH > 1 || $0.strideW > 1 }.count == 3)
            #expect(implicit(.backwardWeight).count == 14)
            #expect(implicit(.backwardInput).count == 13)
            #expect(implicit(.backwardWeight).filter(Conv2D.lanesFilters).map(\.f) == [16, 32, 64])
            #expect(implicit(.forward).contains { ShiftedProductTiles.rowsPerTile(m: $0.f) == 6 })
            #expect(implicit(.forward).contains { ShiftedProductTiles.rowsPerTile(m: $0.f) == 8 })
            #expect(gs.allSatisfy { Conv2D.algorithm(.forward, for: $0, as: Double.self) == .im2col })
        }

        /// Chunks of two images over two workers, 7 images: each worker runs a
        /// full chunk, one of them a last chunk of one image in a layout sized
        /// for two.
        @Test(.enabled(if: CPUFeatures.useAVX512, "the implicit GEMM runs on CPUs with AVX-512 only"),
              arguments: [Case(n: 7, c: 3, h: 8, w: 8, f: 5, kh: 3, kw: 3, pt: 1, pb: 1, pl: 1, pr: 1, epilogue: fn(.relu)),
                          // Strided: phase planes for the forward pass; the gradients keep im2col.
                          Case(n: 7, c: 2, h: 24, w: 22, f: 4, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pb: 1, pl: 1, pr: 1)])
        func implicitGemmInChunks(_ k: Case) throws {
            let g = try k.geometry()
            let x = Self.random(g.inputCount, seed: 30, as: Float.self)
            let w = Self.random(g.weightCount, seed: 31, as: Float.self)
            let b = Self.random(k.f, seed: 32, as: Float.self)
            let dy = Self.random(g.outputCount, seed: 33, as: Float.self)
            func maxBytes(_ pass: Conv2D.Pass) -> Int {
                let one = Conv2D.ImplicitPlan(pass, g, threads: 1, available: 0)
                let partial = pass == .backwardWeight ? g.weightCount : 0
                let available = one.shared + 2 * (one.slice(images: 2) + partial)
                let plan = Conv2D.ImplicitPlan(pass, g, threads: 2, available: available)
                #expect(plan.workers == 2 && plan.chunk == 2, "\(pass): \(plan.workers) workers, chunks of \(plan.chunk)")
                return 4 * available
            }
            let y = Self.forward(g, x: x, w: w, b: b, epilogue: k.epilogue, threads: 2, maxBytes: maxBytes(.forward),
                                 algorithm: .implicitGemm)
            Self.expectClose(y, Self.naiveForward(k, x: x.map(Double.init), w: w.map(Double.init), b: b.map(Double.init)),
                             tolerance: 1e-5, "forward")
            let want = Self.naiveBackward(k, x: x.map(Double.init), w: w.map(Double.init), dy: dy.map(Double.init))
            if Conv2D.implicitApplies(.backwardInput, g) {
                let dx = Self.backwardInput(g, dy: dy, w: w, threads: 2, maxBytes: maxBytes(.backwardInput),
                                            algorithm: .implicitGemm)
                Self.expectClose(dx, want.dx, tolerance: 1e-5, "dx")
            }
            if Conv2D.implicitApplies(.backwardWeight, g) {
                let (dw, db) = Self.backwardWeight(g, x: x, dy: dy, threads: 2, maxBytes: maxBytes(.backwardWeight),
                                                   algorithm: .implicitGemm)
                Self.expectClose(dw, want.dw, tolerance: 1e-5, "dw")
                Self.expectClose(db, want.db, tolerance: 1e-5, "db")
            }
        }

        /// Output sizes by the rule, worked by hand:
        /// (28 + 2 + 2 − 5)/1 + 1 = 28; (7 + 0 + 0 − 3)/2 + 1 = 3;
        /// (11 + 2 + 1 − 2·(3−1) − 1)/2 + 1 = 9/2 + 1 = 5; (10 + 1 + 1 − 4)/3 + 1 = 3 (floor of 8/3).
        @Test func outputSizeFollowsTheFloorRule() throws {
            #expect(try Conv2DGeometry(n: 1, c: 1, h: 28, w: 28, filters: 6, kernelH: 5, kernelW: 5,
                                       padTop: 2, padBottom: 2, padLeft: 2, padRight: 2).oh == 28)
            #expect(try Conv2DGeometry(n: 1, c: 1, h: 7, w: 7, filters: 1, kernelH: 3, kernelW: 3,
                                       strideH: 2, strideW: 2).ow == 3)
            #expect(try Conv2DGeometry(n: 1, c: 1, h: 11, w: 5, filters: 1, kernelH: 3, kernelW: 1, strideH: 2,
                                       padTop: 2, padBottom: 1, dilationH: 2).oh == 5)
            #expect(try Conv2DGeometry(n: 1, c: 1, h: 10, w: 10, filters: 1, kernelH: 4, kernelW: 4, strideH: 3,
                                       padTop: 1, padBottom: 1).oh == 3)
        }

        @Test func invalidGeometriesAreErrorsWithTheNumbers() {
            func message(_ make: () throws(KernelGeometryError) -> Conv2DGeometry) -> String? {
                do { _ = try make(); return nil } catch { return error.message }
            }
            let groups = message { () throws(KernelGeometryError) in
                try Conv2DGeometry(n: 1, c: 6, h: 5, w: 5, filters: 4, kernelH: 3, kernelW: 3, groups: 4)
            }
            #expect(groups?.contains("c = 6") == true && groups?.contains("groups = 4") == true)
            let filters = message { () throws(KernelGeometryError) in
                try Conv2DGeometry(n: 1, c: 4, h: 5, w: 5, filters: 3, kernelH: 3, kernelW: 3, groups: 2)
            }
            #expect(filters?.contains("f = 3") == true)
            let tooBig = message { () throws(KernelGeometryError) in
                try Conv2DGeometry(n: 1, c: 1, h: 4, w: 9, filters: 1, kernelH: 3, kernelW: 3, padTop: 0, dilationH: 2)
            }
            #expect(tooBig?.contains("(4 + 0 + 0 − 2·(3−1) − 1)/1 + 1") == true)
            #expect(message { () throws(KernelGeometryError) in
                try Conv2DGeometry(n: 1, c: 1, h: 4, w: 4, filters: 1, kernelH: 3, kernelW: 3, strideH: 0)
            }?.contains("strideH = 0") == true)
            #expect(message { () throws(KernelGeometryError) in
                try Conv2DGeometry(n: 1, c: 1, h: 4, w: 4, filters: 1, kernelH: 3, kernelW: 3, padLeft: -1)
            }?.contains("padLeft = -1") == true)
            #expect(message { () throws(KernelGeometryError) in
                try Conv2DGeometry(n: 0, c: 1, h: 4, w: 4, filters: 1, kernelH: 3, kernelW: 3)
            } != nil)
        }

        // MARK: Threads and workspace

        /// The same forward with 1 and 2 threads agrees to rounding, and a repeated 2-thread run
        /// is bit-identical. (1 and 2 threads are not bit-identical on every CPU: the thread count
        /// splits the batch into GEMMs of other widths, and OpenBLAS's results for the same
        /// elements can then differ in the last bits, as seen with its Zen kernels and not with
        /// its SkylakeX ones.)
        @Test func forwardAgreesForOneAndTwoThreads() throws {
            let k = Case(n: 4, c: 3, h: 12, w: 12, f: 8, kh: 3, kw: 3, pt: 1, pb: 1, pl: 1, pr: 1, epilogue: fn(.relu))
            let g = try k.geometry()
            let x = Self.random(g.inputCount, seed: 20, as: Float.self)
            let w = Self.random(g.weightCount, seed: 21, as: Float.self)
            let b = Self.random(k.f, seed: 22, as: Float.self)
            let one = Self.forward(g, x: x, w: w, b: b, epilogue: fn(.relu), threads: 1, algorithm: .im2col)
            let two = Self.forward(g, x: x, w: w, b: b, epilogue: fn(.relu), threads: 2, algorithm: .im2col)
            let again = Self.forward(g, x: x, w: w, b: b, epilogue: fn(.relu), threads: 2, algorithm: .im2col)
            let scale = one.map { abs($0) }.max() ?? 1
            let worst = zip(one, two).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-6 * scale, "1 vs 2 threads: max |Δ| \(worst), scale \(scale)")
            #expect(two.map(\.bitPattern) == again.map(\.bitPattern))
        }

        /// The workspace stays within the bound when one image per thread
        /// fits, is exactly one image's scratch per thread at bound 0, and is
        /// zero for the direct paths.
        @Test func workspaceCountIsBounded() throws {
            let k = Case(n: 64, c: 16, h: 32, w: 32, f: 32, kh: 3, kw: 3, pt: 1, pb: 1, pl: 1, pr: 1)
            let g = try k.geometry()
            // One image: (16·3·3 + 32) · 32·32 elements of scratch.
            let perImage = (16 * 9 + 32) * 32 * 32
            let bound = 4 << 20
            let count = Conv2D.workspaceCount(.forward, for: g, threads: 2, as: Float.self, maxBytes: bound,
                                              algorithm: .im2col)
            #expect(count * 4 <= bound && count >= 2 * perImage)
            #expect(Conv2D.workspaceCount(.forward, for: g, threads: 2, as: Float.self, maxBytes: 0, algorithm: .im2col)
                    == 2 * perImage)
            #expect(Conv2D.workspaceCount(.backwardInput, for: g, threads: 1, as: Double.self, maxBytes: 0) == perImage)
            // Weight gradient with two workers: scratch plus one weight-sized partial each.
            #expect(Conv2D.workspaceCount(.backwardWeight, for: g, threads: 2, as: Float.self, maxBytes: 0,
                                          algorithm: .im2col)
                    == 2 * perImage + 2 * g.weightCount)
            let depthwise = try Conv2DGeometry(n: 2, c: 8, h: 9, w: 9, filters: 8, kernelH: 3, kernelW: 3, groups: 8)
            #expect(Conv2D.workspaceCount(.forward, for: depthwise, threads: 2, as: Float.self) == 0)
            let pointwise = try Conv2DGeometry(n: 2, c: 8, h: 9, w: 9, filters: 4, kernelH: 1, kernelW: 1)
            #expect(Conv2D.workspaceCount(.forward, for: pointwise, threads: 2, as: Float.self) == 0)
        }
    }
}
