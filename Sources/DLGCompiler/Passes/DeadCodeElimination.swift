import DLGGraph

/// Removes values nothing needs: a value is live when it is an output, the
/// loss, a gradient, a state update (target or value), or an operand of a live
/// value. Inputs and parameters are kept only when live, except parameters
/// that are updated (they are state). Renumbers the survivors in order.
public struct DeadCodeElimination: GraphPass {
    public var name: String { "dce" }
    public var summary: String { "remove values that no output, loss, gradient or state update needs" }
    public var details: String {
        """
        Removes values that no output, loss, gradient or state update needs.
        """
    }
    public init() {}

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        var live = Array(repeating: false, count: g.nodes.count)
        var work: [ValueID] = g.outputs.map(\.value)
        if let l = g.loss { work.append(l) }
        for u in g.updates { work += [u.target, u.value] }
        for (p, d) in g.gradients { work += [p, d] }
        while let v = work.popLast() {
            if live[v] { continue }
            live[v] = true
            work += g[v].inputs
        }
        if live.allSatisfy({ $0 }) { return false }
        g.removeAll(keeping: live)
        return true
    }
}

extension Graph {
    /// Keeps the marked nodes, renumbering them (and every reference) in order.
    public mutating func removeAll(keeping keep: [Bool]) {
        var newID = Array(repeating: -1, count: nodes.count)
        var kept: [Node] = []
        for n in nodes where keep[n.id] {
            newID[n.id] = kept.count
            var m = n
            m.id = kept.count
            m.inputs = n.inputs.map { newID[$0] }
            if let o = m.origin { m.origin = GradientOrigin(forward: newID[o.forward] >= 0 ? newID[o.forward] : -1, rule: o.rule) }
            kept.append(m)
        }
        nodes = kept
        outputs = outputs.map { GraphOutput(name: $0.name, value: newID[$0.value], loc: $0.loc) }
        loss = loss.map { newID[$0] }
        updates = updates.map { StateUpdate(target: newID[$0.target], value: newID[$0.value]) }
        var grads: [ValueID: ValueID] = [:]
        for (p, d) in gradients { grads[newID[p]] = newID[d] }
        gradients = grads
        func remap(_ records: [LayerRecord]) -> [LayerRecord] {
            records.map { r in
                var r = r
                r.output = r.output.flatMap { newID[$0] >= 0 ? newID[$0] : nil }
                r.params = r.params.compactMap { newID[$0] >= 0 ? newID[$0] : nil }
                r.children = remap(r.children)
                return r
            }
        }
        layers = remap(layers)
    }
}
