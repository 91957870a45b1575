import DLGGraph

/// Groups operations into single kernels, asking each op's fusion kind:
///
/// - chains of elementwise and broadcast ops become one `fused` elementwise
///   kernel: one pass over the output, no temporaries;
/// - a matmul or conv2d (output-fusable) whose only consumer is such a chain
///   becomes the head of an epilogue region: bias, activation and a residual
///   add are applied as the output is produced.
///
/// - a reduction (sum, mean, max, min) whose input is such a chain reads
///   the chain's values as they are computed: one pass, and the chain's
///   full-size result is never stored.
///
/// A cheap elementwise value read by several fusable consumers is computed
/// again inside each of them when that moves fewer bytes (`duplicable`).
/// Otherwise a value stays materialized when something outside its group
/// needs it: several consumers, an output, the loss, a state update or a
/// gradient, a consumer that is not fusable, or a consumer of a different
/// shape (a broadcast operand is read, not recomputed per element).
public struct Fusion: GraphPass {
    public var name: String { "fusion" }
    public var summary: String { "fuse elementwise chains into one kernel and bias/activation/residual into GEMM and conv epilogues" }
    public var details: String {
        """
        Groups ops into kernels by asking each op's fusion kind
        (elementwise, broadcast, injective, reduction, output-fusable, opaque — TVM's
        lattice). A chain of elementwise and broadcast ops becomes one `fused`
        elementwise kernel: one loop over the output in SIMD registers, no
        temporaries. A matmul or conv2d whose only reader is such a chain heads an
        epilogue region: the bias, the activation and a residual add are applied as
        its output is produced (conv2d + bias + relu/leaky relu/sigmoid/tanh run
        inside the convolution kernel itself). A reduction (sum, mean, max, min)
        whose input is such a chain, read by nothing else, ends the chain's group
        (kind `reduction`): one pass computes the chain tile by tile and folds it
        into the reduced result, so batchnorm's variance is the mean of squares never
        stored, and the backward's Σ dy·x̂ never stores the product. A `broadcast_to`
        joins a chain as a view of its small operand instead of a full-size copy.
        A cheap elementwise value whose readers are all fusable with it is
        recomputed inside each of them, as XLA duplicates cheap producers, when that
        moves fewer bytes. What is recomputed is the value together with the
        elementwise values it reads that are themselves recomputed, down to stored
        values, at most 2 FLOPs per element in all; with `f` full-size stored values
        read and `k` readers, storing it reads `f + k` tensors and writes one,
        recomputing reads `f·k`. So batchnorm's `x − μ` and `x̂ = (x − μ)·rstd` (one
        full-size input, 2 FLOPs) are never stored: the forward's `γ·x̂ + β` and the
        backward's sums read `x` (ResNet-20's training step at batch 32: 0.96 of the
        time with `x̂` stored), and a difference of two tensors is recomputed for two
        readers but stored for three. Otherwise a value stays materialized when
        something outside its group needs it: several readers, an output, the loss,
        a state update, a gradient, a non-fusable reader, or a reader of a different
        shape (broadcast operands are read, not recomputed). The optimizer updates of
        each parameter fuse into a few elementwise kernels. In dumps a fused op shows
        its steps as a nested region; the footer counts the groups.
        """
    }
    public init() {}

    static func elementwise(_ n: Node) -> Bool {
        n.decl.properties.fusable && n.type.dtype.isFloat && n.type.shape.knownDims != nil
    }

    /// A reduction that can finish a chain: its input is a float tensor of known shape.
    static func reduction(_ n: Node, _ g: Graph) -> Bool {
        guard n.decl.fusion == .reduction, n.inputs.count == 1, n.type.dtype.isFloat else { return false }
        return g[n.inputs[0]].type.shape.knownDims != nil
    }

    /// Whether a cheap elementwise value with several consumers is better
    /// recomputed inside each of them than stored once and read back, as
    /// XLA duplicates cheap producers into the fusions that read them.
    /// Every consumer must be fusable with it (an elementwise op of its
    /// shape, or a reduction of it). What is recomputed is the value and the
    /// elementwise values it reads that are themselves computed inside their
    /// consumers, down to stored values: at no more than 2 FLOPs per element
    /// in all; and the traffic must shrink: with `f` full-size stored values
    /// read and `k` consumers, storing reads f + k tensors and writes one,
    /// recomputing reads f·k. So a value with one full-size input (x − mean
    /// in batchnorm, and x̂ = (x − mean)·rstd over it, a broadcast gradient)
    /// is always recomputed, one with two only for two consumers.
    static func duplicable(_ n: Node, users: [ValueID], _ g: Graph, absorbed: [Bool]) -> Bool {
        guard elementwise(n), let dims = n.type.shape.knownDims else { return false }
        let elements = dims.reduce(1, *)
        guard elements > 0 else { return false }
        var flops = 0
        var stored = Set<ValueID>(), seen: Set<ValueID> = [n.id], stack = [n.id]
        while let v = stack.popLast() {
            guard let f = g.flops(of: v) else { return false }
            flops += f
            for x in g[v].inputs {
                if !absorbed[x] {
                    stored.insert(x)
                } else {
                    guard elementwise(g[x]) else { return false }
                    if seen.insert(x).inserted { stack.append(x) }
                }
            }
        }
        guard flops <= 2 * elements else { return false }
        let consumers = Set(users)
        for c in consumers {
            let u = g[c]
            let fusable = (reduction(u, g) && u.inputs[0] == n.id) || (elementwise(u) && u.type.shape == n.type.shape)
            if !fusable { return false }
        }
        let f = stored.filter { g[$0].type.shape == n.type.shape }.count
        let k = consumers.count
        return f * k < f + 1 + k
    }

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        let users = g.users()
        let pinned = g.pinnedValues

        // absorbed[v]: v is computed inside its consumer's group (inside each of them, when duplicated).
        var absorbed = Array(repeating: false, count: g.nodes.count)
        for n in g.nodes where !pinned.contains(n.id) && !users[n.id].isEmpty {
            if users[n.id].count > 1 {
                if Fusion.duplicable(n, users: users[n.id], g, absorbed: absorbed) { absorbed[n.id] = true }
                continue
            }
            let c = g[users[n.id][0]]
            if Fusion.reduction(c, g), Fusion.elementwise(n) {
                absorbed[n.id] = true
                continue
            }
            guard Fusion.elementwise(c), c.type.shape == n.type.shape else { continue }
            if Fusion.elementwise(n) {
                absorbed[n.id] = true
            } else if n.decl.fusion == .outputFusable, n.type.dtype.isFloat {
                absorbed[n.id] = true
            }
        }
        // Collect each root's group; at most one library kernel heads a group.
        var groups: [ValueID: [ValueID]] = [:]
        // A reduction's group has none: the library kernel would write the full-size result.
        for n in g.nodes.reversed() where (Fusion.elementwise(n) || Fusion.reduction(n, g)) && !absorbed[n.id] {
            let reducing = Fusion.reduction(n, g)
            var members: [ValueID] = []
            var seen: Set<ValueID> = [n.id]
            var anchors = 0
            var stack = [n.id]
            while let v = stack.popLast() {
                members.append(v)
                // A duplicated value can be reached along two paths of the same group.
                for x in g[v].inputs where absorbed[x] && seen.insert(x).inserted {
                    if g[x].decl.fusion == .outputFusable {
                        anchors += 1
                        if anchors > 1 || reducing {
                            absorbed[x] = false
                            continue
                        }
                    }
                    stack.append(x)
                }
            }
            if members.count > 1 { groups[n.id] = members }
        }
        guard !groups.isEmpty else { return false }

        var rw = GraphRewriter(g)
        for n in g.nodes {
            if absorbed[n.id] { continue }
            guard let members = groups[n.id] else {
                rw.keep(n)
                continue
            }
            // Steps: the library kernel first (it reads only external values), then the rest in order.
            let ordered = members.sorted { a, b in
                let ka = g[a].decl.fusion == .outputFusable, kb = g[b].decl.fusion == .outputFusable
                return ka != kb ? ka : a < b
            }
            let memberSet = Set(members)
            var stepOf: [ValueID: Int] = [:]
            var inputs: [ValueID] = []
            var inputIndex: [ValueID: Int] = [:]
            var steps: [FusedRegion.Step] = []
            for v in ordered {
                let m = g[v]
                let operands = m.inputs.map { x -> FusedRegion.Operand in
                    if memberSet.contains(x) { return .step(stepOf[x]!) }
                    let xn = rw.graph[rw[x]]
                    if xn.op == .constant, xn.attrs.constant.value.shape.isEmpty { return .scalar(xn.attrs.constant.value.values[0]) }
                    if let i = inputIndex[x] { return .input(i) }
                    inputIndex[x] = inputs.count
                    inputs.append(rw[x])
                    return .input(inputs.count - 1)
                }
                stepOf[v] = steps.count
                steps.append(FusedRegion.Step(op: m.op, operands: operands, attrs: m.attrs, type: m.type, original: v,
                                              label: m.label))
            }
            let kind: FusedAttributes.Kind = steps[0].op.decl.fusion == .outputFusable ? .epilogue
                : steps[steps.count - 1].op.decl.fusion == .reduction ? .reduction : .elementwise
            let attrs = Attributes.fused(FusedAttributes(kind: kind, region: FusedRegion(steps: steps), dtype: n.type.dtype,
                                                         shape: n.type.shape))
            do {
                let id = try rw.graph.add(.fused, inputs, attrs, loc: n.loc, label: n.label, origin: n.origin)
                // A group belongs to its root's loop step, if any.
                rw.graph.nodes[id].step = n.step
                rw.replace(n.id, with: id)
            } catch {
                ctx.diagnostics.report(PassDiagnostic.fusion(value: g.ref(n.id), reason: error.message), at: n.loc ?? .point(0))
                return false
            }
        }
        g = rw.finish()
        return true
    }
}
