import DLGGraph

/// Computes at compile time what depends only on constants, asking each
/// op's declaration how (`OpDecl.fold`): elementwise functions of literal
/// tensors (through their one definition, as the f64 kernels compute them),
/// reshapes and broadcasts of constants, and `axis_size` once its axes are
/// known (a bound batch size). Results larger than `maxElements` stay
/// computed at run time.
public struct ConstantFolding: GraphPass {
    public var name: String { "constant-folding" }
    public var summary: String { "evaluate ops whose operands are constants; sizes of bound axes become constants" }
    public var details: String {
        """
        Evaluates ops whose operands are all constants (small
        results only) and replaces `axis_size` by a constant once its axes are bound.
        """
    }
    public static let maxElements = 4096
    public init() {}

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        var rw = GraphRewriter(g)
        var changed = false
        for n in g.nodes {
            if let v = fold(n, rw) {
                let c = rw.graph.addConstant(v, dtype: n.type.dtype, loc: n.loc)
                rw.graph[c].label = n.label
                rw.graph[c].origin = n.origin
                rw.replace(n.id, with: c)
                changed = true
            } else {
                rw.keep(n)
            }
        }
        if changed { g = rw.finish() }
        return changed
    }

    func fold(_ n: Node, _ rw: GraphRewriter) -> TensorLiteral? {
        guard let rule = n.decl.fold, n.type.dtype.isFloat, let out = n.type.shape.knownDims,
              out.reduce(1, *) <= ConstantFolding.maxElements else { return nil }
        let operands = n.inputs.map { rw.graph[rw[$0]] }
        let constants = operands.map { $0.op == .constant ? $0.attrs.constant.value : nil }
        let v = rule(FoldContext(node: n, constants: constants, inputTypes: operands.map(\.type), shape: out))
        // A folded value has the node's shape (a rule never changes it).
        return v?.shape == out ? v : nil
    }
}
