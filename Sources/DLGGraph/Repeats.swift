/// A loop unrolled at elaboration: a recurrent layer's time steps (one loop per layer and
/// direction), or the backward loop autodiff derives from one. The graph holds the unrolled ops;
/// the loop is a fact recorded beside them, so that dumps can print the repeated ops once.
public struct RepeatLoop: Hashable, Sendable {
    /// For readers: the layer and its part (`lstm layer 0`, `lstm layer 0 reverse`).
    public var name: String
    /// The trip count: steps t in 0..<count.
    public var count: Int
    /// Whether the steps run from t = count − 1 down to 0.
    public var reversed: Bool
    /// For a backward loop: the loop whose gradient it computes.
    public var gradientOf: Int?

    public init(name: String, count: Int, reversed: Bool, gradientOf: Int? = nil) {
        self.name = name
        self.count = count
        self.reversed = reversed
        self.gradientOf = gradientOf
    }
}

/// Step t of loop `loop` (an index into `Graph.loops`). `role` names a value the step hands to
/// the next (a recurrent layer's `h` and `c`, their gradients `∂h`, `∂c`), so that dumps write
/// `%L0.h[t-1]` whatever op computed it at that step.
public struct RepeatStep: Hashable, Sendable {
    public var loop: Int
    public var t: Int
    public var role: String?
    /// When the op was made (its id then): passes reorder a step's ops, dumps list them in this order.
    public var order: Int
    public init(loop: Int, t: Int, role: String? = nil, order: Int = 0) {
        self.loop = loop
        self.t = t
        self.role = role
        self.order = order
    }
}

extension Graph {
    /// Registers an unrolled loop; returns its index for `repeating`.
    public mutating func addLoop(_ loop: RepeatLoop) -> Int {
        loops.append(loop)
        return loops.count - 1
    }

    /// The backward loop of forward loop `l` (made on first use): same trip count, opposite order.
    public mutating func gradientLoop(of l: Int) -> Int {
        if let k = loops.firstIndex(where: { $0.gradientOf == l }) { return k }
        let f = loops[l]
        return addLoop(RepeatLoop(name: "∂ " + f.name, count: f.count, reversed: !f.reversed, gradientOf: l))
    }
}

/// How a dump folds the steps of unrolled loops: consecutive steps of a loop whose ops are the
/// same (same ops, operands at the same step offsets, same types, attributes equal or affine in
/// t) form a run, printed once as `repeat t in a..<b { … }`.
public struct RepeatFolding {
    /// One run of steps printed as one region.
    public struct Run {
        public var loop: Int
        /// The steps, in the loop's order.
        public var steps: [Int]
        /// The ops of each step, in node order (the same count for every step of the run).
        public var nodes: [[ValueID]]
        /// Each numeric field of each op's attributes, as a + b·t.
        public var attributes: [[AttributeForm]]
        /// The steps as a Swift-like range: `1..<256`, `(0..<255).reversed()`.
        public var range: String {
            let lo = steps.min()!, hi = steps.max()! + 1
            let forward = steps.count < 2 || steps[1] > steps[0]
            return forward ? "\(lo)..<\(hi)" : "(\(lo)..<\(hi)).reversed()"
        }
    }

    /// An attribute's printed text with its numbers as functions of t.
    public struct AttributeForm {
        public var name: String
        /// The text between numbers (one more than `numbers`).
        public var text: [String]
        public var numbers: [(a: Int, b: Int)]

        public var rendered: String {
            var s = text[0]
            for (k, n) in numbers.enumerated() { s += affine(n.a, n.b) + text[k + 1] }
            return s
        }
    }

    public var runs: [Run] = []
    /// For each folded value: its run, and its index within a step.
    public var place: [ValueID: (run: Int, local: Int)] = [:]
    /// How a value of a step is named: its role, else its index among its step's ops.
    public var localName: [ValueID: String] = [:]
    /// The run whose region is printed at this value (the first op of the run's first step).
    public var anchor: [ValueID: Int] = [:]

    /// An operand as seen from step t: outside any loop, or a value of a loop at an offset from t.
    enum OperandKey: Hashable { case outside(ValueID), inLoop(loop: Int, name: String, offset: Int) }
    /// What must be equal for two steps' ops to print the same.
    struct OpKey: Hashable {
        var op: Op
        var operands: [OperandKey]
        var type: TensorType
        var attrText: [[String]]
        var origin: OperandKey?
        var label: String?
        var role: String?
    }
    /// A run being collected.
    struct Pending {
        var steps: [Int]
        var nodes: [[ValueID]]
        var keys: [OpKey]
        /// numbers[k][e]: the numbers in attribute e of op k at the run's first step.
        var first: [[[Int]]]
        /// Fitted a + b·t per number, once the run has two steps.
        var forms: [[[(a: Int, b: Int)]]]?
    }

    public init(_ g: Graph) {
        guard !g.loops.isEmpty else { return }
        // The ops of each step of each loop, in node order.
        var byStep: [[Int: [ValueID]]] = Array(repeating: [:], count: g.loops.count)
        for n in g.nodes { if let s = n.step, s.loop >= 0, s.loop < g.loops.count { byStep[s.loop][s.t, default: []].append(n.id) } }
        // In the order the ops were made, which passes that reorder them (scheduling) do not change.
        for l in byStep.indices {
            for (t, ids) in byStep[l] {
                byStep[l][t] = ids.sorted { (g[$0].step!.order, $0) < (g[$1].step!.order, $1) }
            }
        }
        var localOf: [ValueID: Int] = [:]
        for steps in byStep { for (_, ids) in steps { for (k, v) in ids.enumerated() { localOf[v] = k } } }

        func key(_ v: ValueID, at t: Int) -> (OpKey, [[Int]]) {
            let n = g[v]
            func operand(_ x: ValueID) -> OperandKey {
                guard let s = g[x].step, let local = localOf[x] else { return .outside(x) }
                return .inLoop(loop: s.loop, name: s.role ?? String(local), offset: s.t - t)
            }
            var texts: [[String]] = [], numbers: [[Int]] = []
            for e in n.attrs.entries {
                let (text, nums) = splitNumbers(e.name + "=" + e.value.description)
                texts.append(text)
                numbers.append(nums)
            }
            // The rule only: after fusion a backward value's forward value is often a fused one, numbered
            // differently from step to step; the region shows its first step's.
            let origin = n.origin.map { OperandKey.outside(-1 - $0.rule.hashValue & 0xffff) }
            return (OpKey(op: n.op, operands: n.inputs.map(operand), type: n.type, attrText: texts, origin: origin,
                          label: n.label, role: n.step?.role), numbers)
        }
        for (l, loop) in g.loops.enumerated() {
            let order = loop.reversed ? Array((0..<loop.count).reversed()) : Array(0..<loop.count)
            var current: Pending? = nil
            func close() {
                guard let c = current else { return }
                let forms: [[AttributeForm]] = c.nodes[0].indices.map { k in
                    let n = g[c.nodes[0][k]]
                    return n.attrs.entries.indices.map { e in
                        let entry = n.attrs.entries[e]
                        let (text, _) = splitNumbers(entry.name + "=" + entry.value.description)
                        let f = c.forms?[k][e] ?? c.first[k][e].map { (a: $0, b: 0) }
                        return AttributeForm(name: entry.name, text: text, numbers: f)
                    }
                }
                let r = runs.count
                runs.append(Run(loop: l, steps: c.steps, nodes: c.nodes, attributes: forms))
                for ids in c.nodes {
                    for (k, v) in ids.enumerated() {
                        place[v] = (r, k)
                        localName[v] = g[v].step?.role ?? String(k)
                    }
                }
                anchor[c.nodes[0][0]] = r
                current = nil
            }
            for t in order {
                guard let ids = byStep[l][t] else {
                    close()
                    continue
                }
                let pairs = ids.map { key($0, at: t) }
                let keys = pairs.map(\.0), nums = pairs.map(\.1)
                if var c = current, c.keys == keys, let forms = Self.fit(c, nums, at: t) {
                    c.steps.append(t)
                    c.nodes.append(ids)
                    c.forms = forms
                    current = c
                    continue
                }
                close()
                current = Pending(steps: [t], nodes: [ids], keys: keys, first: nums, forms: nil)
            }
            close()
        }
    }

    /// The run's numbers as a + b·t with step t's numbers added, or nil when they do not follow.
    /// The second step fixes the slope; later steps must agree with it.
    static func fit(_ c: Pending, _ nums: [[[Int]]], at t: Int) -> [[[(a: Int, b: Int)]]]? {
        if let f = c.forms {
            for k in nums.indices {
                for e in nums[k].indices {
                    for (j, v) in nums[k][e].enumerated() {
                        let (bt, o1) = f[k][e][j].b.multipliedReportingOverflow(by: t)
                        let (x, o2) = f[k][e][j].a.addingReportingOverflow(bt)
                        if o1 || o2 || x != v { return nil }
                    }
                }
            }
            return f
        }
        let t0 = c.steps[0], dt = t - t0
        guard dt != 0 else { return nil }
        var forms: [[[(a: Int, b: Int)]]] = []
        for k in nums.indices {
            var fk: [[(a: Int, b: Int)]] = []
            for e in nums[k].indices {
                guard nums[k][e].count == c.first[k][e].count else { return nil }
                var fe: [(a: Int, b: Int)] = []
                for (j, v) in nums[k][e].enumerated() {
                    let v0 = c.first[k][e][j]
                    let (d, o0) = v.subtractingReportingOverflow(v0)
                    if o0 { return nil }
                    let (b, rem) = d.quotientAndRemainder(dividingBy: dt)
                    let (bt, o1) = b.multipliedReportingOverflow(by: t0)
                    let (a, o2) = v0.subtractingReportingOverflow(bt)
                    if rem != 0 || o1 || o2 { return nil }
                    fe.append((a, b))
                }
                fk.append(fe)
            }
            forms.append(fk)
        }
        return forms
    }
}

/// "starts=[0, 5, 0]" → (["starts=[", ", ", ", ", "]"], [0, 5, 0]): the integers written in a text
/// (a minus sign directly before digits belongs to the number) and the text around them. Digits
/// next to a letter, a dot or an underscore (names, decimals) stay text.
func splitNumbers(_ s: String) -> ([String], [Int]) {
    let chars = Array(s)
    var text: [String] = [], numbers: [Int] = []
    var pending = ""
    var i = 0
    func isWordChar(_ c: Character) -> Bool { c.isLetter || c == "_" || c == "." || c.isNumber }
    while i < chars.count {
        let c = chars[i]
        let startsNumber = c.isASCII && (c.isNumber || (c == "-" && i + 1 < chars.count && chars[i + 1].isASCII && chars[i + 1].isNumber))
        if startsNumber, i == 0 || !isWordChar(chars[i - 1]) {
            var j = i + 1
            while j < chars.count, chars[j].isASCII, chars[j].isNumber { j += 1 }
            let after = j < chars.count ? chars[j] : " "
            if !isWordChar(after), let v = Int(String(chars[i..<j])) {
                text.append(pending)
                pending = ""
                numbers.append(v)
                i = j
                continue
            }
            pending += String(chars[i..<j])
            i = j
            continue
        }
        pending.append(c)
        i += 1
    }
    text.append(pending)
    return (text, numbers)
}

/// a + b·t as printed: `t`, `t+1`, `t-1`, `2*t`, `-t+255`, `7`.
func affine(_ a: Int, _ b: Int) -> String {
    if b == 0 { return String(a) }
    var s = b == 1 ? "t" : b == -1 ? "-t" : "\(b)*t"
    if a > 0 { s += "+\(a)" } else if a < 0 { s += "\(a)" }
    return s
}

/// How values are written: `%name`, `%12`, and a folded loop's `%L0.3[t-1]` / `%L0.h[5]`.
public struct RepeatNames {
    let g: Graph
    public let folding: RepeatFolding?
    public init(_ g: Graph, folding: RepeatFolding?) {
        self.g = g
        self.folding = folding
    }

    /// Inside a region printed for step `t0`, steps are written relative to t.
    public func ref(_ v: ValueID, at t0: Int?) -> String {
        guard let folding, let name = folding.localName[v], let s = g[v].step else { return g.ref(v) }
        let index = t0.map { affine(s.t - $0, 1) } ?? String(s.t)
        return "%L\(s.loop).\(name)[\(index)]"
    }

    /// Operands, with runs of one loop value over consecutive steps written as a range:
    /// `%L0.h[0..<256]`.
    public func operands(_ vs: [ValueID], at t0: Int?) -> String {
        var parts: [String] = []
        var i = 0
        while i < vs.count {
            if let folding, t0 == nil, let name = folding.localName[vs[i]], let s = g[vs[i]].step {
                var j = i + 1, dir = 0
                while j < vs.count, let nj = folding.localName[vs[j]], nj == name, let sj = g[vs[j]].step, sj.loop == s.loop {
                    let d = sj.t - g[vs[j - 1]].step!.t
                    if j == i + 1, d == 1 || d == -1 { dir = d }
                    guard d == dir, dir != 0 else { break }
                    j += 1
                }
                if j - i >= 3 {
                    let lo = min(s.t, g[vs[j - 1]].step!.t), hi = max(s.t, g[vs[j - 1]].step!.t) + 1
                    let range = dir == 1 ? "\(lo)..<\(hi)" : "(\(lo)..<\(hi)).reversed()"
                    parts.append("%L\(s.loop).\(name)[\(range)]")
                    i = j
                    continue
                }
            }
            parts.append(ref(vs[i], at: t0))
            i += 1
        }
        return parts.joined(separator: ", ")
    }
}

