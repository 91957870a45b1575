import DLGGraph
import DLGSource
import DLGSyntax

private typealias E = ElaborationDiagnostic

/// Step mode (Docs/sequence.md, "Step mode"): the model elaborated for one token per call,
/// for drivers such as `dlg generate` that carry state from call to call.
///
/// The time axis (axis 1) of the token input is bound to 1: when it is written as a name (a
/// model parameter such as `T`, or a symbol), that name is 1 throughout the model; when it is a
/// literal, every input whose axis 1 is the same literal gets 1 (the labels beside the tokens).
/// `minimize` is left out (a step model is for inference). A stateful layer opts in with
/// `carriedState` / `carryOut` (its state before and after the call), reads the token's position
/// with `stepPosition`, may bound the positions with `limitStepPositions`, and refuses a form it
/// cannot step with `refuseStepping`.
public struct StepMode: Sendable, Hashable {
    /// The token input; nil: the model's first input.
    public var input: String?
    public init(input: String? = nil) { self.input = input }
}

/// What the elaborator knows in step mode.
struct StepElaboration {
    var mode: StepMode
    /// The token input's name, once it is known.
    var tokenInput: String?
    /// The literal time length whose inputs get 1, when the time axis is written as one.
    var literalLength: Int?
    var interface: StepInterface
}

extension Elaborator {
    /// Whether the model is being elaborated in step mode.
    var isStepping: Bool { stepping != nil }

    /// Before the body runs (model parameters bound): finds the token input and binds a named
    /// time axis to 1, remembering the full-sequence length for the layers.
    func prepareStepMode(_ model: ModelDecl) {
        guard let mode = options.step else { return }
        let inputs = model.body.compactMap { s -> (Identifier, TypeExpr, SourceRange)? in
            if case .input(let n, let t) = s.kind { return (n, t, s.range) }
            return nil
        }
        let chosen = mode.input.map { name in inputs.first { $0.0.name == name } } ?? inputs.first
        guard let (name, type, range) = chosen else {
            diagnostics.report(E.stepMode(what: "model '\(model.name.name)'",
                                          reason: mode.input.map { "it has no input '\($0)'" } ?? "it has no input to step over"),
                               at: model.name.range)
            return
        }
        guard let dims = type.dims, dims.count >= 2 else {
            diagnostics.report(E.stepMode(what: "input '\(name.name)'",
                                          reason: "stepping binds axis 1 (time) to 1, and it has no axis 1"), at: range)
            return
        }
        var s = StepElaboration(mode: mode, tokenInput: name.name, literalLength: nil,
                                interface: StepInterface(tokenInput: name.name, length: nil))
        switch dims[1].kind {
        case .integer(let n):
            s.literalLength = n
            s.interface.length = n
        case .name(let n):
            // A model parameter (or a --bind value) gives the full length; the name is 1 from now on.
            if let b = scope.bindings[n], case .int(let v) = b.value { s.interface.length = v }
            else if let v = options.bindings[n] { s.interface.length = v }
            scope.bindings[n] = Binding(value: .int(1), loc: dims[1].range)
        default:
            diagnostics.report(E.stepMode(what: "input '\(name.name)'",
                                          reason: "its time axis must be written as a number or a name to be bound to 1"),
                               at: dims[1].range)
            return
        }
        stepping = s
    }

    /// An input's declared type in step mode: axis 1 bound to 1 where it is the time axis's literal.
    func stepType(_ type: TypeExpr) -> TypeExpr {
        guard let s = stepping, let n = s.literalLength, var dims = type.dims, dims.count >= 2,
              case .integer(n) = dims[1].kind else { return type }
        dims[1] = Expr(.integer(1), dims[1].range)
        var t = type
        t.dims = dims
        return t
    }

    /// Declares a state `layer` carries from call to call in step mode and returns its value
    /// before the call (a graph input named `layer.inputName`, zero before the first call); the
    /// layer gives its value after the call with `carryOut`. Nil when not stepping.
    func carriedState(layer: String, input inputName: String, output outputName: String, type: TensorType,
                      at range: SourceRange) -> ValueID? {
        guard stepping != nil else { return nil }
        let input = "\(layer).\(inputName)"
        let id = graph.addInput(input, type, loc: range)
        stepping!.interface.states.append(CarriedState(layer: layer, input: input, output: "\(layer).\(outputName)", type: type))
        return id
    }

    /// The value after the call of the state declared as `input` (the graph input's name):
    /// a graph output named as `carriedState` said.
    func carryOut(input: String, value: ValueID, at range: SourceRange) {
        guard let s = stepping, let state = s.interface.states.first(where: { $0.input == input }) else { return }
        guard graph[value].type == state.type else {
            diagnostics.report(E.stepMode(what: "layer '\(state.layer)'",
                                          reason: "its state \(input) is \(state.type) but its new value is \(graph[value].type)"),
                               at: range)
            return
        }
        graph.outputs.append(GraphOutput(name: state.output, value: value, loc: range))
        outputNames.insert(state.output)
    }

    /// The position of the call's token in its sequence, i32 shaped like the step's token input
    /// ([B, 1]): a graph input made the first time a layer asks. Nil when not stepping.
    func stepPosition(at range: SourceRange) -> ValueID? {
        guard let s = stepping, let tokens = s.tokenInput else { return nil }
        let name = "step.position"
        if s.interface.position != nil, let id = graph.nodes.first(where: { $0.op == .input && $0.name == name })?.id { return id }
        guard let token = graph.nodes.first(where: { $0.op == .input && $0.name == tokens }), let dims = token.type.dims,
              dims.count >= 2 else { return nil }
        let id = graph.addInput(name, TensorType(.i32, Shape([dims[0], .known(1)])), loc: range)
        stepping!.interface.position = name
        return id
    }

    /// A layer whose cache holds `n` positions: a sequence may not run past them.
    func limitStepPositions(_ n: Int) {
        guard let s = stepping else { return }
        stepping!.interface.positionLimit = min(s.interface.positionLimit ?? n, n)
    }

    /// A layer that cannot run one token at a time in the form it was given: an error at its place.
    func refuseStepping(_ what: String, because reason: String, at range: SourceRange) {
        diagnostics.report(E.stepMode(what: what, reason: reason), at: range)
    }

    /// After the body: the interface goes with the graph, and the carried states' outputs come
    /// after the model's own (a layer declares its state before the output statement that uses
    /// the layer is complete), so the model's first output stays first.
    func finishStepMode() {
        guard let s = stepping else { return }
        graph.step = s.interface
        let carried = Set(s.interface.states.map(\.output))
        graph.outputs = graph.outputs.filter { !carried.contains($0.name) } + graph.outputs.filter { carried.contains($0.name) }
    }
}
