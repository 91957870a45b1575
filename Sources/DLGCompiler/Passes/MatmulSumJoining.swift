import DLGGraph

/// Turns a sum of matrix products into one product over joined operands:
/// Σₖ op(Aₖ)·op(Bₖ) = op(concat Aₖ)·op(concat Bₖ), the operands joined along
/// the axis the products contract. Backpropagation through an unrolled
/// recurrence sums one weight gradient per time step (dW_hh = Σₜ dyₜᵀ·hₜ₋₁);
/// joined, it is one GEMM over all steps, like the input projection's, and the
/// per-step [gates·H, H] pieces never exist.
public struct MatmulSumJoining: GraphPass {
    public var name: String { "join-matmul-sums" }
    public var summary: String { "a sum of matrix products with a common shape becomes one product of joined operands" }
    public var details: String {
        """
        A tree of adds whose leaves include two or more rank-2 matmuls of the
        same transposes and result shape, each read only by the tree, becomes one
        matmul of their operands joined (concat) along the contracted axis, plus the
        other leaves: Σₖ op(Aₖ)·op(Bₖ) = op([A₁; A₂; …])·op([B₁; B₂; …]). It is
        done when the joined operands are no larger than the products they
        replace. Backpropagation through an unrolled recurrence gives such a sum
        (the recurrent weight's gradient, one product per time step): it becomes
        one GEMM over all steps, and the per-step products are never stored.
        """
    }
    public init() {}

    /// A leaf product: the matmul and where its contraction runs in each operand.
    struct Product {
        var node: Node
        /// The contracted axis of A and of B.
        var axisA: Int, axisB: Int
        /// The contracted length.
        var k: Int
    }

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        let users = g.users()
        /// An add that only feeds the tree above it (same type on both sides, one reader that is such an add).
        func plainAdd(_ n: Node) -> Bool {
            n.op == .add && n.type.dtype.isFloat && n.inputs.allSatisfy { g[$0].type == n.type }
        }
        let pinned = g.pinnedValues
        func inner(_ v: ValueID) -> Bool {
            users[v].count == 1 && !pinned.contains(v) && plainAdd(g[users[v][0]])
        }
        var plans: [ValueID: (products: [Product], others: [ValueID])] = [:]
        for n in g.nodes where plainAdd(n) && !inner(n.id) {
            // The leaves of the tree rooted here.
            var leaves: [ValueID] = []
            var stack = [n.id]
            while let v = stack.popLast() {
                for x in g[v].inputs.reversed() {
                    if plainAdd(g[x]), inner(x) { stack.append(x) } else { leaves.append(x) }
                }
            }
            guard leaves.count >= 2 else { continue }
            var groups: [[Product]] = []
            var others: [ValueID] = []
            for x in leaves {
                let m = g[x]
                guard m.op == .matmul, inner(x), m.type == n.type, m.type.rank == 2,
                      g[m.inputs[0]].type.rank == 2, g[m.inputs[1]].type.rank == 2,
                      let a = g[m.inputs[0]].type.shape.knownDims, g[m.inputs[1]].type.shape.knownDims != nil else {
                    others.append(x)
                    continue
                }
                let attrs = m.attrs.matmul
                let axisA = attrs.transposeA ? 0 : 1, axisB = attrs.transposeB ? 1 : 0
                let p = Product(node: m, axisA: axisA, axisB: axisB, k: a[axisA])
                if let i = groups.firstIndex(where: { $0[0].node.attrs == m.attrs && g[$0[0].node.inputs[0]].type.dtype == g[m.inputs[0]].type.dtype }) {
                    groups[i].append(p)
                } else {
                    groups.append([p])
                }
            }
            // The largest group is joined, when that stores less than the products would.
            guard let best = groups.max(by: { $0.count < $1.count }), best.count >= 2,
                  let out = n.type.shape.knownDims else { continue }
            let (m, nn) = (out[0], out[1])
            let joined = best.reduce(0) { $0 + $1.k } * (m + nn)
            guard joined <= best.count * m * nn else { continue }
            for group in groups where group[0].node.id != best[0].node.id {
                others += group.map(\.node.id)
            }
            plans[n.id] = (best, others)
        }
        guard !plans.isEmpty else { return false }
        var rw = GraphRewriter(g)
        for n in g.nodes {
            guard let plan = plans[n.id] else {
                rw.keep(n)
                continue
            }
            let first = plan.products[0]
            let origin = n.origin.map { GradientOrigin(forward: $0.forward >= 0 && $0.forward < rw.map.count ? rw[$0.forward] : -1,
                                                       rule: $0.rule) }
            do {
                let a = try rw.graph.add(.concat, plan.products.map { rw[$0.node.inputs[0]] }, .axis(first.axisA),
                                         loc: n.loc, label: n.label, origin: origin)
                let b = try rw.graph.add(.concat, plan.products.map { rw[$0.node.inputs[1]] }, .axis(first.axisB),
                                         loc: n.loc, label: n.label, origin: origin)
                var sum = try rw.graph.add(.matmul, [a, b], first.node.attrs, loc: n.loc, label: n.label, origin: origin)
                for o in plan.others {
                    sum = try rw.graph.add(.add, [sum, rw[o]], loc: n.loc, label: n.label, origin: origin)
                }
                rw.replace(n.id, with: sum)
            } catch {
                // Operands that do not join (not expected: the shapes were checked) leave the sum as it is.
                rw.keep(n)
            }
        }
        g = rw.finish()
        return true
    }
}
