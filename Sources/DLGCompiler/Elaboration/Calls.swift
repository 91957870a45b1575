import DLGGraph
import DLGSource
import DLGSyntax

private typealias E = ElaborationDiagnostic

enum BuiltinRole: Sendable {
    /// A primitive operation; no summary row.
    case op
    /// A layer; `parameters` when it creates its own, `perChannel` when those scale or shift each
    /// channel of its input (batchnorm, prelu) rather than forming a weight that mixes them.
    case layer(parameters: Bool, perChannel: Bool = false)
    case activation
    case loss
    /// A compile-time query such as channels(x).
    case query

    var makesRow: Bool {
        switch self {
        case .layer, .activation, .loss: return true
        case .op, .query: return false
        }
    }
    var createsParameters: Bool { if case .layer(true, _) = self { true } else { false } }
    /// A layer with a weight (dense, the convolutions), named after the statement's binding when
    /// it is the only one in the statement (Docs/language.md, *Naming*).
    var isWeightLayer: Bool { if case .layer(true, false) = self { true } else { false } }
    var noun: String {
        switch self {
        case .op, .query: return "function"
        case .layer: return "layer"
        case .activation: return "activation"
        case .loss: return "loss"
        }
    }
    var isCallableLayerOrOp: Bool { true }
}

struct Builtin: Sendable {
    var name: String
    var role: BuiltinRole
    var params: [ParamSpec]
    var run: @Sendable (Elaborator, BoundCall) -> Value
}

extension Elaborator {
    func call(_ callee: Identifier, _ args: [CallArgument], range: SourceRange) -> Value {
        if let block = blocks[callee.name] {
            return callBlock(block, callee: callee, args, range: range)
        }
        guard let b = Builtins.table[callee.name] else {
            let candidates = Array(Builtins.table.keys) + Array(blocks.keys)
            let isInitializer = Elaborator.initializerWords[callee.name] != nil
                || ["uniform", "normal", "constant"].contains(callee.name)
            if scope.bindings[callee.name] != nil {
                diagnostics.report(E.notCallable(name: callee.name), at: callee.range)
            } else {
                diagnostics.report(E.unknownFunction(name: callee.name, suggestion: suggestion(for: callee.name, among: candidates),
                                                     isInitializer: isInitializer),
                                   at: callee.range)
            }
            // Still evaluate the arguments so that errors inside them are reported.
            for a in args { _ = evaluate(a.value) }
            return .poison
        }
        guard let bound = bind(callee, args, to: b.params, range: range, what: callee.name) else { return .poison }
        return b.run(self, bound)
    }

    // MARK: Blocks

    func callBlock(_ block: BlockDecl, callee: Identifier, _ args: [CallArgument], range: SourceRange) -> Value {
        usedBlocks.insert(block.name.name)
        if aborted { return .poison }
        if callStack.count >= ElaborationLimits.maxCallDepth {
            aborted = true
            diagnostics.report(E.callsTooDeep(limit: ElaborationLimits.maxCallDepth, chainStart: callStack.first?.name,
                                              startedAt: callStack.first?.call),
                               at: callee.range)
            return .poison
        }
        if let i = callStack.firstIndex(where: { $0.name == block.name.name }) {
            let cycle = callStack[i...].map(\.name) + [block.name.name]
            diagnostics.report(E.recursiveBlock(name: block.name.name, cycle: cycle), at: callee.range, notes: callStackNotes())
            return .poison
        }
        // Arguments are evaluated in the caller's scope.
        var values: [String: Value] = [:]
        var ok = true
        var unknownLabel = false
        var positional = 0
        var firstExtra: SourceRange?
        let n = block.parameters.count
        let required = block.parameters.filter { $0.defaultValue == nil }.count
        for a in args {
            let v = evaluate(a.value)
            if let label = a.label {
                guard block.parameters.contains(where: { $0.name.name == label.name }) else {
                    let s = suggestion(for: label.name, among: block.parameters.map(\.name.name))
                    diagnostics.report(E.unknownBlockArgument(block: block.name.name, label: label.name, suggestion: s,
                                                              definedAt: block.name.range),
                                       at: label.range)
                    ok = false
                    unknownLabel = true
                    continue
                }
                if values[label.name] != nil {
                    diagnostics.report(E.duplicateArgument(name: label.name), at: label.range)
                    ok = false
                }
                values[label.name] = v
            } else {
                guard positional < n else {
                    if firstExtra == nil { firstExtra = a.range }
                    positional += 1
                    continue
                }
                values[block.parameters[positional].name.name] = v
                positional += 1
            }
        }
        let given = args.count
        if positional > n {
            diagnostics.report(E.blockArity(block: block.name.name, required: required, parameters: n, given: given, missing: [],
                                            definedAt: block.name.range),
                               at: firstExtra ?? callee.range)
            ok = false
        }
        let missing = block.parameters.filter { values[$0.name.name] == nil && $0.defaultValue == nil }
        if !missing.isEmpty, !unknownLabel {
            diagnostics.report(E.blockArity(block: block.name.name, required: required, parameters: n, given: given,
                                            missing: missing.map(\.name.name), definedAt: block.name.range),
                               at: callee.range)
            ok = false
        }
        guard ok else { return .poison }
        if values.values.contains(where: \.isPoison) { return .poison }

        // A fresh scope named `<block>.<k>` inside the caller's.
        let k = scope.blockCounters[block.name.name, default: 0]
        scope.blockCounters[block.name.name] = k + 1
        let caller = scope
        let name = caller.qualified("\(block.name.name).\(k)")
        let inner = Scope(path: name, blockName: block.name.name)
        let firstNode = graph.nodes.count
        // Defaults are evaluated in the block's scope, after the given arguments.
        for p in block.parameters {
            if let v = values[p.name.name] { inner.bindings[p.name.name] = Binding(value: v, loc: p.name.range) }
        }
        let savedNaming = naming, savedLabel = currentLabel
        scope = inner
        callStack.append((block.name.name, callee.range))
        for p in block.parameters where values[p.name.name] == nil {
            inner.bindings[p.name.name] = Binding(value: evaluate(p.defaultValue!), loc: p.name.range)
        }
        execute(block.body)
        callStack.removeLast()
        scope = caller
        naming = savedNaming
        currentLabel = savedLabel

        guard let result = inner.returned else {
            diagnostics.report(E.blockWithoutReturn(block: block.name.name, calledAt: callee.range), at: block.name.range)
            return .poison
        }
        let params = (firstNode..<graph.nodes.count).filter { graph[$0].op == .param }
        var output: ValueID? = nil
        if case .tensor(let t) = result { output = t }
        // A block call is a row named like a layer (its parameters already carry the block's path).
        scope.usedNames.insert(name)
        scope.layers.append(LayerRecord(name: name, kind: block.name.name, output: output, params: params,
                                        loc: range, children: inner.layers))
        return result
    }

    /// Records a built-in layer call as a summary row.
    func record(_ name: String, kind: String, output: Value, params: [ValueID], at range: SourceRange) {
        var out: ValueID? = nil
        if case .tensor(let t) = output { out = t }
        scope.layers.append(LayerRecord(name: name, kind: kind, output: out, params: params, loc: range))
    }

    /// Runs `body` with nodes labelled after the layer.
    func withLabel<T>(_ label: String, _ body: () -> T) -> T {
        let saved = currentLabel
        currentLabel = label
        defer { currentLabel = saved }
        return body()
    }

    /// Creates a layer's parameter `<layer>.<suffix>`.
    func makeParam(_ layer: String, _ suffix: String, dtype: DType, shape: [Int], initializer: Initializer,
                   trainable: Bool = true, fanIn: Int, fanOut: Int, at range: SourceRange) -> ValueID {
        let name = "\(layer).\(suffix)"
        let id = graph.addParam(name, TensorType(dtype, shape), initializer: initializer, trainable: trainable,
                                fanIn: fanIn, fanOut: fanOut, loc: range)
        if trainable, suffix == "weight" { warnIfSymmetric(initializer, dims: shape, name: name, at: range) }
        return id
    }
}
