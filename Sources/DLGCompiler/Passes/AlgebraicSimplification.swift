import DLGGraph

/// Removes operations that do nothing: x + 0, x − 0, x·1, x/1, −(−x),
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
        for n in g.nodes {
            if let v = simplify(n, &rw) {
                rw.replace(n.id, with: v)
                changed = true
            } else {
                rw.keep(n)
            }
        }
        if changed { g = rw.finish() }
        return changed
    }

    /// True when `v` is a constant whose every element is `x`.
    func isConstant(_ v: ValueID, _ x: Double, _ rw: GraphRewriter) -> Bool {
        let n = rw.graph[v]
        guard n.op == .constant, let t = n.attrs.tensor("value") else { return false }
        return t.values.allSatisfy { $0 == x }
    }

    func simplify(_ n: Node, _ rw: inout GraphRewriter) -> ValueID? {
        let ins = n.inputs.map { rw[$0] }
        func same(_ v: ValueID) -> ValueID? { rw.graph[v].type == n.type ? v : nil }
        switch n.op {
        case .add:
            if isConstant(ins[1], 0, rw) { return same(ins[0]) }
            if isConstant(ins[0], 0, rw) { return same(ins[1]) }
        case .sub:
            if isConstant(ins[1], 0, rw) { return same(ins[0]) }
        case .mul:
            if isConstant(ins[1], 1, rw) { return same(ins[0]) }
            if isConstant(ins[0], 1, rw) { return same(ins[1]) }
        case .div:
            if isConstant(ins[1], 1, rw) { return same(ins[0]) }
        case .neg:
            let x = rw.graph[ins[0]]
            if x.op == .neg { return same(x.inputs[0]) }
        case .stop_gradient:
            // Only the backward pass cares; once it exists the forward value is x.
            if !rw.old.gradients.isEmpty || !rw.old.training { return same(ins[0]) }
        case .reshape, .broadcast_to:
            if rw.graph[ins[0]].type == n.type { return ins[0] }
            let x = rw.graph[ins[0]]
            if n.op == .reshape, x.op == .reshape {
                // reshape(reshape(y)) = reshape(y)
                if rw.graph[x.inputs[0]].type == n.type { return x.inputs[0] }
                return try? rw.add(.reshape, [x.inputs[0]], n.attrs, like: n)
            }
        case .transpose:
            let r = n.type.rank ?? 0
            let perm = n.attrs.ints("perm") ?? Array((0..<r).reversed())
            if perm == Array(0..<r) { return ins[0] }
            let x = rw.graph[ins[0]]
            if x.op == .transpose {
                let inner = x.attrs.ints("perm") ?? Array((0..<r).reversed())
                let composed = perm.map { inner[$0] }
                if composed == Array(0..<r) { return same(x.inputs[0]) }
                return try? rw.add(.transpose, [x.inputs[0]], ["perm": .ints(composed)], like: n)
            }
        case .concat:
            if ins.count == 1 { return same(ins[0]) }
        default:
            break
        }
        return nil
    }
}
