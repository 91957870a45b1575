import DLGGraph

/// In an inference graph, a batchnorm that follows a convolution or a dense
/// layer becomes part of it: with s = γ/√(running_var + ε),
///
///     W′ = W·s (per output channel),  b′ = (b − running_mean)·s + β,
///
/// so the activation-sized subtract, multiply, multiply and add disappear and
/// only parameter-sized arithmetic remains. Matches the inference form the
/// `batchnorm` layer elaborates to.
public struct BatchNormFolding: GraphPass {
    public var name: String { "batchnorm-folding" }
    public var summary: String { "fold inference batchnorm into the preceding conv2d or dense weights and bias" }
    public var details: String {
        """
        In the inference form, a batchnorm after a conv2d or a
        dense layer becomes part of its weights: with s = γ/√(running_var + ε),
        W′ = W·s per output channel and b′ = (b − running_mean)·s + β. The four
        activation-sized operations disappear; only parameter-sized arithmetic
        remains.
        """
    }
    public init() {}

    struct Match {
        var anchor: Node          // conv2d or matmul
        var bias: ValueID?        // old id of its bias vector, if any
        var runningMean: ValueID, runningVar: ValueID, gamma: ValueID, beta: ValueID
        var eps: ValueID          // old id of the ε constant
    }

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        guard !g.training else { return false }
        let users = g.users()
        func single(_ v: ValueID) -> Bool { users[v].count == 1 && !g.outputs.contains { $0.value == v } }
        func reshapeOf(_ v: ValueID) -> ValueID? {
            let n = g[v]
            return n.op == .reshape ? n.inputs[0] : nil
        }
        var matches: [ValueID: Match] = [:]
        for n in g.nodes where n.op == .bias_add && n.attrs.axis == 1 {
            let scaled = g[n.inputs[0]]
            guard scaled.op == .mul, single(scaled.id) else { continue }
            let xhat = g[scaled.inputs[0]]
            guard let gamma = reshapeOf(scaled.inputs[1]), xhat.op == .mul, single(xhat.id) else { continue }
            let centered = g[xhat.inputs[0]], inv = g[xhat.inputs[1]]
            guard centered.op == .sub, single(centered.id), inv.op == .rsqrt else { continue }
            let ve = g[inv.inputs[0]]
            guard ve.op == .add, let rvar = reshapeOf(ve.inputs[0]), g[ve.inputs[1]].op == .constant,
                  let rmean = reshapeOf(centered.inputs[1]) else { continue }
            var a = g[centered.inputs[0]]
            var bias: ValueID? = nil
            if a.op == .bias_add, single(a.id) {
                bias = a.inputs[1]
                a = g[a.inputs[0]]
            }
            guard (a.op == .conv2d || (a.op == .matmul && a.attrs.matmul == MatmulAttributes()
                                        && g[a.inputs[1]].type.rank == 2 && a.type.rank == 2)),
                  single(a.id) else { continue }
            matches[n.id] = Match(anchor: a, bias: bias, runningMean: rmean, runningVar: rvar, gamma: gamma,
                                  beta: n.inputs[1], eps: ve.inputs[1])
        }
        guard !matches.isEmpty else { return false }
        var rw = GraphRewriter(g)
        for n in g.nodes {
            guard let m = matches[n.id] else {
                rw.keep(n)
                continue
            }
            do {
                let f = m.anchor.type.dims![1].value!
                let s = try rw.add(.mul, [try rw.add(.rsqrt, [try rw.add(.add, [rw[m.runningVar], rw[m.eps]], like: n)], like: n),
                                          rw[m.gamma]], like: n)
                let w = rw[m.anchor.inputs[1]]
                let wShape: Shape = m.anchor.op == .conv2d ? Shape([f, 1, 1, 1]) : Shape([1, f])
                let w2 = try rw.add(.mul, [w, try rw.add(.reshape, [s], .shape(wShape), like: n)], like: n)
                let shifted: ValueID
                if let b = m.bias {
                    shifted = try rw.add(.sub, [rw[b], rw[m.runningMean]], like: n)
                } else {
                    shifted = try rw.add(.neg, [rw[m.runningMean]], like: n)
                }
                let b2 = try rw.add(.add, [try rw.add(.mul, [shifted, s], like: n), rw[m.beta]], like: n)
                let y = try rw.add(m.anchor.op, [rw[m.anchor.inputs[0]], w2], m.anchor.attrs, like: m.anchor)
                rw.replace(n.id, with: try rw.add(.bias_add, [y, b2], .axis(1), like: n))
            } catch {
                rw.keep(n)
            }
        }
        g = rw.finish()
        return true
    }
}
