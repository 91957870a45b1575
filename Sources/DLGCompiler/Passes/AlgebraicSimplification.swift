import DLGGraph

/// Removes operations that do nothing, asking each op's declaration for its
/// identities (`OpDecl.simplify`): x + 0, x − 0, x·1, x/1, −(−x),
/// transposes that undo each other, reshape and broadcast to the same shape,
/// chains of reshapes, a concat of one tensor, and stop_gradient once the
/// backward graph exists.
public struct AlgebraicSimplification: GraphPass {
    public var name: String { "algebraic" }
    public var summary: String { "x+0, x·1, x/1, −(−x), transpose∘transpose, reshape chains and other identities" }
    public var details: String {
        """
        Removes identities: x+0, x−0, x·1, x/1, −(−x), transposes that
        undo each other (and composes the rest), reshape or broadcast to the same
        shape, reshape chains, a one-tensor concat, and `stop_gradient` once the
        backward graph exists.
        """
    }
    public init() {}

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        var rw = GraphRewriter(g)
        var changed = false
        // Only the backward pass cares about stop_gradient; once it exists (or never will) the value is x.
        let forwardOnly = !g.gradients.isEmpty || !g.training
        for n in g.nodes {
            if let v = simplify(n, &rw, forwardOnly: forwardOnly) {
                rw.replace(n.id, with: v)
                changed = true
            } else {
                rw.keep(n)
            }
        }
        if changed { g = rw.finish() }
        return changed
    }

    func simplify(_ n: Node, _ rw: inout GraphRewriter, forwardOnly: Bool) -> ValueID? {
        guard let rule = n.decl.simplify else { return nil }
        var mapped = n
        mapped.inputs = n.inputs.map { rw[$0] }
        switch rule(SimplifyContext(node: mapped, graph: rw.graph, forwardOnly: forwardOnly)) {
        case nil: return nil
        case .value(let v)?:
            // The replacement must have the node's type (x + 0 with a broadcast 0 keeps the add).
            return rw.graph[v].type == n.type ? v : nil
        case .node(let op, let inputs, let attrs)?:
            return try? rw.add(op, inputs, attrs, like: n)
        }
    }
}
