import DLGGraph
import DLGKernels

public struct LoweringError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// The last pass: turns a graph whose symbols are all bound into a kernel
/// program. Every value gets a buffer (at the memory plan's offset, or a range
/// of its own when there is no plan), parameters get state slots, and each
/// non-source op becomes one instruction whose kernel the kernel table
/// chooses (`KernelTable`), with its geometry resolved, its scratch counted
/// and its in-place decision (memory planning's) recorded.
public enum Lowering {
    public static let alignment = 64

    public static func lower(_ g: Graph, threads: Int = Threads.count) throws(LoweringError) -> Program {
        // Every shape concrete.
        var shapes: [[Int]] = []
        shapes.reserveCapacity(g.nodes.count)
        for n in g.nodes {
            let t = n.type.substituting(g.bindings)
            guard let dims = t.shape.knownDims else {
                let syms = Set(t.shape.symbols).sorted()
                let what = t.shape.dims == nil ? "has unknown rank" : "has symbolic sizes \(syms.joined(separator: ", "))"
                throw LoweringError(message: "\(g.ref(n.id)) (\(n.op.rawValue)\(g.location(n.loc).map { " at \($0)" } ?? "")) \(what); bind them, e.g. --bind \(syms.first ?? "B")=32")
            }
            shapes.append(dims)
        }
        // One float type for the whole program.
        let floatType = g.nodes.first { $0.type.dtype.isFloat }?.type.dtype ?? .f32
        if let n = g.nodes.first(where: { $0.type.dtype.isFloat && $0.type.dtype != floatType }) {
            throw LoweringError(message: "the graph mixes f32 and f64 values: \(g.ref(n.id)) (\(n.op.rawValue)"
                                + (g.location(n.loc).map { " at \($0)" } ?? "")
                                + ") is \(n.type.dtype) but the first float value is \(floatType); a program computes in one float type")
        }

        var arena = g.plan?.arenaBytes ?? 0, state = 0, total = 0
        func align(_ x: Int) -> Int { (x + alignment - 1) / alignment * alignment }
        var buffers: [Buffer?] = Array(repeating: nil, count: g.nodes.count)
        var slots: [StateSlot] = []
        var slotOf: [ValueID: Int] = [:]
        var constants: [(Buffer, TensorLiteral)] = []
        var inputs: [IOSlot] = []
        // State first: planned values may be written straight into it.
        for n in g.nodes where n.op == .param {
            let bytes = shapes[n.id].reduce(1, *) * n.type.dtype.byteSize
            let b = Buffer(location: .state(state), dtype: n.type.dtype, shape: shapes[n.id])
            state = align(state + bytes)
            buffers[n.id] = b
            slotOf[n.id] = slots.count
            let a = n.attrs.param
            slots.append(StateSlot(name: n.name ?? g.ref(n.id), buffer: b, initializer: a.initializer, fanIn: a.fanIn,
                                   fanOut: a.fanOut, trainable: a.trainable, value: n.id))
        }
        for n in g.nodes where n.op != .param {
            let dtype = n.type.dtype
            let bytes = shapes[n.id].reduce(1, *) * dtype.byteSize
            total += bytes
            let location: Location
            switch g.plan?.placements[n.id]?.location {
            case .arena(let o)?:
                location = .arena(o)
            case .state(let t)?:
                guard case .state(let o)? = buffers[t]?.location else {
                    throw LoweringError(message: "\(g.ref(n.id)) is planned into \(g.ref(t)), which is not state")
                }
                location = .state(o)
            default:
                // Unplanned values, and constants (never reused), get their own range after the planned arena.
                location = .arena(arena)
                arena = align(arena + max(bytes, 1))
            }
            let b = Buffer(location: location, dtype: dtype, shape: shapes[n.id])
            buffers[n.id] = b
            if n.op == .input { inputs.append(IOSlot(name: n.name ?? g.ref(n.id), buffer: b, value: n.id)) }
            if n.op == .constant { constants.append((b, n.attrs.constant.value)) }
        }
        var instructions: [Instruction] = []
        instructions.reserveCapacity(g.nodes.count)
        // `file:line:col` of each source offset, formatted once (many values share a statement).
        var locations: [Int: String] = [:]
        func location(_ n: Node) -> String? {
            guard let r = n.loc else { return nil }
            if let known = locations[r.start] { return known }
            let l = g.location(r)
            locations[r.start] = l
            return l
        }
        // In schedule order (the graph's order), which a plan assumes.
        for n in g.nodes where !n.decl.isSource {
            let ins = n.inputs.map { buffers[$0]! }, out = buffers[n.id]!
            let inPlace = inPlaceDecision(n, inputs: ins, output: out, g)
            guard let rule = KernelTable.rules[n.op] else {
                throw LoweringError(message: "\(g.ref(n.id)): no kernel for \(n.op.rawValue)")
            }
            let context = KernelContext(node: n, graph: g, inputs: ins, output: out, overwrites: inPlace?.input)
            let kernel: Kernel
            do { kernel = try KernelTable.kernel(rule, context) } catch {
                throw LoweringError(message: "\(g.ref(n.id)) = \(n.op.rawValue)\(n.label.map { " ('\($0)')" } ?? "")\(g.location(n.loc).map { " at \($0)" } ?? ""): \(error.message)")
            }
            let steps = n.attrs.region.map { $0.steps.map(\.op.rawValue).joined(separator: "+") } ?? n.op.rawValue
            instructions.append(Instruction(kernel: kernel, inputs: ins, output: out,
                                            workspace: kernel.workspaceBytes(floatType: floatType, threads: threads, output: out),
                                            inPlace: inPlace, op: n.op, value: n.id, label: n.label, loc: location(n),
                                            steps: steps, flops: flops(n, ins, out)))
        }
        var updates: [(Int, Buffer)] = []
        for u in g.updates {
            guard let s = slotOf[u.target] else {
                throw LoweringError(message: "update target \(g.ref(u.target)) is not a parameter")
            }
            updates.append((s, buffers[u.value]!))
        }
        var gradients: [(Int, Buffer)] = []
        var inputGradients: [(Int, Buffer)] = []
        for (p, d) in g.gradients.sorted(by: { $0.key < $1.key }) {
            if let s = slotOf[p] { gradients.append((s, buffers[d]!)) }
            if let i = inputs.firstIndex(where: { $0.value == p }) { inputGradients.append((i, buffers[d]!)) }
        }
        return Program(name: g.name, floatType: floatType, training: g.training, threads: threads, arenaBytes: arena,
                       stateBytes: state, state: slots, inputs: inputs,
                       outputs: g.outputs.map { IOSlot(name: $0.name, buffer: buffers[$0.value]!, value: $0.value) },
                       loss: g.loss.map { buffers[$0]! }, constants: constants, instructions: instructions,
                       updates: updates, gradients: gradients, inputGradients: inputGradients, valueBytes: total)
    }

    /// Whether memory planning put the output over one of the inputs (or into the state), and why:
    /// the plan's decision, made by the op's in-place rule (`Node.mayWrite(over:)`).
    static func inPlaceDecision(_ n: Node, inputs: [Buffer], output: Buffer, _ g: Graph) -> InPlace? {
        guard let p = g.plan?.placements[n.id] else { return nil }
        let over = inputs.firstIndex { $0.location == output.location }
        if case .state = p.location {
            return InPlace(input: over, reason: .state)
        }
        guard let i = over else { return nil }
        if n.decl.properties.aliasesOperand { return InPlace(input: i, reason: .alias) }
        if case .fused(let f) = n.attrs, f.kind == .epilogue { return InPlace(input: i, reason: .epilogue) }
        return InPlace(input: i, reason: .elementwise)
    }

    /// The op's FLOPs on these shapes (its declaration's count).
    static func flops(_ n: Node, _ inputs: [Buffer], _ output: Buffer) -> Int {
        n.decl.flops(FlopContext(inputs: inputs.map(\.shape), output: output.shape, attrs: n.attrs))
    }
}
