/// How a model compiled in *step mode* is driven (Docs/sequence.md, "Step mode"):
/// one token per call, with the state of every stateful layer carried from call
/// to call through extra inputs and outputs, so that a driver (`dlg generate`)
/// never recomputes the prefix.
///
/// The step graph is the model with the time axis of its token input bound to 1.
/// Each carried state is a graph input (its value before the call; zeros before
/// the first one) and a graph output (its value after the call), which the driver
/// copies to the input before the next call. Layers that need to know where the
/// token stands read the position input.
public struct StepInterface: Sendable, Hashable {
    /// The input whose time axis is bound to 1 (the token ids).
    public var tokenInput: String
    /// The time length the model declares for that input (the full-sequence model's T),
    /// when it is known: a layer may size a cache by it.
    public var length: Int?
    /// The name of the position input, i32 shaped like the step's token input ([B, 1]),
    /// when a layer reads it: the position of the call's token in its sequence (0, 1, …).
    public var position: String?
    /// The carried states, in the order the layers declared them.
    public var states: [CarriedState]
    /// The number of positions the step model can take in one sequence (a layer whose
    /// cache holds that many), nil when it has no such limit (recurrent layers).
    public var positionLimit: Int?

    public init(tokenInput: String, length: Int?, position: String? = nil, states: [CarriedState] = [],
                positionLimit: Int? = nil) {
        self.tokenInput = tokenInput
        self.length = length
        self.position = position
        self.states = states
        self.positionLimit = positionLimit
    }
}

/// One state a layer carries from step to step: the graph input that brings it into a
/// call and the graph output that takes it out. Before the first call it is zero.
public struct CarriedState: Sendable, Hashable {
    /// The layer that declared it (`h`, `block.0.attention`).
    public var layer: String
    /// The graph input holding its value before the call (`h.h0`).
    public var input: String
    /// The graph output holding its value after the call (`h.h_n`); the same type.
    public var output: String
    public var type: TensorType

    public init(layer: String, input: String, output: String, type: TensorType) {
        self.layer = layer
        self.input = input
        self.output = output
        self.type = type
    }
}
