import Testing
import DLGOps
@testable import DLGKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DenseKernelTests {
    /// A GEMM heading a fused elementwise chain, run block of rows by block of
    /// rows (`GemmPlan.run(…, epilogue:)`, each block through
    /// `FusedElementwiseKernel.run(_:_:elements:)` right after the thread that
    /// computed it), against the product and the chain by plain loops in
    /// Double: GPT-mini's two epilogues, the input gradient of the MLP's second
    /// layer times GELU′, and a projection plus bias plus residual. The sizes
    /// make each thread's part several blocks, with block starts that are not
    /// tile-aligned in the flat output and a last block of fewer rows. For
    /// GELU′ the blocked result is also bit for bit that of the product
    /// computed whole and the chain run after it.
    @Suite struct GemmEpilogueTests {
        static func values(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
            var state = seed
            return (0 ..< count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
            }
        }

        /// C = A·op(B) in Double, A m×k, B k×n or (transB) n×k.
        static func product(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transB: Bool) -> [Double] {
            var c = [Double](repeating: 0, count: m * n)
            for i in 0 ..< m {
                for j in 0 ..< n {
                    var s = 0.0
                    for p in 0 ..< k { s += Double(a[i * k + p]) * Double(transB ? b[j * k + p] : b[p * n + j]) }
                    c[i * n + j] = s
                }
            }
            return c
        }

        /// Runs the plan with the chain as its epilogue into `out` (initially NaN), the head's result in
        /// `head` (the output itself when nil); returns the output.
        static func runFused(_ plan: GemmPlan, _ kernel: FusedElementwiseKernel, a: [Float], b: [Float], inputs: [[Float]],
                             threads: Int, scratch: Bool) -> [Float] {
            var out = [Float](repeating: .nan, count: plan.m * plan.n)
            var head = [Float](repeating: .nan, count: scratch ? plan.m * plan.n : 0)
            let n = plan.n
            let stored = inputs.map { $0.withUnsafeBufferPointer { p in UnsafeMutablePointer<Float>.allocate(capacity: p.count) } }
            defer { stored.forEach { $0.deallocate() } }
            for (p, v) in zip(stored, inputs) { p.initialize(from: v, count: v.count) }
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { op in
                        head.withUnsafeMutableBufferPointer { hp in
                            let result = scratch ? hp.baseAddress! : op.baseAddress!
                            let pointers = stored.map { UnsafePointer($0) } + [UnsafePointer(result)]
                            plan.run(a: ap.baseAddress!, b: bp.baseAddress!, c: result, threads: threads) { rows in
                                kernel.run(pointers, op.baseAddress!, elements: rows.lowerBound * n ..< rows.upperBound * n)
                            }
                        }
                    }
                }
            }
            return out
        }

        static func expectClose(_ got: [Float], _ want: [Double], _ what: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(got.count == want.count, sourceLocation: sourceLocation)
            let scale = max(1, want.map(abs).max() ?? 1)
            var worst = 0.0, at = 0
            for i in want.indices {
                let e = abs(Double(got[i]) - want[i])
                if !(e <= worst) { worst = e; at = i }
            }
            #expect(worst <= 2e-5 * scale, "\(what): error \(worst) at element \(at) (got \(got[at]), expected \(want[at]))",
                    sourceLocation: sourceLocation)
        }

        /// dH = (dY·W₂ᵀ) ⊙ GELU′(H): m = 700, n = 330 (blocks of 192 rows, starting at flat offsets
        /// that are not multiples of the 512-element tile, the chain's loop merged to one axis).
        @Test(arguments: [1, 2])
        func geluGradient(threads: Int) throws {
            let (m, n, k) = (700, 330, 96)
            let plan = try GemmPlan(m: m, n: n, k: k, transB: true)
            #expect(plan.runsInRowBlocks(threads: threads))
            #expect(plan.epilogueBlockRows == 192)
            if threads == 2 { #expect(plan.split(threads: 2) == (.rows, 2)) }
            let dy = Self.values(m * k, seed: 1), w = Self.values(n * k, seed: 2, scale: 0.3)
            let h = Self.values(m * n, seed: 3, scale: 3)
            let gelu = UnaryFunction(.gelu)!
            // unary_grad(x: H, y: H (GELU′ reads only x), dy: the product)
            let kernel = FusedElementwiseKernel(steps: [.init(code: .unaryGrad(gelu), operands: [.view(0), .view(1), .view(2)])],
                                                shape: [m, n],
                                                views: [(0, [n, 1]), (0, [n, 1]), (1, [n, 1])])
            #expect(kernel.dims == [m * n])
            let c = Self.product(dy, w, m: m, n: n, k: k, transB: true)
            let want = c.indices.map { i -> Double in
                let x = Double(h[i])
                let cdf = 0.5 * erfc(-x / 2.0.squareRoot()), pdf = exp(-x * x / 2) / (2 * Double.pi).squareRoot()
                return c[i] * (cdf + x * pdf)
            }
            for scratch in [false, true] {
                let got = Self.runFused(plan, kernel, a: dy, b: w, inputs: [h], threads: threads, scratch: scratch)
                Self.expectClose(got, want, "GELU′ epilogue, \(threads) threads\(scratch ? ", head in scratch" : "")")
            }
            // The product whole, then the chain in one pass (as before the blocking): the same bits.
            let blocked = Self.runFused(plan, kernel, a: dy, b: w, inputs: [h], threads: threads, scratch: false)
            var whole = [Float](repeating: .nan, count: m * n)
            dy.withUnsafeBufferPointer { ap in
                w.withUnsafeBufferPointer { bp in
                    h.withUnsafeBufferPointer { hp in
                        whole.withUnsafeMutableBufferPointer { op in
                            plan.run(a: ap.baseAddress!, b: bp.baseAddress!, c: op.baseAddress!, threads: threads)
                            kernel.run([hp.baseAddress!, UnsafePointer(op.baseAddress!)], op.baseAddress!, threads: threads)
                        }
                    }
                }
            }
            #expect(blocked.map(\.bitPattern) == whole.map(\.bitPattern), "blocked against whole, \(threads) threads")
        }

        /// Y = X·W + b + R, the product written to the output or to scratch (as when the output
        /// overwrites the residual): m = 650, n = 256, k = 128 (blocks of 256 rows; with two threads
        /// parts of 336 and 314 rows).
        @Test(arguments: [1, 2])
        func biasAndResidual(threads: Int) throws {
            let (m, n, k) = (650, 256, 128)
            let plan = try GemmPlan(m: m, n: n, k: k)
            #expect(plan.runsInRowBlocks(threads: threads))
            #expect(plan.epilogueBlockRows == 256)
            let x = Self.values(m * k, seed: 4), w = Self.values(k * n, seed: 5, scale: 0.2)
            let bias = Self.values(n, seed: 6), residual = Self.values(m * n, seed: 7, scale: 2)
            let kernel = FusedElementwiseKernel(steps: [.init(code: .binary(.add), operands: [.view(0), .view(1)]),
                                                        .init(code: .binary(.add), operands: [.step(0), .view(2)])],
                                                shape: [m, n],
                                                views: [(2, [n, 1]), (0, [0, 1]), (1, [n, 1])])
            let c = Self.product(x, w, m: m, n: n, k: k, transB: false)
            let want = c.indices.map { i in c[i] + Double(bias[i % n]) + Double(residual[i]) }
            for scratch in [false, true] {
                let got = Self.runFused(plan, kernel, a: x, b: w, inputs: [bias, residual], threads: threads, scratch: scratch)
                Self.expectClose(got, want, "bias and residual epilogue, \(threads) threads\(scratch ? ", head in scratch" : "")")
            }
        }

        /// Where the product would be cut along C's columns or the inner dimension, the epilogue runs
        /// once over all rows after the whole product (still the right values).
        @Test func otherSplitsRunTheEpilogueAfterTheProduct() throws {
            let (m, n, k) = (64, 512, 64)
            let plan = try GemmPlan(m: m, n: n, k: k)
            #expect(plan.split(threads: 2) == (.columns, 2))
            #expect(!plan.runsInRowBlocks(threads: 2))
            let a = Self.values(m * k, seed: 8), b = Self.values(k * n, seed: 9)
            let kernel = FusedElementwiseKernel(steps: [.init(code: .binary(.mul), operands: [.view(0), .immediate(2)])],
                                                shape: [m, n], views: [(0, [n, 1])])
            var calls: [Range<Int>] = []
            var out = [Float](repeating: .nan, count: m * n)
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { op in
                        let c = op.baseAddress!
                        plan.run(a: ap.baseAddress!, b: bp.baseAddress!, c: c, threads: 2) { rows in
                            calls.append(rows)
                            kernel.run([UnsafePointer(c)], c, elements: rows.lowerBound * n ..< rows.upperBound * n)
                        }
                    }
                }
            }
            #expect(calls == [0 ..< m])
            let want = Self.product(a, b, m: m, n: n, k: k, transB: false).map { 2 * $0 }
            Self.expectClose(out, want, "columns split")
        }
    }
}
