import DLGGraph

/// Where an operand lives while a program runs.
public enum Location: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Byte offset in the program's arena (activations, inputs, constants, gradients).
    case arena(Int)
    /// Byte offset in the state storage (parameters, buffers, optimizer state), which persists across steps.
    case state(Int)

    public var description: String {
        switch self {
        case .arena(let o): return "arena+\(o)"
        case .state(let o): return "state+\(o)"
        }
    }
}

/// A value's storage: location, element type and concrete shape.
public struct Buffer: Hashable, Sendable, Codable, CustomStringConvertible {
    public var location: Location
    public var dtype: DType
    public var shape: [Int]
    public var count: Int { shape.reduce(1, *) }
    public var bytes: Int { count * dtype.byteSize }
    public var description: String { "\(location) \(dtype.rawValue)\(Shape(shape))" }
}

/// One kernel call: the op, its operands and result resolved to buffers, attributes.
public struct Instruction: Sendable, Codable {
    public var op: Op
    public var inputs: [Buffer]
    public var output: Buffer
    public var attrs: Attributes
    /// The IR value it computes, for profiles and error messages.
    public var value: ValueID
    public var label: String?
    public var loc: String?

    /// What runs: the op's name, or a fused kernel's steps joined by `+`.
    public var steps: String {
        attrs.region.map { $0.steps.map(\.op.rawValue).joined(separator: "+") } ?? op.rawValue
    }
}

/// A parameter or buffer in the state storage.
public struct StateSlot: Sendable, Codable {
    public var name: String
    public var buffer: Buffer
    public var initializer: Initializer
    public var fanIn: Int
    public var fanOut: Int
    public var trainable: Bool
    public var value: ValueID
}

/// An input or output of a program.
public struct IOSlot: Sendable, Codable {
    public var name: String
    public var buffer: Buffer
    public var value: ValueID
}

/// A lowered graph: a flat instruction list whose operands are all resolved
/// to arena or state offsets; nothing is looked up by name while it runs.
public struct Program: Sendable {
    public var name: String
    /// The floating-point type every float value has (f32 or f64).
    public var floatType: DType
    public var training: Bool
    public var arenaBytes: Int
    public var stateBytes: Int
    public var state: [StateSlot]
    public var inputs: [IOSlot]
    public var outputs: [IOSlot]
    public var loss: Buffer?
    /// Constants, written into the arena once when an executor is created.
    public var constants: [(buffer: Buffer, value: TensorLiteral)]
    public var instructions: [Instruction]
    /// After each step, state slot `target` takes the value in `source`.
    public var updates: [(target: Int, source: Buffer)]
    /// Gradient buffers by state slot (training programs without an optimizer, gradient checks).
    public var gradients: [(slot: Int, buffer: Buffer)]
    /// Gradient buffers by input index (gradient checks).
    public var inputGradients: [(input: Int, buffer: Buffer)]
    /// Bytes of each value's buffer, for memory reports: the no-reuse total.
    public var valueBytes: Int

    public func stateIndex(named name: String) -> Int? { state.firstIndex { $0.name == name } }
    public func inputIndex(named name: String) -> Int? { inputs.firstIndex { $0.name == name } }
}

extension Program: Codable {
    private enum Keys: String, CodingKey {
        case name, floatType, training, arenaBytes, stateBytes, state, inputs, outputs, loss, constants, instructions,
             updates, gradients, inputGradients, valueBytes
    }
    private struct Constant: Codable { var buffer: Buffer; var value: TensorLiteral }
    private struct Update: Codable { var target: Int; var source: Buffer }
    private struct Gradient: Codable { var index: Int; var buffer: Buffer }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        name = try c.decode(String.self, forKey: .name)
        floatType = try c.decode(DType.self, forKey: .floatType)
        training = try c.decode(Bool.self, forKey: .training)
        arenaBytes = try c.decode(Int.self, forKey: .arenaBytes)
        stateBytes = try c.decode(Int.self, forKey: .stateBytes)
        state = try c.decode([StateSlot].self, forKey: .state)
        inputs = try c.decode([IOSlot].self, forKey: .inputs)
        outputs = try c.decode([IOSlot].self, forKey: .outputs)
        loss = try c.decodeIfPresent(Buffer.self, forKey: .loss)
        constants = try c.decode([Constant].self, forKey: .constants).map { ($0.buffer, $0.value) }
        instructions = try c.decode([Instruction].self, forKey: .instructions)
        updates = try c.decode([Update].self, forKey: .updates).map { ($0.target, $0.source) }
        gradients = try c.decode([Gradient].self, forKey: .gradients).map { ($0.index, $0.buffer) }
        inputGradients = try c.decode([Gradient].self, forKey: .inputGradients).map { ($0.index, $0.buffer) }
        valueBytes = try c.decode(Int.self, forKey: .valueBytes)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(name, forKey: .name)
        try c.encode(floatType, forKey: .floatType)
        try c.encode(training, forKey: .training)
        try c.encode(arenaBytes, forKey: .arenaBytes)
        try c.encode(stateBytes, forKey: .stateBytes)
        try c.encode(state, forKey: .state)
        try c.encode(inputs, forKey: .inputs)
        try c.encode(outputs, forKey: .outputs)
        try c.encodeIfPresent(loss, forKey: .loss)
        try c.encode(constants.map { Constant(buffer: $0.buffer, value: $0.value) }, forKey: .constants)
        try c.encode(instructions, forKey: .instructions)
        try c.encode(updates.map { Update(target: $0.target, source: $0.source) }, forKey: .updates)
        try c.encode(gradients.map { Gradient(index: $0.slot, buffer: $0.buffer) }, forKey: .gradients)
        try c.encode(inputGradients.map { Gradient(index: $0.input, buffer: $0.buffer) }, forKey: .inputGradients)
        try c.encode(valueBytes, forKey: .valueBytes)
    }
}
