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
        // Gradients of slices, held back until their operand's turn: slices that tile one axis of
        // it (an unrolled recurrence's time steps) give it the concatenation of their gradients,
        // not a sum of zero-padded copies (quadratic in the number of slices).
        var pieces: [ValueID: [(node: Node, dy: ValueID)]] = [:]
        func accumulate(_ x: ValueID, _ r: ValueID) throws(ShapeError) {
            if let existing = grads[x] {
                // A value used in several places: its gradient is the sum of the contributions.
                grads[x] = try g.add(.add, [existing, r], loc: g[x].loc, label: g[x].label ?? g[x].name,
                                     origin: GradientOrigin(forward: x, rule: "accumulate"))
            } else {
                grads[x] = r
            }
        }
        defer { g.repeating = nil }
        for i in stride(from: loss, through: 0, by: -1) {
            // The backward ops of an unrolled loop's step t form step t of the loop's backward loop.
            if let s = g[i].step {
                let loop = g.gradientLoop(of: s.loop)
                g.repeating = RepeatStep(loop: loop, t: s.t)
            } else {
                g.repeating = nil
            }
            if let held = pieces.removeValue(forKey: i) {
                do {
                    for r in try joinSlices(held, of: i, &g) { try accumulate(i, r) }
                } catch {
                    ctx.diagnostics.report(PassDiagnostic.gradientRule(op: "slice", reason: error.message), at: g[i].loc ?? lossLoc)
                    return true
                }
            }
            guard needs[i], let dy = grads[i] else { continue }
            nameGradient(of: i, dy, &g)
            let node = g[i]
            if node.decl.isSource { continue }
            if node.decl.properties.gradientIsPiece, needs[node.inputs[0]] {
                pieces[node.inputs[0], default: []].append((node, dy))
                continue
            }
            guard let rule = node.decl.vjp else {
                ctx.diagnostics.report(PassDiagnostic.noGradientRule(op: node.op.rawValue), at: node.loc ?? lossLoc)
                return true
            }
            let inputNeeds = node.inputs.map { needs[$0] }
            let made = g.nodes.count
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
                    // A gradient an op outside a loop hands to a step's value (the slice of a joined
                    // sequence's gradient) belongs to that step's backward step.
                    if r >= made, g[r].step == nil, let s = g[node.inputs[k]].step {
                        let loop = g.gradientLoop(of: s.loop)
                        g[r].step = RepeatStep(loop: loop, t: s.t, order: r)
                    }
                    try accumulate(node.inputs[k], r)
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

    /// The gradient of a step's named state (`h`) is named after it (`∂h`) in its backward step.
    func nameGradient(of v: ValueID, _ d: ValueID, _ g: inout Graph) {
        guard let role = g[v].step?.role, var s = g[d].step, s.role == nil,
              s.loop == g.repeating?.loop, s.t == g[v].step?.t else { return }
        s.role = "∂" + role
        g[d].step = s
    }

    /// The gradient contributions of slices of `x` (unit steps): when they cut one axis of x into
    /// pieces that cover it without overlapping, one concatenation of their gradients in order;
    /// otherwise each slice's own gradient rule (dy scattered into zeros).
    func joinSlices(_ held: [(node: Node, dy: ValueID)], of x: ValueID, _ g: inout Graph) throws(ShapeError) -> [ValueID] {
        let dims = g[x].type.dims ?? []
        func cut(_ n: Node) -> (axis: Int, start: Int, end: Int)? {
            let a = n.attrs.slice
            var found: (Int, Int, Int)? = nil
            for k in dims.indices {
                guard a.steps[k] == 1 else { return nil }
                if a.starts[k] == 0, a.ends[k] == Int.max { continue }
                guard found == nil, let size = dims[k].value else { return nil }
                found = (k, a.starts[k], min(a.ends[k], size))
            }
            return found
        }
        let cuts = held.map { cut($0.node) }
        if held.count > 1, cuts.allSatisfy({ $0 != nil }), Set(cuts.map { $0!.axis }).count == 1 {
            let axis = cuts[0]!.axis
            let order = held.indices.sorted { cuts[$0]!.start < cuts[$1]!.start }
            var next = 0, tiles = true
            for k in order {
                if cuts[k]!.start != next { tiles = false }
                next = cuts[k]!.end
            }
            if tiles, next == dims[axis].value {
                return [try g.add(.concat, order.map { held[$0].dy }, .axis(axis), loc: g[x].loc, label: g[x].label ?? g[x].name,
                                  origin: GradientOrigin(forward: x, rule: "slice pieces"))]
            }
        }
        var out: [ValueID] = []
        for (n, dy) in held {
            var emitter = GradientEmitter(graph: Graph(name: g.name, source: nil, training: g.training), forward: n,
                                          needsGradient: [true], rule: n.op.rawValue)
            swap(&g, &emitter.graph)
            let outcome: Result<[ValueID?], ShapeError>
            do { outcome = .success(try n.decl.vjp!(&emitter, n, dy)) } catch { outcome = .failure(error) }
            swap(&g, &emitter.graph)
            if let r = try outcome.get().first ?? nil { out.append(r) }
        }
        return out
    }
}
