import DLGGraph

/// Computes each distinct value once: two nodes with the same op, operands
/// and attributes (or two equal constants) become one. Inputs and parameters
/// are never merged; dropout masks differ by their `stream`.
public struct CommonSubexpressionElimination: GraphPass {
    public var name: String { "cse" }
    public var summary: String { "merge nodes with the same op, operands and attributes, and equal constants" }
    public var details: String {
        """
        Merges ops with the same op, operands and attributes, and equal
        constants. Inputs and parameters are never merged.
        """
    }
    public init() {}

    struct Key: Hashable {
        var op: Op
        var inputs: [ValueID]
        var attrs: Attributes
        var dtype: DType
    }

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        var rw = GraphRewriter(g)
        var seen: [Key: ValueID] = [:]
        var changed = false
        for n in g.nodes {
            if n.op == .input || n.op == .param {
                rw.keep(n)
                continue
            }
            let key = Key(op: n.op, inputs: n.inputs.map { rw[$0] }, attrs: n.attrs, dtype: n.type.dtype)
            if let existing = seen[key] {
                rw.replace(n.id, with: existing)
                changed = true
            } else {
                seen[key] = rw.keep(n)
            }
        }
        if changed { g = rw.finish() }
        return changed
    }
}
