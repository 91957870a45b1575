import DLGGraph
import DLGSource

/// Reverse-mode differentiation as a graph-to-graph pass. Walks the graph in
/// reverse topological order from the minimized scalar, applies each op's
/// gradient rule (its declaration's `vjp`), and adds up the contributions where
/// a value fans out. Only values that both depend on a trainable parameter
/// and influence the loss are differentiated; integer values, constants and
/// `stop_gradient` block the flow. The backward ops are ordinary IR: typed,
/// printable, and later optimized with the forward ops. Results land in
/// `graph.gradients` (parameter → gradient value).
public struct Autodiff: GraphPass {
    public var name: String { "autodiff" }
    public var summary: String { "append the backward graph: the gradient of the loss for every trainable parameter" }
    public var details: String {
        """
        Reverse-mode differentiation as a graph-to-graph pass. From the
        minimized scalar it walks the graph in reverse order, applies each op's
        gradient rule (the `vjp` of its declaration, which emits ordinary IR ops),
        and adds contributions where a value has several readers. Only values that
        both depend on a trainable parameter and influence the loss are
        differentiated; integer values, constants and `stop_gradient` block the flow.
        Every backward value records the forward value and rule it came from
        (`∂ of %12 by conv2d` in dumps). Errors: a loss that is not a float scalar,
        or no trainable parameter reaching it.
        """
    }
    /// Also differentiate with respect to floating-point inputs (for gradient checking).
    public var includeInputs: Bool

    public init(includeInputs: Bool = false) { self.includeInputs = includeInputs }

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        guard let loss = g.loss else {
            ctx.diagnostics.report(PassDiagnostic.nothingToMinimize(model: g.name), at: .point(0))
            return false
        }
        let lossLoc = g.lossLoc ?? .point(0)
        guard g[loss].type.shape.dims == [], g[loss].type.dtype.isFloat else {
            ctx.diagnostics.report(PassDiagnostic.gradientOfNonScalar(type: g[loss].type.description), at: lossLoc)
            return false
        }
        let count = g.nodes.count
        // Which values influence the loss.
        var influences = Array(repeating: false, count: count)
        influences[loss] = true
        for i in stride(from: loss, through: 0, by: -1) where influences[i] {
            if g[i].decl.properties.blocksGradient { continue }
            for x in g[i].inputs { influences[x] = true }
        }
        // Which values depend on something we differentiate with respect to.
        var depends = Array(repeating: false, count: count)
        var targets: [ValueID] = []
        for n in g.nodes {
            if n.decl.isSource {
                // Trainable parameters, and float inputs when asked.
                let target = n.op == .param ? n.attrs.param.trainable : n.op == .input && includeInputs && n.type.dtype.isFloat
                if target {
                    depends[n.id] = true
                    targets.append(n.id)
                }
            } else if !n.decl.properties.blocksGradient {
                depends[n.id] = n.type.dtype.isFloat && n.inputs.contains { depends[$0] }
            }
        }
        let needs = (0..<count).map { influences[$0] && depends[$0] }
        guard targets.contains(where: { needs[$0] }) else {
            ctx.diagnostics.report(PassDiagnostic.noTrainableParameters, at: lossLoc)
            return false
        }

        var grads: [ValueID: ValueID] = [:]
        let seed = g.addConstant(.scalar(1), dtype: g[loss].type.dtype, loc: lossLoc)
        g[seed].origin = GradientOrigin(forward: loss, rule: "seed")
        grads[loss] = seed
        for i in stride(from: loss, through: 0, by: -1) {
            guard needs[i], let dy = grads[i] else { continue }
            let node = g[i]
            if node.decl.isSource { continue }
            guard let rule = node.decl.vjp else {
                ctx.diagnostics.report(PassDiagnostic.noGradientRule(op: node.op.rawValue), at: node.loc ?? lossLoc)
                return true
            }
            let inputNeeds = node.inputs.map { needs[$0] }
            // The emitter takes the graph's storage (swapped, not copied) so that appending the
            // rule's ops never copies the whole node array: building the backward graph stays linear.
            var emitter = GradientEmitter(graph: Graph(name: g.name, source: nil, training: g.training), forward: node,
                                          needsGradient: inputNeeds, rule: node.op.rawValue)
            swap(&g, &emitter.graph)
            let outcome: Result<[ValueID?], ShapeError>
            do { outcome = .success(try rule(&emitter, node, dy)) } catch { outcome = .failure(error) }
            swap(&g, &emitter.graph)
            do {
                let results = try outcome.get()
                for (k, r) in results.enumerated() {
                    guard k < node.inputs.count, inputNeeds[k], let r else { continue }
                    let x = node.inputs[k]
                    if let existing = grads[x] {
                        // A value used in several places: its gradient is the sum of the contributions.
                        grads[x] = try g.add(.add, [existing, r], loc: g[x].loc, label: g[x].label ?? g[x].name,
                                             origin: GradientOrigin(forward: x, rule: "accumulate"))
                    } else {
                        grads[x] = r
                    }
                }
            } catch {
                ctx.diagnostics.report(PassDiagnostic.gradientRule(op: node.op.rawValue, reason: error.message), at: node.loc ?? lossLoc)
                return true
            }
        }
        g.gradients = [:]
        for t in targets where needs[t] {
            if let d = grads[t] { g.gradients[t] = d }
        }
        return true
    }
}
