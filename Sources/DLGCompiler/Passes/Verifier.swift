import DLGGraph

/// Checks the invariants every pass must keep: SSA order (operands defined
/// before use), arity, types equal to what the op rules derive, outputs and
/// updates pointing at existing values, and updates matching their targets' types.
public enum Verifier {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    public static func verify(_ g: Graph) -> [Failure] {
        var failures: [Failure] = []
        func fail(_ s: String) { failures.append(Failure(message: s)) }
        for (i, n) in g.nodes.enumerated() {
            if n.id != i { fail("\(g.ref(i)): id \(n.id) does not match its position \(i)") }
            if !n.decl.arity.accepts(n.inputs.count) {
                fail("\(g.ref(i)) = \(n.op.rawValue): \(n.inputs.count) operands, expected \(n.decl.arity)")
            }
            for x in n.inputs where x < 0 || x >= i {
                fail("\(g.ref(i)) = \(n.op.rawValue): operand %\(x) is not defined before its use")
            }
            if n.attrs.kind != n.decl.attributeKind {
                fail("\(g.ref(i)) = \(n.op.rawValue): attributes of kind \(n.attrs.kind.rawValue), expected \(n.decl.attributeKind.rawValue)")
            }
            if failures.isEmpty {
                let ctx = ShapeContext(op: n.op, inputs: n.inputs.map { g.nodes[$0].type }, attrs: n.attrs)
                do {
                    let t = try n.decl.inferType(ctx)
                    if t != n.type { fail("\(g.ref(i)) = \(n.op.rawValue): recorded type \(n.type), rule gives \(t)") }
                } catch {
                    fail("\(g.ref(i)) = \(n.op.rawValue): \(error.message)")
                }
            }
        }
        let count = g.nodes.count
        for o in g.outputs where o.value < 0 || o.value >= count { fail("output \(o.name) refers to a missing value") }
        if let l = g.loss {
            if l < 0 || l >= count { fail("the loss refers to a missing value") }
            else if g.nodes[l].type.shape.dims != [] { fail("the loss \(g.ref(l)) is not a scalar") }
        }
        for u in g.updates {
            guard u.target >= 0, u.target < count, u.value >= 0, u.value < count else {
                fail("an update refers to a missing value")
                continue
            }
            if g.nodes[u.target].op != .param { fail("update target \(g.ref(u.target)) is not a parameter") }
            if g.nodes[u.target].type != g.nodes[u.value].type {
                fail("update \(g.ref(u.target)) ← \(g.ref(u.value)): types \(g.nodes[u.target].type) and \(g.nodes[u.value].type) differ")
            }
        }
        return failures
    }
}
