import DLGGraph

/// Gives every value of the scheduled graph a place in one arena, reusing
/// memory whose value is dead:
///
/// 1. liveness over the schedule: a value lives from the op that defines it
///    to its last reader; fed inputs for the whole step; outputs, the loss,
///    gradients and state-update sources to the end;
/// 2. in place: an elementwise op (or fused elementwise kernel) writes over an
///    operand of its exact shape whose last reader it is; a reshape shares its
///    operand's buffer; a state update whose old value is no longer read is
///    computed straight into the parameter's own storage;
/// 3. offsets: buffers largest first, each at the lowest offset that does not
///    overlap a placed buffer live at the same time (greedy by size), or in
///    order of their start of life, or longest-lived first, or by size with one
///    of the eight largest first, when that packs tighter.
public struct MemoryPlanning: GraphPass {
    public var name: String { "memory-planning" }
    public var summary: String { "liveness, in-place reuse and arena offsets (greedy by size)" }
    public var details: String {
        """
        Gives every value a place in one arena per program:

        1. Liveness over the schedule: a value lives from the op that defines it to
           its last reader; fed inputs for the whole step (a program may run again on the
           same inputs); outputs, the loss, gradients
           and state-update sources to the end.
        2. In-place reuse, from each op's operand effects: an elementwise op (or a
           fused elementwise kernel) writes over an operand of its exact shape whose
           last reader it is; a reshape shares its operand's buffer; a state update
           whose old value nothing reads afterwards is computed straight into the
           parameter's own storage, so no copy follows the step.
        3. Offsets, greedy by size: buffers largest first, each at the lowest offset
           that overlaps no placed buffer live at the same time; placed instead in
           order of their start of life (largest first among equals) when that gives
           a smaller arena (a chain of buffers each born as the one before dies, like
           an unrolled recurrence's steps), or longest-lived first (largest first among
           equals) when that gives a smaller one still, or by size with one of the eight
           largest classes moved to the front when that does (two large buffers of one
           size that never live together otherwise share an offset, which can leave no
           room for a third live beside each: an LSTM's scan tapes around the next layer's
           input projection).
        """
    }
    public static let alignment = 64
    public init() {}

    /// Whether `n` may write its result over operand `x`: the declaration's in-place rule
    /// (`Node.mayWrite(over:)`), which lowering reads too.
    static func inPlaceCapable(_ n: Node, over x: ValueID) -> Bool { n.mayWrite(over: x) }

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        let count = g.nodes.count
        func align(_ x: Int) -> Int { (x + MemoryPlanning.alignment - 1) / MemoryPlanning.alignment * MemoryPlanning.alignment }
        func bytes(_ v: ValueID) -> Int { g.boundType(v).byteCount ?? 0 }
        // Schedule positions of the ops.
        var position = Array(repeating: -1, count: count)
        var ops: [ValueID] = []
        for n in g.nodes where !n.decl.isSource {
            position[n.id] = ops.count
            ops.append(n.id)
        }
        let end = ops.count
        var last = Array(repeating: -1, count: count)
        for v in ops { for x in g[v].inputs { last[x] = max(last[x], position[v]) } }
        var pinned = Set<ValueID>(g.outputs.map(\.value))
        // Fed inputs keep their values for the whole step (a program can run again on the same inputs).
        for n in g.nodes where n.op == .input { pinned.insert(n.id) }
        if let l = g.loss { pinned.insert(l) }
        for (_, d) in g.gradients { pinned.insert(d) }

        // In-place state updates: computed into the parameter's storage when nothing reads the old value later.
        var stateBound: [ValueID: ValueID] = [:]
        for u in g.updates where g[u.value].op != .param && !g[u.value].decl.isSource && !pinned.contains(u.value) {
            let p = position[u.value]
            let lastRead = last[u.target]
            let valueNode = g[u.value]
            let readsTarget = valueNode.inputs.contains(u.target)
            guard lastRead < p || (lastRead == p && readsTarget && MemoryPlanning.inPlaceCapable(valueNode, over: u.target)
                                   && g[u.target].type == valueNode.type) else { continue }
            // The value itself must not be read after it is written over the state... it may be: later readers read the new state.
            if g.updates.filter({ $0.value == u.value }).count > 1 { continue }
            stateBound[u.value] = u.target
        }
        for u in g.updates where stateBound[u.value] == nil { pinned.insert(u.value) }

        // Union-find of values sharing a buffer.
        var parent = Array(0..<count)
        func find(_ v: ValueID) -> ValueID {
            var r = v
            while parent[r] != r { r = parent[r] }
            var x = v
            while parent[x] != r { (x, parent[x]) = (parent[x], r) }
            return r
        }
        var classLast: [ValueID: Int] = [:]   // root → last position (end for pinned)
        var classFirst: [ValueID: Int] = [:]
        var shares: [ValueID: ValueID] = [:]
        func lifeEnd(_ v: ValueID) -> Int { pinned.contains(v) ? end : max(last[v], position[v]) }
        for n in g.nodes {
            let v = n.id
            if n.op == .param || n.op == .constant { continue }
            if n.op == .input {
                classFirst[v] = -1
                classLast[v] = lifeEnd(v) < 0 ? -1 : lifeEnd(v)
                continue
            }
            if stateBound[v] != nil { continue }
            let p = position[v]
            var merged = false
            // A reshape aliases its operand.
            if n.decl.properties.aliasesOperand, let x = n.inputs.first, g[x].op != .param, g[x].op != .constant,
               stateBound[x] == nil {
                let r = find(x)
                parent[v] = r
                classLast[r] = max(classLast[r] ?? 0, lifeEnd(v))
                shares[v] = x
                merged = true
            } else {
                for x in n.inputs where MemoryPlanning.inPlaceCapable(n, over: x) && g[x].op != .param && g[x].op != .constant && stateBound[x] == nil
                    && !pinned.contains(x) && g[x].type == n.type && bytes(x) == bytes(v) {
                    let r = find(x)
                    // x's buffer is free after this op reads it: its class ends here.
                    if (classLast[r] ?? -2) == p {
                        parent[v] = r
                        classLast[r] = lifeEnd(v)
                        shares[v] = x
                        merged = true
                        break
                    }
                }
            }
            if !merged {
                classFirst[v] = p
                classLast[v] = lifeEnd(v)
            }
        }
        // Class sizes (a reshape alias has the same bytes as its operand).
        var classBytes: [ValueID: Int] = [:]
        for v in 0..<count where classFirst[v] != nil || shares[v] != nil {
            let r = find(v)
            classBytes[r] = max(classBytes[r] ?? 0, align(max(bytes(v), 1)))
        }
        let classes = classBytes.keys.sorted { (classBytes[$0]!, -$0) > (classBytes[$1]!, -$1) }
        /// Each class at the lowest offset that overlaps no class placed before it and live at the same time.
        func place(_ order: [ValueID]) -> (offsets: [ValueID: Int], arena: Int) {
            // The classes placed so far in order of offset (in order of placement among equal
            // offsets): the search reads those live at the same time in that order, lowest first.
            var placed: [(first: Int, last: Int, offset: Int, size: Int)] = []
            placed.reserveCapacity(order.count)
            var offsetOf: [ValueID: Int] = [:]
            offsetOf.reserveCapacity(order.count)
            var arena = 0
            for r in order {
                let size = classBytes[r]!, first = classFirst[r] ?? -1, lastPos = classLast[r] ?? end
                var offset = 0
                for b in placed where b.first <= lastPos && first <= b.last {
                    if offset + size <= b.offset { break }
                    offset = max(offset, b.offset + b.size)
                }
                // After every placed class at an offset not above this one.
                var lo = 0, hi = placed.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if placed[mid].offset <= offset { lo = mid + 1 } else { hi = mid }
                }
                placed.insert((first, lastPos, offset, size), at: lo)
                offsetOf[r] = offset
                arena = max(arena, offset + size)
            }
            return (offsetOf, arena)
        }
        // The lower bound: bytes live at each position.
        var delta = Array(repeating: 0, count: end + 3)
        for r in classes {
            let s = classBytes[r]!
            delta[(classFirst[r] ?? -1) + 1] += s
            delta[min((classLast[r] ?? end) + 2, end + 2)] -= s
        }
        var live = 0, maxLive = 0
        for d in delta {
            live += d
            maxLive = max(maxLive, live)
        }
        // Greedy by size; when that misses the lower bound and placing by start of life (largest
        // first among those starting together) packs tighter, that: a chain of buffers each born
        // as the one before dies (an unrolled recurrence's steps) packs better in the order they live.
        var (offsetOf, arena) = place(classes)
        if arena > maxLive {
            let byStart = classes.sorted { (classFirst[$0] ?? -1, -classBytes[$0]!, $0) < (classFirst[$1] ?? -1, -classBytes[$1]!, $1) }
            let other = place(byStart)
            if other.arena < arena { (offsetOf, arena) = other }
        }
        // Still above the bound: the longest-lived first (largest first among equal lives), so that
        // buffers alive across most of the step settle low and the short-lived ones reuse the space above.
        if arena > maxLive {
            func life(_ r: ValueID) -> Int { (classLast[r] ?? end) - (classFirst[r] ?? -1) }
            let byLife = classes.sorted { (-life($0), -classBytes[$0]!, $0) < (-life($1), -classBytes[$1]!, $1) }
            let other = place(byLife)
            if other.arena < arena { (offsetOf, arena) = other }
        }
        // Still above: the size order with one of the few largest classes placed first. Two large
        // buffers of one size that never live together share an offset in the size order, which can
        // leave no room for a third live beside each of them (an LSTM's scan tapes, [B, T, 6H], and
        // the next layer's [B, T, 4H] input projection between them: 88 MiB where 80 suffice).
        if arena > maxLive {
            for r in classes.prefix(8) where arena > maxLive {
                let other = place([r] + classes.filter { $0 != r })
                if other.arena < arena { (offsetOf, arena) = other }
            }
        }
        var placements: [ValueID: MemoryPlan.Placement] = [:]
        var noReuse = 0
        for n in g.nodes {
            let v = n.id
            if n.op == .param || n.op == .constant {
                placements[v] = MemoryPlan.Placement(location: .own, bytes: bytes(v), first: -1, last: end, sharesWith: nil)
                continue
            }
            if let t = stateBound[v] {
                placements[v] = MemoryPlan.Placement(location: .state(t), bytes: bytes(v), first: position[v], last: position[v],
                                                     sharesWith: nil)
                continue
            }
            noReuse += align(max(bytes(v), 1))
            let r = find(v)
            placements[v] = MemoryPlan.Placement(location: .arena(offsetOf[r] ?? 0), bytes: bytes(v),
                                                 first: n.op == .input ? -1 : position[v], last: lifeEnd(v),
                                                 sharesWith: shares[v])
        }
        g.plan = MemoryPlan(placements: placements, arenaBytes: arena, noReuseBytes: noReuse, maxLiveBytes: maxLive)
        return true
    }
}
