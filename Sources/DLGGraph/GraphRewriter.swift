/// Rebuilds a graph node by node, so a pass can keep, replace or expand each
/// node while the result stays in topological order. Values of the old graph
/// map to values of the new one; outputs, the loss, updates, gradients and
/// layer records follow the map.
public struct GraphRewriter {
    public let old: Graph
    public var graph: Graph
    /// New value for each old value (−1 until emitted).
    public var map: [ValueID]

    public init(_ g: Graph) {
        old = g
        graph = g
        graph.nodes = []
        map = Array(repeating: -1, count: g.nodes.count)
    }

    /// The new value standing for an old one.
    public subscript(_ old: ValueID) -> ValueID { map[old] }

    /// Copies an old node with its operands mapped.
    @discardableResult
    public mutating func keep(_ n: Node) -> ValueID {
        var m = n
        m.id = graph.nodes.count
        m.inputs = n.inputs.map { map[$0] }
        if let o = m.origin { m.origin = GradientOrigin(forward: o.forward >= 0 && o.forward < map.count ? map[o.forward] : -1, rule: o.rule) }
        graph.nodes.append(m)
        map[n.id] = m.id
        return m.id
    }

    /// Old value `n` is computed by new value `v` from now on.
    public mutating func replace(_ n: ValueID, with v: ValueID) { map[n] = v }

    /// Adds a new node (operands are new values), checked by its shape rule.
    public mutating func add(_ op: Op, _ inputs: [ValueID], _ attrs: Attributes = Attributes(), like n: Node) throws(ShapeError) -> ValueID {
        let id = try graph.add(op, inputs, attrs, loc: n.loc, label: n.label, origin: n.origin)
        graph.nodes[id].step = n.step
        return id
    }

    /// Finishes: remaps the graph-level references.
    public mutating func finish() -> Graph {
        var g = graph
        g.plan = nil
        g.outputs = old.outputs.map { GraphOutput(name: $0.name, value: map[$0.value], loc: $0.loc) }
        g.loss = old.loss.map { map[$0] }
        g.updates = old.updates.map { StateUpdate(target: map[$0.target], value: map[$0.value]) }
        var grads: [ValueID: ValueID] = [:]
        for (p, d) in old.gradients where map[p] >= 0 && map[d] >= 0 { grads[map[p]] = map[d] }
        g.gradients = grads
        func remap(_ records: [LayerRecord]) -> [LayerRecord] {
            records.map { r in
                var r = r
                r.output = r.output.flatMap { $0 < map.count && map[$0] >= 0 ? map[$0] : nil }
                r.params = r.params.compactMap { $0 < map.count && map[$0] >= 0 ? map[$0] : nil }
                r.children = remap(r.children)
                return r
            }
        }
        g.layers = remap(old.layers)
        return g
    }
}
