import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import Testing

/// Convolutions with `round: ceil` compute exactly the windows their shape
/// rule counts: the last window, which runs past the input, reads zeros
/// there (PyTorch's convolution with that extra row or column of
/// bottom/right padding). Forward and both gradients against loops written
/// here, for strides 2 and 3, with and without padding, grouped and depthwise.
@Suite struct CeilConvolutionTests {
    struct Case: CustomStringConvertible, Sendable {
        var c: Int, h: Int, w: Int, f: Int, k: Int, stride: Int, pad: Int, groups: Int
        var description: String { "c\(c) \(h)×\(w) f\(f) k\(k) stride \(stride) pad \(pad) groups \(groups)" }

        /// PyTorch's ceil_mode rule: ⌈(n + 2p − k)/s⌉ + 1, one less when the last window would
        /// start past the input and the leading padding.
        func outputSize(_ n: Int) -> Int {
            let span = n + 2 * pad - k
            var out = (span + stride - 1) / stride + 1
            if (out - 1) * stride >= n + pad { out -= 1 }
            return out
        }
        var oh: Int { outputSize(h) }
        var ow: Int { outputSize(w) }
        var cg: Int { c / groups }
        var fg: Int { f / groups }
    }

    /// y[o, oy, ox] = Σ w[o, ci, i, j]·x[g·cg + ci, oy·s − p + i, ox·s − p + j] over the cells inside the input.
    static func forward(_ k: Case, x: [Double], w: [Double]) -> [Double] {
        var y = [Double](repeating: 0, count: k.f * k.oh * k.ow)
        for o in 0..<k.f {
            let g = o / k.fg
            for oy in 0..<k.oh {
                for ox in 0..<k.ow {
                    var s = 0.0
                    for ci in 0..<k.cg {
                        for i in 0..<k.k {
                            for j in 0..<k.k {
                                let iy = oy * k.stride - k.pad + i, ix = ox * k.stride - k.pad + j
                                guard iy >= 0, iy < k.h, ix >= 0, ix < k.w else { continue }
                                s += w[((o * k.cg + ci) * k.k + i) * k.k + j] * x[((g * k.cg + ci) * k.h + iy) * k.w + ix]
                            }
                        }
                    }
                    y[(o * k.oh + oy) * k.ow + ox] = s
                }
            }
        }
        return y
    }

    /// The adjoint loops: each product w·x of the forward sends dy·w to x and dy·x to w.
    static func backward(_ k: Case, x: [Double], w: [Double], dy: [Double]) -> (dx: [Double], dw: [Double]) {
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
        for o in 0..<k.f {
            let g = o / k.fg
            for oy in 0..<k.oh {
                for ox in 0..<k.ow {
                    let d = dy[(o * k.oh + oy) * k.ow + ox]
                    for ci in 0..<k.cg {
                        for i in 0..<k.k {
                            for j in 0..<k.k {
                                let iy = oy * k.stride - k.pad + i, ix = ox * k.stride - k.pad + j
                                guard iy >= 0, iy < k.h, ix >= 0, ix < k.w else { continue }
                                let xi = ((g * k.cg + ci) * k.h + iy) * k.w + ix, wi = ((o * k.cg + ci) * k.k + i) * k.k + j
                                dx[xi] += d * w[wi]
                                dw[wi] += d * x[xi]
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw)
    }

    static func source(_ k: Case) -> String {
        """
        model ceil_conv {
            input x: f64[1, \(k.c), \(k.h), \(k.w)]
            input r: f64[1, \(k.f), \(k.oh), \(k.ow)]
            param w: f64[\(k.f), \(k.cg), \(k.k), \(k.k)] = zeros
            output y = conv2d(x, w, stride: \(k.stride), pad: \(k.pad), groups: \(k.groups), round: ceil)
            minimize sum(y * r)
        }
        """
    }

    /// The gradient program of a case: forward, and the gradients with respect to w and x.
    static func gradientProgram(_ k: Case) throws -> Program {
        let file = SourceFile(path: "ceil.dlg", text: source(k))
        var o = PipelineOptions()
        o.differentiate = true
        o.inputGradients = true
        o.stage = .planned
        let (g, diags, _) = Pipeline.compile(file, options: o)
        guard let g else {
            throw ExecutionError(DiagnosticsFormatter().format(diags.sorted, in: file))
        }
        return try Lowering.lower(g)
    }

    static func values(_ n: Int, seed: UInt64) -> [Double] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Double(Int((s >> 33) % 2001) - 1000) / 500
        }
    }

    /// The worked example: 8×8 input 0…63, all-ones 3×3 filter, stride 2 → a 4×4 output whose
    /// last column reads one column of zeros: [81, 99, 117, 87] on the first row.
    @Test func workedExample() throws {
        let p = try lowered("""
            model ceil_example {
                input x: f32[1, 1, 8, 8]
                param w: f32[1, 1, 3, 3] = ones
                output y = conv2d(x, w, stride: 2, round: ceil)
            }
            """, stage: .planned)
        let x = try NDArray((0..<64).map(Float.init), shape: [1, 1, 8, 8])
        let y = try #require(try run(p, ["x": x])["y"])
        #expect(y.shape == [1, 1, 4, 4])
        #expect(Array(y.toDoubles().prefix(4)) == [81, 99, 117, 87])
        let k = Case(c: 1, h: 8, w: 8, f: 1, k: 3, stride: 2, pad: 0, groups: 1)
        #expect(y.toDoubles() == Self.forward(k, x: (0..<64).map(Double.init), w: Array(repeating: 1, count: 9)))
    }

    static let cases: [Case] = [
        Case(c: 2, h: 8, w: 7, f: 3, k: 3, stride: 2, pad: 0, groups: 1),
        Case(c: 2, h: 9, w: 10, f: 2, k: 3, stride: 3, pad: 0, groups: 1),
        Case(c: 3, h: 8, w: 8, f: 2, k: 3, stride: 2, pad: 1, groups: 1),
        Case(c: 1, h: 10, w: 11, f: 2, k: 4, stride: 3, pad: 1, groups: 1),
        Case(c: 4, h: 9, w: 8, f: 4, k: 3, stride: 3, pad: 1, groups: 2),
        // Depthwise: one filter per channel (groups = channels), and two.
        Case(c: 3, h: 8, w: 8, f: 3, k: 3, stride: 2, pad: 0, groups: 3),
        Case(c: 2, h: 10, w: 9, f: 4, k: 3, stride: 3, pad: 1, groups: 2),
    ]

    @Test(arguments: cases)
    func forwardAndGradientsMatchTheLoops(_ k: Case) throws {
        // Every case rounds up somewhere: the ceil output is larger than the floor one.
        let floor = { (n: Int) in (n + 2 * k.pad - k.k) / k.stride + 1 }
        #expect(k.oh > floor(k.h) || k.ow > floor(k.w), "\(k) does not exercise ceil rounding")
        let p = try Self.gradientProgram(k)
        let x = Self.values(k.c * k.h * k.w, seed: 1), w = Self.values(k.f * k.cg * k.k * k.k, seed: 2)
        let r = Self.values(k.f * k.oh * k.ow, seed: 3)
        let e = try Executor(p, threads: 2)
        e.initializeState(seed: 1)
        try e.setInput(try #require(p.inputIndex(named: "x")), try NDArray(x, shape: [1, k.c, k.h, k.w]))
        try e.setInput(try #require(p.inputIndex(named: "r")), try NDArray(r, shape: [1, k.f, k.oh, k.ow]))
        e.setValues(p.state[try #require(p.stateIndex(named: "w"))].buffer, w)
        try e.run()
        let y = e.output(try #require(p.outputs.firstIndex { $0.name == "y" }))
        #expect(y.shape == [1, k.f, k.oh, k.ow])
        expectClose(y.toDoubles(), Self.forward(k, x: x, w: w), tolerance: 1e-12)
        let (dx, dw) = Self.backward(k, x: x, w: w, dy: r)
        let wGrad = try #require(p.gradients.first { p.state[$0.slot].name == "w" })
        let xGrad = try #require(p.inputGradients.first { p.inputs[$0.input].name == "x" })
        expectClose(e.values(wGrad.buffer), dw, tolerance: 1e-12)
        expectClose(e.values(xGrad.buffer), dx, tolerance: 1e-12)
    }
}
