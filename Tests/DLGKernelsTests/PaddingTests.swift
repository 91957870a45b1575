import Testing
@testable import DLGKernels

extension DenseKernelTests {
    @Suite struct PaddingTests {
        static let modes: [PadMode] = [.zero, .constant(-2.5), .replicate, .reflect]

        /// The source index along one axis, written out per mode (reflect
        /// mirrors about the edge cell without repeating it).
        static func naiveSource(_ i: Int, size: Int, mode: PadMode) -> Int? {
            if i >= 0 && i < size { return i }
            switch mode {
            case .zero, .constant: return nil
            case .replicate: return min(max(i, 0), size - 1)
            case .reflect: return i < 0 ? -i : (size - 1) - (i - (size - 1))
            }
        }

        static func naiveForward(_ g: Pad2DGeometry, x: [Double]) -> [Double] {
            var fill = 0.0
            if case .constant(let v) = g.mode { fill = v }
            var y = [Double](repeating: 0, count: g.outputCount)
            for u in 0 ..< g.n * g.c {
                for oy in 0 ..< g.oh {
                    for ox in 0 ..< g.ow {
                        let sy = naiveSource(oy - g.top, size: g.h, mode: g.mode)
                        let sx = naiveSource(ox - g.left, size: g.w, mode: g.mode)
                        if let sy, let sx {
                            y[(u * g.oh + oy) * g.ow + ox] = x[(u * g.h + sy) * g.w + sx]
                        } else {
                            y[(u * g.oh + oy) * g.ow + ox] = fill
                        }
                    }
                }
            }
            return y
        }

        /// The adjoint: every output cell that copied an input cell sends its gradient back there.
        static func naiveBackward(_ g: Pad2DGeometry, dy: [Double]) -> [Double] {
            var dx = [Double](repeating: 0, count: g.inputCount)
            for u in 0 ..< g.n * g.c {
                for oy in 0 ..< g.oh {
                    for ox in 0 ..< g.ow {
                        if let sy = naiveSource(oy - g.top, size: g.h, mode: g.mode),
                           let sx = naiveSource(ox - g.left, size: g.w, mode: g.mode) {
                            dx[(u * g.h + sy) * g.w + sx] += dy[(u * g.oh + oy) * g.ow + ox]
                        }
                    }
                }
            }
            return dx
        }

        static func random<T: KernelScalar>(_ count: Int, seed: UInt64, as _: T.Type) -> [T] {
            var rng = RandomStream(seed: seed)
            return (0 ..< count).map { _ in rng.uniform(T(-1), T(1)) }
        }

        static func forward<T: KernelScalar>(_ g: Pad2DGeometry, x: [T], threads: Int = 1) -> [T] {
            var y = [T](repeating: .nan, count: g.outputCount)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    Pad2D.forward(g, input: xp.baseAddress!, output: yp.baseAddress!, threads: threads)
                }
            }
            return y
        }

        static func backward<T: KernelScalar>(_ g: Pad2DGeometry, dy: [T], initial: [T]? = nil, threads: Int) -> [T] {
            var dx = initial ?? [T](repeating: .nan, count: g.inputCount)
            dy.withUnsafeBufferPointer { dyp in
                dx.withUnsafeMutableBufferPointer { dxp in
                    Pad2D.backward(g, gradOutput: dyp.baseAddress!, gradInput: dxp.baseAddress!,
                                   accumulate: initial != nil, threads: threads)
                }
            }
            return dx
        }

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

        /// [[1,2,3],[4,5,6]] padded top 1, bottom 0, left 2, right 1, by hand.
        /// Reflect: row −1 mirrors row 1; column −2 ↦ 2, −1 ↦ 1, 3 ↦ 1.
        /// Replicate: rows and columns clamp to the edge.
        @Test func handWorkedModes() throws {
            let x: [Double] = [1, 2, 3, 4, 5, 6]
            func pad(_ mode: PadMode) throws -> [Double] {
                Self.forward(try Pad2DGeometry(n: 1, c: 1, h: 2, w: 3, top: 1, bottom: 0, left: 2, right: 1, mode: mode), x: x)
            }
            #expect(try pad(.reflect) == [6, 5, 4, 5, 6, 5,
                                          3, 2, 1, 2, 3, 2,
                                          6, 5, 4, 5, 6, 5])
            #expect(try pad(.replicate) == [1, 1, 1, 2, 3, 3,
                                            1, 1, 1, 2, 3, 3,
                                            4, 4, 4, 5, 6, 6])
            #expect(try pad(.constant(7)) == [7, 7, 7, 7, 7, 7,
                                              7, 7, 1, 2, 3, 7,
                                              7, 7, 4, 5, 6, 7])
            #expect(try pad(.zero) == [0, 0, 0, 0, 0, 0,
                                       0, 0, 1, 2, 3, 0,
                                       0, 0, 4, 5, 6, 0])
        }

        /// Replicate backward by hand on a 1×2 row padded left 2, right 1:
        /// output [x0, x0, x0, x1, x1] with gradient [1, 2, 3, 4, 5] gives
        /// dx0 = 1 + 2 + 3 = 6 and dx1 = 4 + 5 = 9.
        @Test func replicateBackwardByHand() throws {
            let g = try Pad2DGeometry(n: 1, c: 1, h: 1, w: 2, top: 0, bottom: 0, left: 2, right: 1, mode: .replicate)
            #expect(Self.backward(g, dy: [1, 2, 3, 4, 5] as [Double], threads: 1) == [6, 9])
        }

        @Test(arguments: modes)
        func randomShapesMatchDirectLoops(mode: PadMode) throws {
            let shapes: [(n: Int, c: Int, h: Int, w: Int, t: Int, b: Int, l: Int, r: Int)] = [
                (1, 1, 5, 7, 1, 2, 3, 0), (3, 2, 4, 19, 3, 0, 2, 2), (2, 3, 6, 5, 0, 0, 1, 4), (1, 2, 3, 3, 2, 2, 2, 2),
            ]
            for s in shapes {
                let g = try Pad2DGeometry(n: s.n, c: s.c, h: s.h, w: s.w, top: s.t, bottom: s.b, left: s.l, right: s.r,
                                          mode: mode)
                try check(g, as: Float.self)
                try check(g, as: Double.self)
            }
        }

        func check<T: KernelScalar>(_ g: Pad2DGeometry, as _: T.Type) throws {
            let tol = T.self == Float.self ? 1e-5 : 1e-12
            let x = Self.random(g.inputCount, seed: 1, as: T.self)
            let dy = Self.random(g.outputCount, seed: 2, as: T.self)
            let want = Self.naiveForward(g, x: x.map(Double.init))
            let wantDx = Self.naiveBackward(g, dy: dy.map(Double.init))
            for threads in [1, 2] {
                Self.expectClose(Self.forward(g, x: x, threads: threads), want, tolerance: tol, "\(T.dtypeName) \(g) forward")
                Self.expectClose(Self.backward(g, dy: dy, threads: threads), wantDx, tolerance: tol,
                                 "\(T.dtypeName) \(g) backward")
            }
            let dx0 = Self.random(g.inputCount, seed: 3, as: T.self)
            Self.expectClose(Self.backward(g, dy: dy, initial: dx0, threads: 2), zip(wantDx, dx0).map { $0 + Double($1) },
                             tolerance: tol, "\(T.dtypeName) \(g) backward accumulate")
        }

        @Test func invalidPaddingsAreErrors() {
            // Reflect needs padding < size: 3 rows cannot reflect 3 cells.
            do {
                _ = try Pad2DGeometry(n: 1, c: 1, h: 3, w: 5, top: 3, bottom: 0, left: 0, right: 0, mode: .reflect)
                Issue.record("reflect padding 3 on height 3 was accepted")
            } catch {
                #expect(error.message.contains("top = 3") && error.message.contains("height 3"))
            }
            #expect(throws: Never.self) {
                try Pad2DGeometry(n: 1, c: 1, h: 3, w: 5, top: 3, bottom: 0, left: 0, right: 0, mode: .replicate)
            }
            #expect(throws: KernelGeometryError.self) {
                try Pad2DGeometry(n: 1, c: 1, h: 3, w: 5, top: 0, bottom: 0, left: -1, right: 0, mode: .zero)
            }
            #expect(throws: KernelGeometryError.self) {
                try Pad2DGeometry(n: 1, c: 0, h: 3, w: 5, top: 0, bottom: 0, left: 0, right: 0, mode: .zero)
            }
        }
    }
}
