import DLGGraph
import DLGSource

private typealias E = ElaborationDiagnostic

/// Losses: each reduces to a scalar averaged over the batch.
enum Losses {
    static let prediction = ParamSpec.required("prediction", .tensor)
    static let target = ParamSpec.required("target", .tensor)

    static func loss(_ name: String, extra: [ParamSpec] = [],
                     _ body: @escaping @Sendable (Elaborator, BoundCall, ValueID, ValueID) -> Value) -> Builtin {
        Builtin(name: name, role: .loss, params: [prediction, target] + extra) { e, c in
            let layer = e.layerName(kind: name, createsParameters: false)
            let out = e.withLabel(layer) { () -> Value in
                let p = c.tensor("prediction")!, t = c.tensor("target")!
                return body(e, c, p, t)
            }
            e.record(layer, kind: name, output: out, params: [], at: c.range)
            return out
        }
    }

    static let all: [Builtin] = [
        // mean((ŷ − y)²) over every element.
        loss("mse") { e, c, p, t in
            guard e.sameShape(p, t, c), let d = e.lossOp(.sub, [p, t], c), let s = e.lossOp(.square, [d], c) else { return .poison }
            return e.emit(.reduce_mean, [s], .reduce(ReduceAttributes(axes: [])), at: c.range, what: "mse")
        },
        // ½·Σ (ŷ − y)² over each sample's elements, averaged over the batch.
        loss("sse") { e, c, p, t in
            guard e.sameShape(p, t, c), let d = e.lossOp(.sub, [p, t], c), let s = e.lossOp(.square, [d], c),
                  let perSample = e.sumPerSample(s, c),
                  let m = e.lossOp(.reduce_mean, [perSample], c, attrs: .reduce(ReduceAttributes(axes: []))) else { return .poison }
            return e.emit(.mul, [m, e.scalar(0.5, like: m, at: c.range)], at: c.range, what: "sse")
        },
        // mean(|ŷ − y|)
        loss("mae") { e, c, p, t in
            guard e.sameShape(p, t, c), let d = e.lossOp(.sub, [p, t], c), let a = e.lossOp(.abs, [d], c) else { return .poison }
            return e.emit(.reduce_mean, [a], .reduce(ReduceAttributes(axes: [])), at: c.range, what: "mae")
        },
        // Huber: ½r² for |r| ≤ δ, δ(|r| − ½δ) beyond, written as ½q² + δ(|r| − q) with q = min(|r|, δ).
        loss("huber", extra: [.optional("delta", .float, .float(1))]) { e, c, p, t in
            let delta = c.float("delta")!
            guard delta > 0 else {
                e.diagnostics.report(E.huberDelta(delta), at: c.range(of: "delta"))
                return .poison
            }
            let dc = e.scalar(delta, like: p, at: c.range), half = e.scalar(0.5, like: p, at: c.range)
            guard e.sameShape(p, t, c), let r = e.lossOp(.sub, [p, t], c), let a = e.lossOp(.abs, [r], c),
                  let q = e.lossOp(.minimum, [a, dc], c), let q2 = e.lossOp(.square, [q], c),
                  let quad = e.lossOp(.mul, [q2, half], c), let lin0 = e.lossOp(.sub, [a, q], c),
                  let lin = e.lossOp(.mul, [lin0, dc], c), let l = e.lossOp(.add, [quad, lin], c) else { return .poison }
            return e.emit(.reduce_mean, [l], .reduce(ReduceAttributes(axes: [])), at: c.range, what: "huber")
        },
        // −mean(y·log p + (1 − y)·log(1 − p)), with p clamped to [ε, 1 − ε], ε = 1e-7.
        loss("bce") { e, c, p, t in
            let eps = e.scalar(1e-7, like: p, at: c.range), one = e.scalar(1, like: p, at: c.range)
            guard e.sameShape(p, t, c), let pc = e.lossOp(.maximum, [p, eps], c), let lp = e.lossOp(.log, [pc], c),
                  let q = e.lossOp(.sub, [one, p], c), let qc = e.lossOp(.maximum, [q, eps], c),
                  let lq = e.lossOp(.log, [qc], c), let a = e.lossOp(.mul, [t, lp], c),
                  let nt = e.lossOp(.sub, [one, t], c), let b = e.lossOp(.mul, [nt, lq], c),
                  let s = e.lossOp(.add, [a, b], c), let m = e.lossOp(.reduce_mean, [s], c, attrs: .reduce(ReduceAttributes(axes: []))) else {
                return .poison
            }
            return e.emit(.neg, [m], at: c.range, what: "bce")
        },
        // mean(softplus(z) − y·z): binary cross-entropy on logits, stable for large |z|.
        loss("bce_logits") { e, c, z, t in
            guard e.sameShape(z, t, c), let sp = e.lossOp(.softplus, [z], c), let yz = e.lossOp(.mul, [t, z], c),
                  let l = e.lossOp(.sub, [sp, yz], c) else { return .poison }
            return e.emit(.reduce_mean, [l], .reduce(ReduceAttributes(axes: [])), at: c.range, what: "bce_logits")
        },
        // Softmax cross-entropy on logits: integer labels [N] (sparse) or target rows [N, C] (one-hot or soft).
        loss("cross_entropy") { e, c, z, t in
            let zt = e.graph[z].type, tt = e.graph[t].type
            let sparse = tt.dtype == .i32
            if sparse, let d = tt.dims, d.count == 2, d[1] == .known(1) {
                e.diagnostics.report(E.crossEntropyLabels(type: tt), at: c.range(of: "target"))
                return .poison
            }
            guard let per = e.lossOp(sparse ? .sparse_softmax_ce : .softmax_ce, [z, t], c) else { return .poison }
            _ = zt
            return e.emit(.reduce_mean, [per], .reduce(ReduceAttributes(axes: [])), at: c.range, what: "cross_entropy")
        },
        // mean(max(0, 1 − y·z)) with labels y ∈ {−1, 1}.
        loss("hinge") { e, c, z, t in
            let one = e.scalar(1, like: z, at: c.range)
            guard e.sameShape(z, t, c), let yz = e.lossOp(.mul, [t, z], c), let m = e.lossOp(.sub, [one, yz], c),
                  let r = e.lossOp(.relu, [m], c) else { return .poison }
            return e.emit(.reduce_mean, [r], .reduce(ReduceAttributes(axes: [])), at: c.range, what: "hinge")
        },
    ]
}

extension Elaborator {
    func lossOp(_ op: Op, _ inputs: [ValueID], _ c: BoundCall, attrs: Attributes = Attributes()) -> ValueID? {
        emitID(op, inputs, attrs, at: c.range, what: c.name)
    }

    /// Element-wise losses compare tensors of one shape; broadcasting [B, 1]
    /// against [B] would silently compare every pair.
    func sameShape(_ p: ValueID, _ t: ValueID, _ c: BoundCall) -> Bool {
        let a = graph[p].type, b = graph[t].type
        if a.dtype != b.dtype {
            diagnostics.report(E.lossDTypes(loss: c.name, prediction: a, target: b), at: c.range)
            return false
        }
        if a.shape != b.shape {
            diagnostics.report(E.lossShapes(loss: c.name, prediction: a, target: b), at: c.range)
            return false
        }
        return true
    }

    /// Σ over every axis but the first.
    func sumPerSample(_ s: ValueID, _ c: BoundCall) -> ValueID? {
        guard let r = graph[s].type.rank, r >= 1 else { return s }
        if r == 1 { return s }
        return lossOp(.reduce_sum, [s], c, attrs: .reduce(ReduceAttributes(axes: Array(1..<r))))
    }
}
