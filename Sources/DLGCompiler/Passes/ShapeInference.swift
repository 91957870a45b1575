import DLGGraph
import DLGSource

/// Re-derives every value's type from its op's shape rule, in order, after
/// substituting the bound symbols (`--bind B=64`) into inputs and shape
/// attributes. After this pass every type is as concrete as the bindings allow,
/// and any inconsistency introduced by an earlier transformation is an error
/// at the value's source location.
public struct ShapeInference: GraphPass {
    public var name: String { "shape-inference" }
    public var summary: String { "re-derive every type from the op rules, with bound symbols substituted" }
    public var details: String {
        """
        Substitutes bound sizes (`--bind B=64`, or a training
        run's batch) into inputs and shape attributes and re-derives every value's
        type from its op's rule. Elaboration already inferred types as it built the
        graph (layers need their input's shape to create parameters); this pass makes
        them concrete and re-checks them.
        """
    }
    public init() {}

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        var changed = false
        let b = g.bindings
        for i in g.nodes.indices {
            var n = g.nodes[i]
            if !b.isEmpty { n.attrs = n.attrs.substituting(b) }
            let ctxShape = ShapeContext(op: n.op, inputs: n.inputs.map { g.nodes[$0].type }, attrs: n.attrs,
                                        what: n.label.map { "\(n.op.rawValue) '\($0)'" })
            do {
                let t = try n.decl.inferType(ctxShape)
                if t != n.type || n.attrs != g.nodes[i].attrs {
                    changed = true
                    n.type = t
                }
                g.nodes[i] = n
            } catch {
                ctx.diagnostics.report(ShapeDiagnostic(error), at: n.loc ?? .point(0))
                return changed
            }
        }
        return changed
    }
}
