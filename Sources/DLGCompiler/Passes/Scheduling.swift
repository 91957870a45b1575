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
        let size = (0..<n).map { g.boundType($0).byteCount ?? 0 }
        let isSource = g.nodes.map(\.decl.isSource)
        var remaining = users.map(\.count)
        var waiting = Array(repeating: 0, count: n)
        var order: [ValueID] = []
        order.reserveCapacity(n)
        // Placement first: early before normal before late.
        func tier(_ v: ValueID) -> Int {
            switch g[v].decl.properties.schedule { case .early: 0; case .normal: 1; case .late: 2 }
        }
        /// The live-set growth of running v now: its output's bytes minus those of the operands it
        /// reads last (a node reading x twice frees it once).
        func growth(_ v: ValueID) -> Int {
            var freed = 0
            let inputs = g[v].inputs
            for (k, x) in inputs.enumerated() where !isSource[x] && !inputs[..<k].contains(x) {
                let uses = inputs.lazy.filter { $0 == x }.count
                if remaining[x] == uses { freed += size[x] }
            }
            return size[v] - freed
        }
        // Ready ops in a heap ordered by (tier, growth, id); an entry whose growth is stale (an
        // operand's other reader ran since) is skipped when it surfaces: its fresh entry is there too.
        var heap = ScheduleHeap()
        var current = Array(repeating: Int.min, count: n)
        var scheduled = Array(repeating: false, count: n)
        func push(_ v: ValueID) {
            let d = growth(v)
            current[v] = d
            heap.push(ScheduleHeap.Entry(tier: tier(v), growth: d, id: v))
        }
        for node in g.nodes {
            if isSource[node.id] {
                order.append(node.id)
                continue
            }
            waiting[node.id] = node.inputs.filter { !isSource[$0] }.count
            if waiting[node.id] == 0 { push(node.id) }
        }
        while let e = heap.pop() {
            let v = e.id
            if scheduled[v] || current[v] != e.growth { continue }
            scheduled[v] = true
            order.append(v)
            let inputs = g[v].inputs
            for x in inputs { remaining[x] -= 1 }
            // The ready readers of v's operands may now free them: their growth changes.
            for (k, x) in inputs.enumerated() where !isSource[x] && !inputs[..<k].contains(x) {
                for u in users[x] where !scheduled[u] && current[u] != Int.min {
                    let d = growth(u)
                    if d != current[u] {
                        current[u] = d
                        heap.push(ScheduleHeap.Entry(tier: tier(u), growth: d, id: u))
                    }
                }
            }
            var seenUsers = Set<ValueID>()
            for u in users[v] where seenUsers.insert(u).inserted {
                waiting[u] -= g[u].inputs.filter { $0 == v }.count
                if waiting[u] == 0 { push(u) }
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

/// A binary min-heap of ready ops by (tier, growth, id): the scheduler's choice is its top.
struct ScheduleHeap {
    struct Entry {
        var tier: Int
        var growth: Int
        var id: ValueID
        static func < (a: Entry, b: Entry) -> Bool { (a.tier, a.growth, a.id) < (b.tier, b.growth, b.id) }
    }
    private var items: [Entry] = []

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i] < items[p] else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return top }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, items[l] < items[m] { m = l }
            if r < items.count, items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
