import DLGGraph
import DLGSource

public struct LoweringError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// Lowers a graph whose symbols are all bound to a Program: every value gets
/// a buffer (in this version each value its own arena range, 64-byte aligned;
/// the memory planner replaces this), parameters get state slots, and each
/// non-source op becomes one instruction.
public enum Lowering {
    public static let alignment = 64

    public static func lower(_ g: Graph) throws(LoweringError) -> Program {
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
        let floats = Set(g.nodes.map(\.type.dtype).filter(\.isFloat))
        guard floats.count <= 1 else {
            throw LoweringError(message: "the graph mixes f32 and f64 values; a program computes in one float type")
        }
        let floatType = floats.first ?? .f32

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
            slots.append(StateSlot(name: n.name ?? g.ref(n.id), buffer: b,
                                   initializer: n.attrs.param.initializer,
                                   fanIn: n.attrs.param.fanIn, fanOut: n.attrs.param.fanOut,
                                   trainable: n.attrs.param.trainable, value: n.id))
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
        // In schedule order (the graph's order), which a plan assumes.
        for n in g.nodes where !n.decl.isSource {
            instructions.append(Instruction(op: n.op, inputs: n.inputs.map { buffers[$0]! }, output: buffers[n.id]!,
                                            attrs: n.attrs, value: n.id, label: n.label, loc: g.location(n.loc)))
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
        return Program(name: g.name, floatType: floatType, training: g.training, arenaBytes: arena, stateBytes: state,
                       state: slots, inputs: inputs,
                       outputs: g.outputs.map { IOSlot(name: $0.name, buffer: buffers[$0.value]!, value: $0.value) },
                       loss: g.loss.map { buffers[$0]! }, constants: constants, instructions: instructions,
                       updates: updates, gradients: gradients, inputGradients: inputGradients, valueBytes: total)
    }
}
