import DLGGraph
import DLGKernels

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

/// One kernel call of a program: the kernel with its resolved geometry (the
/// compiler's choice, `Kernel`), the buffers it reads and writes, its scratch
/// and whether it writes over an input. The executor runs it as it is.
public struct Instruction: Sendable, Codable, Hashable {
    public var kernel: Kernel
    public var inputs: [Buffer]
    public var output: Buffer
    /// Scratch bytes the kernel needs at the program's thread count (`Kernel.workspaceBytes`).
    public var workspace: Int
    /// The output is written over an input, and why.
    public var inPlace: InPlace?
    /// The IR op it computes (`fused` for a fused region), for profiles, messages and branch freezing.
    public var op: Op
    /// The IR value it computes.
    public var value: ValueID
    public var label: String?
    public var loc: String?
    /// What runs: the op's name, or a fused region's ops joined by `+`.
    public var steps: String
    /// Floating-point operations of one run (the ops' declarations).
    public var flops: Int
}

/// An output written over an input's storage, decided by memory planning.
public struct InPlace: Sendable, Codable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Codable, Hashable {
        /// The op reads each element before writing it, and this is the input's last reader.
        case elementwise
        /// A reshape: the same elements under another shape, nothing moves.
        case alias
        /// A library kernel heading a fused region writes into scratch; the epilogue then writes over the input.
        case epilogue
        /// A state update computed straight into the parameter's own storage.
        case state
    }
    /// The input overwritten; nil for a state update that does not read the old state.
    public var input: Int?
    public var reason: Reason

    public var description: String {
        let what = input.map { "input \($0)" } ?? "the state"
        switch reason {
        case .elementwise: return "over \(what): its last reader, elementwise"
        case .alias: return "shares \(what): a reshape"
        case .epilogue: return "over \(what): the library kernel writes scratch, the epilogue the output"
        case .state: return "into \(what): the update is computed in place"
        }
    }
}

/// A parameter or buffer in the state storage.
public struct StateSlot: Sendable, Codable, Hashable {
    public var name: String
    public var buffer: Buffer
    public var initializer: Initializer
    public var fanIn: Int
    public var fanOut: Int
    public var trainable: Bool
    public var value: ValueID
}

/// An input or output of a program.
public struct IOSlot: Sendable, Codable, Hashable {
    public var name: String
    public var buffer: Buffer
    public var value: ValueID
}

/// A lowered graph: a flat list of kernel calls whose operands are all
/// resolved to arena or state offsets, every kernel chosen and every geometry
/// resolved by the compiler (`Lowering`); nothing is looked up by name or
/// decided while it runs.
public struct Program: Sendable {
    public var name: String
    /// The floating-point type every float value has (f32 or f64).
    public var floatType: DType
    public var training: Bool
    /// The thread count the instructions' workspaces are given for.
    public var threads: Int
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
    /// Every example of a batch computed by the same operations whatever the
    /// batch holds: matrix products row-stable (`GemmPlan.runRowStable`),
    /// im2col convolutions image by image. Set before executors are made
    /// (not part of a compiled file); `dlg run` and `dlg serve` set it, so
    /// that an example's outputs do not depend on the batch it is in.
    public var batchInvariant = false
    /// GEMMs by a parameter multiply a copy of the weight matrix packed once a
    /// run (`PackedGemm`, f32 on AVX-512 CPUs), with a fused bias and activation
    /// applied as C is stored, and other f32 GEMMs big enough pack op(B) per call
    /// (`PackedGemm.run(plan:…)`; see `Executor.streams`). Set false (before
    /// executors are made) to keep every GEMM on `GemmPlan.run` (OpenBLAS), for
    /// comparisons; not part of a compiled file.
    public var packsWeights = true

    public func stateIndex(named name: String) -> Int? { state.firstIndex { $0.name == name } }
    public func inputIndex(named name: String) -> Int? { inputs.firstIndex { $0.name == name } }
}

extension Program: Codable {
    private enum Keys: String, CodingKey {
        case name, floatType, training, threads, arenaBytes, stateBytes, state, inputs, outputs, loss, constants, instructions,
             updates, gradients, inputGradients, valueBytes
    }
    private struct Constant: Codable, Hashable { var buffer: Buffer; var value: TensorLiteral }
    private struct Update: Codable, Hashable { var target: Int; var source: Buffer }
    private struct Gradient: Codable, Hashable { var index: Int; var buffer: Buffer }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        name = try c.decode(String.self, forKey: .name)
        floatType = try c.decode(DType.self, forKey: .floatType)
        training = try c.decode(Bool.self, forKey: .training)
        threads = try c.decode(Int.self, forKey: .threads)
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
        try c.encode(threads, forKey: .threads)
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

extension Program: Equatable {
    /// Two programs are equal when they run the same kernels on the same buffers with the same
    /// state, inputs, outputs, constants and updates.
    public static func == (a: Program, b: Program) -> Bool {
        a.name == b.name && a.floatType == b.floatType && a.training == b.training && a.threads == b.threads
            && a.arenaBytes == b.arenaBytes && a.stateBytes == b.stateBytes && a.state == b.state && a.inputs == b.inputs
            && a.outputs == b.outputs && a.loss == b.loss && a.instructions == b.instructions && a.valueBytes == b.valueBytes
            && a.constants.elementsEqual(b.constants) { $0.buffer == $1.buffer && $0.value == $1.value }
            && a.updates.elementsEqual(b.updates) { $0.target == $1.target && $0.source == $1.source }
            && a.gradients.elementsEqual(b.gradients) { $0.slot == $1.slot && $0.buffer == $1.buffer }
            && a.inputGradients.elementsEqual(b.inputGradients) { $0.input == $1.input && $0.buffer == $1.buffer }
    }
}
