import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import Foundation
import Testing

/// Attention and its pieces against plain references written here, in f64: products with
/// broadcast batch axes as explicit sums, the causal and masked softmax, where, reverse,
/// chunk, scaled dot-product and multi-head attention as explicit sums over heads and keys
/// (PyTorch's nn.MultiheadAttention parameter layout), and the sinusoidal position table of
/// "Attention is all you need". Their gradients against finite differences:
/// GradientCases+Attention.
@Suite struct AttentionTests {
    static func values(_ n: Int, scale: Double = 1, seed: UInt64) -> [Double] {
        SequenceLayerTests.values(n, scale: scale, seed: seed)
    }

    /// Runs a forward model on f64 inputs given by name (parameters set by name) and returns output 0.
    static func run(_ source: String, inputs: [String: ([Double], [Int])], params: [String: [Double]] = [:],
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> [Double] {
        let p = try lowered(source, stage: .planned, sourceLocation: sourceLocation)
        let e = try Executor(p, threads: 2)
        e.initializeState(seed: 1)
        for (name, v) in params {
            let i = try #require(p.stateIndex(named: name), "no parameter \(name)", sourceLocation: sourceLocation)
            e.setValues(p.state[i].buffer, v)
        }
        for (name, (v, shape)) in inputs {
            try e.setInput(try #require(p.inputIndex(named: name), sourceLocation: sourceLocation), try NDArray(v, shape: shape))
        }
        try e.run()
        return e.output(0).toDoubles()
    }

    /// Row-major index of [i0, i1, …] in `shape`.
    static func at(_ shape: [Int], _ index: [Int]) -> Int {
        zip(shape, index).reduce(0) { $0 * $1.0 + $1.1 }
    }

    // MARK: Batched matmul

    /// [2, 1, 3, 4] @ [3, 4, 5] → [2, 3, 3, 5] and the transposed forms: each output matrix is
    /// a's batch (b, 0) times b's batch h, as sums.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func batchedMatmulBroadcastsLeadingAxes(_ t: (Bool, Bool)) throws {
        let (ta, tb) = t
        let (bn, hn, m, k, n) = (2, 3, 3, 4, 5)
        let sa = ta ? [bn, 1, k, m] : [bn, 1, m, k], sb = tb ? [hn, n, k] : [hn, k, n]
        let a = Self.values(bn * m * k, seed: 1), b = Self.values(hn * k * n, seed: 2)
        let y = try Self.run("""
            model mm {
                input a: f64\(sa)
                input b: f64\(sb)
                output y = matmul(a, b, transpose_a: \(ta), transpose_b: \(tb))
            }
            """, inputs: ["a": (a, sa), "b": (b, sb)])
        var expected: [Double] = []
        for bi in 0..<bn { for h in 0..<hn { for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for l in 0..<k {
                let av = a[Self.at(sa, ta ? [bi, 0, l, i] : [bi, 0, i, l])]
                let bv = b[Self.at(sb, tb ? [h, j, l] : [h, l, j])]
                s += av * bv
            }
            expected.append(s)
        } } } }
        expectClose(y, expected, tolerance: 1e-12)
    }

    /// A shared matrix on the left of a batch: [3, 4] @ [2, 4, 5] → [2, 3, 5].
    @Test func sharedMatrixTimesBatch() throws {
        let a = Self.values(12, seed: 3), b = Self.values(40, seed: 4)
        let y = try Self.run("""
            model mm {
                input a: f64[3, 4]
                input b: f64[2, 4, 5]
                output y = matmul(a, b)
            }
            """, inputs: ["a": (a, [3, 4]), "b": (b, [2, 4, 5])])
        var expected: [Double] = []
        for bi in 0..<2 { for i in 0..<3 { for j in 0..<5 {
            expected.append((0..<4).reduce(0) { $0 + a[i * 4 + $1] * b[bi * 20 + $1 * 5 + j] })
        } } }
        expectClose(y, expected, tolerance: 1e-12)
    }

    // MARK: Masks

    static func softmaxRow(_ v: [Double]) -> [Double] {
        let m = v.max()!
        let e = v.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Row i of a causal softmax is the softmax of its first i + 1 entries, then zeros; also
    /// with more keys than queries (the mask aligned top-left, as PyTorch's is_causal).
    @Test(arguments: [(4, 4), (3, 5)])
    func causalSoftmaxKeepsKeysUpToTheQuery(_ qk: (Int, Int)) throws {
        let (q, k) = qk
        let x = Self.values(2 * q * k, scale: 3, seed: 5)
        let y = try Self.run("""
            model s {
                input x: f64[2, \(q), \(k)]
                output y = softmax(x, causal: true)
            }
            """, inputs: ["x": (x, [2, q, k])])
        var expected: [Double] = []
        for r in 0..<(2 * q) {
            let i = r % q
            let row = Array(x[(r * k)..<(r * k + k)])
            expected += Self.softmaxRow(Array(row[0...min(i, k - 1)])) + Array(repeating: 0, count: k - min(i + 1, k))
        }
        expectClose(y, expected, tolerance: 1e-14)
    }

    /// mask: keeps the entries where it is nonzero; where picks a or b; reverse and chunk.
    @Test func maskWhereReverseChunk() throws {
        let x = Self.values(12, scale: 2, seed: 6)
        let mask: [Double] = [1, 0, 1, 1, 0, 1]
        let y = try Self.run("""
            model s {
                input x: f64[2, 6]
                input m: i32[6]
                output y = softmax(x, mask: m)
            }
            """, inputs: ["x": (x, [2, 6]), "m": (mask, [6])])
        var expected: [Double] = []
        for r in 0..<2 {
            let kept = (0..<6).filter { mask[$0] != 0 }.map { x[r * 6 + $0] }
            var p = Self.softmaxRow(kept)[...]
            for j in 0..<6 { expected.append(mask[j] != 0 ? p.removeFirst() : 0) }
        }
        expectClose(y, expected, tolerance: 1e-14)

        let w = try Self.run("""
            model s {
                input x: f64[2, 6]
                input c: f64[6]
                output y = where(c, x, -x)
            }
            """, inputs: ["x": (x, [2, 6]), "c": (mask, [6])])
        expectClose(w, (0..<12).map { mask[$0 % 6] != 0 ? x[$0] : -x[$0] }, tolerance: 0)

        let r = try Self.run("""
            model s {
                input x: f64[2, 6]
                output y = reverse(x, axis: 1)
            }
            """, inputs: ["x": (x, [2, 6])])
        expectClose(r, (0..<12).map { x[($0 / 6) * 6 + 5 - $0 % 6] }, tolerance: 0)

        let ch = try Self.run("""
            model s {
                input x: f64[2, 6]
                output y = chunk(x, 3, 1)
            }
            """, inputs: ["x": (x, [2, 6])])
        expectClose(ch, [x[2], x[3], x[8], x[9]], tolerance: 0)
    }

    // MARK: Attention

    /// Attention of q [B, Tq, D], k, v [B, Tk, ·] with `heads` heads, as sums: the head's
    /// scores s_ij = Σ_d q_id k_jd / √(D/heads), keys past the query (causal) or masked left out.
    static func reference(q: [Double], k: [Double], v: [Double], batch: Int, tq: Int, tk: Int, d: Int, dv: Int, heads: Int,
                          causal: Bool, keep: (Int, Int) -> Bool = { _, _ in true }) -> [Double] {
        let dh = d / heads, dvh = dv / heads
        var out = [Double](repeating: 0, count: batch * tq * dv)
        for b in 0..<batch { for h in 0..<heads { for i in 0..<tq {
            var scores: [Double] = [], keys: [Int] = []
            for j in 0..<tk where (!causal || j <= i) && keep(i, j) {
                var s = 0.0
                for c in 0..<dh { s += q[(b * tq + i) * d + h * dh + c] * k[(b * tk + j) * d + h * dh + c] }
                scores.append(s / Double(dh).squareRoot())
                keys.append(j)
            }
            let p = softmaxRow(scores)
            for c in 0..<dvh {
                out[(b * tq + i) * dv + h * dvh + c] = zip(p, keys).reduce(0) { $0 + $1.0 * v[(b * tk + $1.1) * dv + h * dvh + c] }
            }
        } } }
        return out
    }

    @Test(arguments: [(1, false), (2, false), (2, true), (3, true)])
    func attentionIsExplicitSums(_ form: (Int, Bool)) throws {
        let (heads, causal) = form
        let (batch, tq, tk, d, dv) = (2, 4, 5, 6, 3 * heads)
        let q = Self.values(batch * tq * d, seed: 7), k = Self.values(batch * tk * d, seed: 8), v = Self.values(batch * tk * dv, seed: 9)
        let y = try Self.run("""
            model a {
                input q: f64[\(batch), \(tq), \(d)]
                input k: f64[\(batch), \(tk), \(d)]
                input v: f64[\(batch), \(tk), \(dv)]
                output y = attention(q, k, v, heads: \(heads), causal: \(causal))
            }
            """, inputs: ["q": (q, [batch, tq, d]), "k": (k, [batch, tk, d]), "v": (v, [batch, tk, dv])])
        let expected = Self.reference(q: q, k: k, v: v, batch: batch, tq: tq, tk: tk, d: d, dv: dv, heads: heads, causal: causal)
        expectClose(y, expected, tolerance: 1e-10)
    }

    /// With a [Tq, Tk] keep-mask: the masked keys take no part.
    @Test func attentionWithAMask() throws {
        let (batch, t, d) = (2, 4, 4)
        let q = Self.values(batch * t * d, seed: 10), k = Self.values(batch * t * d, seed: 11), v = Self.values(batch * t * d, seed: 12)
        let keep: (Int, Int) -> Bool = { i, j in !(j == 2 && i != 2) }
        let mask = (0..<t).map { i in "[" + (0..<t).map { j in keep(i, j) ? "1" : "0" }.joined(separator: ", ") + "]" }.joined(separator: ", ")
        let y = try Self.run("""
            model a {
                input q: f64[\(batch), \(t), \(d)]
                input k: f64[\(batch), \(t), \(d)]
                input v: f64[\(batch), \(t), \(d)]
                output y = attention(q, k, v, heads: 2, mask: [\(mask)])
            }
            """, inputs: ["q": (q, [batch, t, d]), "k": (k, [batch, t, d]), "v": (v, [batch, t, d])])
        let expected = Self.reference(q: q, k: k, v: v, batch: batch, tq: t, tk: t, d: d, dv: d, heads: 2, causal: false, keep: keep)
        expectClose(y, expected, tolerance: 1e-10)
    }

    /// multi_head_attention in PyTorch's layout: q, k, v = x·W_inᵀ + b_in (rows 0..<D, D..<2D,
    /// 2D..<3D of in_proj_weight), the heads' attention, then ·W_outᵀ + b_out.
    @Test(arguments: [false, true])
    func multiHeadAttentionInPyTorchLayout(_ causal: Bool) throws {
        let (batch, t, d, heads) = (2, 5, 6, 3)
        let x = Self.values(batch * t * d, seed: 13)
        let win = Self.values(3 * d * d, scale: 0.5, seed: 14), bin = Self.values(3 * d, scale: 0.5, seed: 15)
        let wout = Self.values(d * d, scale: 0.5, seed: 16), bout = Self.values(d, scale: 0.5, seed: 17)
        let y = try Self.run("""
            model a {
                input x: f64[\(batch), \(t), \(d)]
                output y = multi_head_attention(x, heads: \(heads), causal: \(causal))
            }
            """, inputs: ["x": (x, [batch, t, d])],
            params: ["y.in_proj_weight": win, "y.in_proj_bias": bin, "y.out_proj.weight": wout, "y.out_proj.bias": bout])
        func project(_ part: Int) -> [Double] {
            var r: [Double] = []
            for row in 0..<(batch * t) { for o in 0..<d {
                let w = part * d + o
                r.append(bin[w] + (0..<d).reduce(0) { $0 + win[w * d + $1] * x[row * d + $1] })
            } }
            return r
        }
        let a = Self.reference(q: project(0), k: project(1), v: project(2), batch: batch, tq: t, tk: t, d: d, dv: d, heads: heads,
                               causal: causal)
        var expected: [Double] = []
        for row in 0..<(batch * t) { for o in 0..<d {
            expected.append(bout[o] + (0..<d).reduce(0) { $0 + wout[o * d + $1] * a[row * d + $1] })
        } }
        expectClose(y, expected, tolerance: 1e-10)
    }

    /// The sinusoids of "Attention is all you need": PE[t, 2i] = sin(t/10000^(2i/D)),
    /// PE[t, 2i+1] = cos(t/10000^(2i/D)), added to x.
    @Test func sinusoidalPositionEmbedding() throws {
        let (t, d) = (5, 6)
        let x = Self.values(t * d, seed: 18)
        let y = try Self.run("""
            model p {
                input x: f64[1, \(t), \(d)]
                output y = position_embedding(x, kind: sinusoidal)
            }
            """, inputs: ["x": (x, [1, t, d])])
        var expected: [Double] = []
        for pos in 0..<t { for j in 0..<d {
            let angle = Double(pos) / pow(10000, Double(j - j % 2) / Double(d))
            expected.append(x[pos * d + j] + (j % 2 == 0 ? sin(angle) : cos(angle)))
        } }
        expectClose(y, expected, tolerance: 1e-12)
    }

    /// The scores are stored once: the causal softmax writes its probabilities over the
    /// scores (memory planning's in-place decision), in the forward and training programs.
    @Test func attentionScoresAreStoredOnce() throws {
        for training in [false, true] {
            let p = try lowered("""
                model a {
                    input x: f32[2, 16, 8]
                    input y: f32[2, 16, 8]
                    h = multi_head_attention(x, heads: 2, causal: true)
                    output out = h
                    minimize mse(h, y)
                }
                """, training: training, stage: .planned)
            let softmaxes = p.instructions.filter { $0.op == .causal_softmax }
            #expect(softmaxes.count == 1)
            for s in softmaxes { #expect(s.inPlace?.input == 0, "causal_softmax did not write over its scores: \(String(describing: s.inPlace))") }
        }
    }
}
