import DLGGraph

/// Chooses the order ops run in: a topological order that keeps memory low.
/// List scheduling: among the ops whose operands are ready, run the one that
/// grows the live set least — its output's bytes minus the bytes of operands
/// it is the last reader of (so an optimizer update runs as soon as its
/// gradient is ready, freeing it); ties keep the original order. An op
/// declared to run early (`allreduce_start`) goes first when it is ready, and
/// one declared to run late (`allreduce_wait`) only when nothing else is, so
/// that work started across replicas overlaps the ops between them.
public struct Scheduling: GraphPass {
    public var name: String { "scheduling" }
    public var summary: String { "reorder ops (topologically) to keep the bytes alive at once low" }
    public var details: String {
        """
        Chooses a topological order that keeps memory low by list
        scheduling: among the ops whose operands are ready, run the one that grows
        the live set least (its output's bytes minus the bytes of operands it reads
        last), so an optimizer update runs as soon as its gradient exists; ties keep
        the original order. An op's declaration may ask to run early or late: an
        `allreduce_start` runs as soon as its operands are ready, an
        `allreduce_wait` only when no other op is ready, so that a bucket's transfer
        runs while the backward pass computes the next buckets' gradients.
        """
    }
    public init() {}

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        let n = g.nodes.count
        let users = g.users()
        func bytes(_ v: ValueID) -> Int { g.boundType(v).byteCount ?? 0 }
        var remaining = users.map(\.count)
        var waiting = Array(repeating: 0, count: n)
        var order: [ValueID] = []
        order.reserveCapacity(n)
        var ready: [ValueID] = []
        for node in g.nodes {
            if node.decl.isSource {
                order.append(node.id)
                continue
            }
            waiting[node.id] = node.inputs.filter { !g[$0].decl.isSource }.count
            if waiting[node.id] == 0 { ready.append(node.id) }
        }
        // Operands already counted per user: a node reading x twice frees it once.
        while !ready.isEmpty {
            var best = 0, bestDelta = Int.max
            // Placement first: early before normal before late.
            func rank(_ v: ValueID) -> Int {
                switch g[v].decl.properties.schedule { case .early: 0; case .normal: 1; case .late: 2 }
            }
            let tier = ready.map(rank).min()!
            for (k, v) in ready.enumerated() where rank(v) == tier {
                var freed = 0
                var seen = Set<ValueID>()
                for x in g[v].inputs where !g[x].decl.isSource && seen.insert(x).inserted {
                    let uses = g[v].inputs.filter { $0 == x }.count
                    if remaining[x] == uses { freed += bytes(x) }
                }
                let delta = bytes(v) - freed
                if delta < bestDelta || (delta == bestDelta && v < ready[best]) {
                    best = k
                    bestDelta = delta
                }
            }
            let v = ready.remove(at: best)
            order.append(v)
            for x in g[v].inputs { remaining[x] -= 1 }
            var seenUsers = Set<ValueID>()
            for u in users[v] where seenUsers.insert(u).inserted {
                waiting[u] -= g[u].inputs.filter { $0 == v }.count
                if waiting[u] == 0 { ready.append(u) }
            }
        }
        guard order.count == n else {
            ctx.diagnostics.report(PassDiagnostic.cycle(unordered: n - order.count), at: .point(0))
            return false
        }
        if order == Array(0..<n) { return false }
        var rw = GraphRewriter(g)
        for v in order { rw.keep(g[v]) }
        g = rw.finish()
        return true
    }
}
