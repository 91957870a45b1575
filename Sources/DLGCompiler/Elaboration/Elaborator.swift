import DLGGraph
import DLGSource
import DLGSyntax

private typealias E = ElaborationDiagnostic

public struct ElaborationOptions: Sendable {
    /// Dropout active, batchnorm on batch statistics with running-average updates.
    public var training: Bool
    /// Symbol sizes substituted where inputs are declared (`--bind B=64`).
    public var bindings: [String: Int]
    /// Data-parallel training over this many replicas (Docs/distributed.md).
    public var replicas: Int
    /// With several replicas: batchnorm's training statistics summed over all of them
    /// (`sync_batchnorm = true`) rather than each replica's own.
    public var syncBatchnorm: Bool
    /// Elaborate the step form: one token per call, stateful layers' states carried (StepMode.swift).
    public var step: StepMode?
    /// The float type of a model that declares none (integer inputs only: its embedding tables
    /// and `one_hot`s), as PyTorch's `torch.set_default_dtype`; f32 unless set.
    public var defaultFloatType: DType
    /// Every recurrent layer unrolled over its time steps into ordinary ops, an LSTM's too (which
    /// otherwise becomes one `lstm_scan` per layer and direction): what ONNX export writes.
    public var unrollRecurrence: Bool
    public init(training: Bool = true, bindings: [String: Int] = [:], replicas: Int = 1, syncBatchnorm: Bool = false,
                step: StepMode? = nil, defaultFloatType: DType = .f32, unrollRecurrence: Bool = false) {
        self.training = training
        self.bindings = bindings
        self.replicas = replicas
        self.syncBatchnorm = syncBatchnorm
        self.step = step
        self.defaultFloatType = defaultFloatType
        self.unrollRecurrence = unrollRecurrence
    }
}

/// Expands a model — blocks, loops, conditionals, layer calls — into a graph of
/// primitive ops, inferring every value's type as it goes. Errors are
/// collected; elaboration continues past them (a failed value becomes
/// `poison`, whose uses stay silent), so one run reports every independent error.
public final class Elaborator {
    let unit: SourceUnit
    let options: ElaborationOptions
    var graph: Graph
    var diagnostics = Diagnostics()
    var blocks: [String: BlockDecl] = [:]
    var usedBlocks: Set<String> = []
    /// Blocks being elaborated, innermost last, with their call sites.
    var callStack: [(name: String, call: SourceRange)] = []
    var scope: Scope
    var naming = StatementNaming()
    /// Label given to nodes created now (the layer or binding being computed).
    var currentLabel: String?
    var dropoutStreams = 0
    var constants: [ConstantKey: ValueID] = [:]
    var sawMinimize = false
    /// The file had syntax errors, so statements may be missing: no warnings
    /// about what seems absent.
    var afterSyntaxErrors = false
    /// Work done so far (see `ElaborationLimits.maxSteps`), and whether the
    /// budget ran out, which stops the elaboration.
    var steps = 0
    var aborted = false
    var evaluationDepth = 0
    /// The names in `graph.outputs`, for an O(1) duplicate check.
    var outputNames: Set<String> = []
    /// In step mode: the token input and the states layers carry (StepMode.swift).
    var stepping: StepElaboration?

    struct ConstantKey: Hashable {
        var value: TensorLiteral
        var dtype: DType
    }

    init(unit: SourceUnit, model: ModelDecl, options: ElaborationOptions) {
        self.unit = unit
        self.options = options
        self.graph = Graph(name: model.name.name, source: unit.file, training: options.training)
        self.graph.bindings = options.bindings
        self.scope = Scope(path: "", blockName: nil)
    }

    /// Elaborates one model of a parsed unit.
    public static func elaborate(_ unit: SourceUnit, model: ModelDecl,
                                 options: ElaborationOptions = ElaborationOptions(),
                                 afterSyntaxErrors: Bool = false) -> (Graph, Diagnostics) {
        let e = Elaborator(unit: unit, model: model, options: options)
        e.afterSyntaxErrors = afterSyntaxErrors
        e.collectBlocks()
        e.run(model)
        return (e.graph, e.diagnostics)
    }

    // MARK: Blocks

    func collectBlocks() {
        for b in unit.blocks {
            if let previous = blocks[b.name.name] {
                diagnostics.report(E.duplicateBlock(name: b.name.name, first: previous.name.range), at: b.name.range)
                continue
            }
            if let builtin = Builtins.table[b.name.name] {
                diagnostics.report(E.blockShadowsBuiltin(name: b.name.name, builtin: builtin.role.noun), at: b.name.range)
                continue
            }
            var seen: [String: SourceRange] = [:]
            for p in b.parameters {
                if let first = seen[p.name.name] {
                    diagnostics.report(E.duplicateParameter(name: p.name.name, block: b.name.name, first: first), at: p.name.range)
                }
                seen[p.name.name] = p.name.range
            }
            blocks[b.name.name] = b
        }
    }

    // MARK: Model

    func run(_ model: ModelDecl) {
        // Model parameters: a --bind value, else the default.
        for p in model.parameters {
            if let v = options.bindings[p.name.name] {
                scope.bindings[p.name.name] = Binding(value: .int(v), loc: p.name.range)
            } else if let d = p.defaultValue {
                scope.bindings[p.name.name] = Binding(value: evaluate(d), loc: p.name.range)
            } else {
                diagnostics.report(E.missingModelParameter(name: p.name.name), at: p.name.range)
                scope.bindings[p.name.name] = Binding(value: .poison, loc: p.name.range)
            }
        }
        prepareStepMode(model)
        execute(model.body)
        finishStepMode()
        graph.layers = scope.layers
        checkOneFloatType()
        if graph.outputs.isEmpty, graph.loss == nil, !diagnostics.hasErrors, !afterSyntaxErrors {
            diagnostics.report(E.noOutput(model: model.name.name), at: model.name.range)
        }
    }

    /// The float type of the model: that of its first floating-point value (usually its first
    /// input or parameter), `options.defaultFloatType` (f32) when it has none yet. `one_hot` and
    /// `embedding` produce it unless told otherwise.
    var modelFloatType: DType {
        graph.nodes.first { $0.type.dtype.isFloat }?.type.dtype ?? options.defaultFloatType
    }

    /// A program computes in one float type: the first value of the other one is an error at its
    /// place, with a note at the value that set the model's type.
    func checkOneFloatType() {
        // After another error the mix is most likely its consequence (a mismatch already reported).
        guard !diagnostics.hasErrors, let first = graph.nodes.first(where: { $0.type.dtype.isFloat }),
              let other = graph.nodes.first(where: { $0.type.dtype.isFloat && $0.type.dtype != first.type.dtype }),
              let range = other.loc else { return }
        diagnostics.report(E.mixedFloatTypes(found: other.type, first: first.type, firstAt: first.loc), at: range)
    }

    func execute(_ body: [Statement]) {
        for s in body {
            if aborted { return }
            if scope.returned != nil {
                diagnostics.report(E.unreachable, at: s.range)
                return
            }
            execute(s)
        }
    }

    func execute(_ s: Statement) {
        guard step(at: s.range) else { return }
        switch s.kind {
        case .input(let name, let type):
            guard !scope.isBlock else {
                diagnostics.report(E.misplaced(.input), at: s.range)
                return
            }
            guard let t = evaluateType(stepType(type), allowSymbols: true) else {
                bindPoisonIfNew(name)
                return
            }
            guard checkRedefinition(name) else { return }
            let bound = t.substituting(options.bindings)
            guard bound == t || checkElementCount(bound, "input '\(name.name)' with the bound sizes", at: name.range) else {
                bindPoisonIfNew(name)
                return
            }
            let id = graph.addInput(name.name, bound, loc: name.range)
            scope.bindings[name.name] = Binding(value: .tensor(id), loc: name.range)
            // The symbolic sizes of the shape become names too (B in `reshape(x, [B, 784])`),
            // with their bound value when `--bind` gives one.
            for d in type.dims ?? [] {
                guard case .name(let sym) = d.kind, scope.bindings[sym] == nil, t.shape.symbols.contains(sym) else { continue }
                let value: Value = options.bindings[sym].map { .int($0) } ?? .symbol(sym)
                scope.bindings[sym] = Binding(value: value, loc: d.range)
            }
        case .param(let name, let type, let initExpr):
            guard let t = evaluateType(type, allowSymbols: false) else {
                bindPoisonIfNew(name)
                return
            }
            guard checkRedefinition(name) else { return }
            let fullName = scope.qualified(name.name)
            let dims = t.shape.knownDims ?? []
            let (fanIn, fanOut) = defaultFans(dims)
            var initializer: Initializer = dims.count >= 2 ? .uniformFanIn : .zeros
            if let initExpr {
                guard let i = evaluateInitializer(initExpr, shape: dims, what: "parameter '\(name.name)'") else {
                    scope.bindings[name.name] = Binding(value: .poison, loc: name.range)
                    return
                }
                initializer = i
            }
            let id = graph.addParam(fullName, t, initializer: initializer, trainable: true, fanIn: fanIn,
                                    fanOut: fanOut, loc: name.range)
            scope.bindings[name.name] = Binding(value: .tensor(id), loc: name.range)
            scope.layers.append(LayerRecord(name: fullName, kind: "param", output: id, params: [id], loc: name.range))
            warnIfSymmetric(initializer, dims: dims, name: fullName, at: initExpr?.range ?? name.range)
        case .assign(let name, let expr):
            let v = evaluateStatementExpression(expr, binding: name.name)
            if builtinOrBlockName(name.name) {
                diagnostics.report(E.shadowsFunction(name: name.name), at: name.range)
            }
            scope.bindings[name.name] = Binding(value: v, loc: name.range)
            labelResult(v, name.name)
        case .output(let name, let expr):
            guard !scope.isBlock else {
                diagnostics.report(E.misplaced(.output), at: s.range)
                return
            }
            let v: Value
            if let expr {
                v = evaluateStatementExpression(expr, binding: name.name)
                scope.bindings[name.name] = Binding(value: v, loc: name.range)
            } else {
                guard let b = lookup(name) else { return }
                v = b
            }
            if outputNames.contains(name.name) {
                diagnostics.report(E.duplicateOutput(name: name.name), at: name.range)
                return
            }
            guard let t = tensorValue(v, at: expr?.range ?? name.range, what: "an output") else { return }
            labelResult(v, name.name)
            graph.outputs.append(GraphOutput(name: name.name, value: t, loc: name.range))
            outputNames.insert(name.name)
        case .minimize(let expr):
            guard !scope.isBlock else {
                diagnostics.report(E.misplaced(.minimize), at: s.range)
                return
            }
            if sawMinimize {
                diagnostics.report(E.duplicateMinimize, at: s.range)
                return
            }
            sawMinimize = true
            // A step model is for inference: no loss.
            if isStepping { return }
            let v = evaluateStatementExpression(expr, binding: nil)
            guard let t = tensorValue(v, at: expr.range, what: "the value to minimize") else { return }
            let type = graph[t].type
            guard type.shape.dims == [] else {
                diagnostics.report(E.minimizeNotScalar(type: type), at: expr.range)
                return
            }
            graph.loss = t
            graph.lossLoc = expr.range
        case .return(let expr):
            guard scope.isBlock else {
                diagnostics.report(E.misplaced(.return), at: s.range)
                return
            }
            scope.returned = evaluateStatementExpression(expr, binding: nil)
        case .forLoop(let variable, let lo, let hi, let body):
            guard let a = compileTimeInt(lo, what: "the loop's lower bound"),
                  let b = compileTimeInt(hi, what: "the loop's upper bound") else {
                poisonNamesDefined(in: body)
                return
            }
            let (count, overflow) = b.subtractingReportingOverflow(a)
            if overflow || count > ElaborationLimits.maxLoopIterations {
                diagnostics.report(E.loopTooLong(lower: a, upper: b, count: overflow ? nil : count,
                                                 limit: ElaborationLimits.maxLoopIterations),
                                   at: lo.range.union(hi.range), notes: callStackNotes())
                poisonNamesDefined(in: body)
                return
            }
            let saved = scope.bindings[variable.name]
            if a < b {
                for i in a..<b {
                    scope.bindings[variable.name] = Binding(value: .int(i), loc: variable.range)
                    execute(body)
                    if scope.returned != nil { break }
                }
            }
            if let saved { scope.bindings[variable.name] = saved } else { scope.bindings[variable.name] = nil }
        case .ifStatement(let cond, let thenBody, let elseBody):
            guard let c = compileTimeBool(cond, what: "an 'if' condition") else {
                poisonNamesDefined(in: thenBody + (elseBody ?? []))
                return
            }
            if c { execute(thenBody) } else if let elseBody { execute(elseBody) }
        }
    }

    /// When a loop or an 'if' cannot run because its bounds or condition are in
    /// error, the names its body would define are defined as errors, so that
    /// their uses after it stay silent.
    func poisonNamesDefined(in body: [Statement]) {
        for s in body {
            switch s.kind {
            case .input(let n, _), .param(let n, _, _), .assign(let n, _), .output(let n, _): bindPoisonIfNew(n)
            case .forLoop(_, _, _, let inner): poisonNamesDefined(in: inner)
            case .ifStatement(_, let a, let b): poisonNamesDefined(in: a + (b ?? []))
            case .minimize, .return: break
            }
        }
    }

    /// A declaration that failed still defines its name, so that its uses stay silent.
    func bindPoisonIfNew(_ name: Identifier) {
        if scope.bindings[name.name] == nil { scope.bindings[name.name] = Binding(value: .poison, loc: name.range) }
    }

    /// Inputs and parameters can't be declared twice in one scope (a symbolic
    /// size such as B may be declared as a name, though).
    func checkRedefinition(_ name: Identifier) -> Bool {
        if let previous = scope.bindings[name.name] {
            if case .symbol = previous.value { return true }
            diagnostics.report(E.redefinition(name: name.name, previous: previous.loc), at: name.range)
            return false
        }
        return true
    }

    func builtinOrBlockName(_ name: String) -> Bool {
        blocks[name] != nil || Builtins.table[name]?.role.isCallableLayerOrOp == true
    }

    /// Readers of the IR see which binding a value computes.
    func labelResult(_ v: Value, _ name: String) {
        if case .tensor(let t) = v, graph[t].op != .input, graph[t].op != .param, graph[t].label == nil {
            graph[t].label = scope.qualified(name)
        }
    }

    func evaluateStatementExpression(_ expr: Expr, binding: String?) -> Value {
        let saved = naming
        naming = StatementNaming(binding: binding)
        countCalls(expr)
        let savedLabel = currentLabel
        currentLabel = binding.map { scope.qualified($0) }
        defer {
            naming = saved
            currentLabel = savedLabel
        }
        return evaluate(expr)
    }

    /// Counts the calls that make summary rows and parameters, for naming.
    func countCalls(_ e: Expr) {
        switch e.kind {
        case .call(let callee, let args):
            if blocks[callee.name] != nil {
                naming.rowCalls += 1
            } else if let b = Builtins.table[callee.name] {
                if b.role.makesRow { naming.rowCalls += 1 }
                if b.role.isWeightLayer { naming.weightCalls += 1 }
            }
            for a in args { countCalls(a.value) }
        case .list(let items): items.forEach(countCalls)
        case .unary(_, let x): countCalls(x)
        case .binary(_, let a, let b, _): countCalls(a); countCalls(b)
        case .index(let a, let b): countCalls(a); countCalls(b)
        case .conditional(let c, let a, let b): countCalls(c); countCalls(a); countCalls(b)
        default: break
        }
    }

    /// The name of a layer created by the current statement. In `b = …` the statement's prefix
    /// is `b` made unique in the scope (`b`, `b_1`, …); a weight layer is named the prefix when it
    /// is the statement's only one, a call without parameters when it is the statement's only
    /// naming call, and every other call (batchnorm and prelu always) is `prefix.kind`.
    func layerName(kind: String, createsParameters: Bool, explicit: String? = nil) -> String {
        if let explicit {
            // `h = dense(flatten(x), 2, name: "h")`: the statement reserved `h` as its prefix when
            // flatten was named; the explicit name is that prefix, so the layer takes it as it is.
            if explicit == naming.prefix, !naming.prefixTaken {
                naming.prefixTaken = true
                return scope.qualified(explicit)
            }
            return scope.qualified(scope.unique(explicit))
        }
        let base: String
        if let b = naming.binding {
            let prefix = naming.prefix ?? scope.unique(b)
            naming.prefix = prefix
            let takesBinding = createsParameters
                ? (Builtins.table[kind]?.role.isWeightLayer ?? true) && naming.weightCalls == 1
                : naming.rowCalls == 1
            if takesBinding, !naming.prefixTaken {
                naming.prefixTaken = true
                return scope.qualified(prefix)
            }
            base = "\(prefix).\(kind)"
        } else {
            base = kind
        }
        return scope.qualified(scope.unique(base))
    }

    // MARK: Types

    func evaluateType(_ t: TypeExpr, allowSymbols: Bool) -> TensorType? {
        guard let dtype = DType(rawValue: t.dtype.name) else {
            let s = suggestion(for: t.dtype.name, among: DType.allCases.map(\.rawValue))
            diagnostics.report(E.unknownDType(name: t.dtype.name, suggestion: s), at: t.dtype.range)
            return nil
        }
        guard let dimExprs = t.dims else { return TensorType(dtype, .unknownRank) }
        var dims: [Dim] = []
        var ok = true
        for d in dimExprs {
            if case .name(let n) = d.kind, scope.bindings[n] == nil {
                guard allowSymbols else {
                    diagnostics.report(E.paramShapeNotCompileTime(name: n), at: d.range)
                    ok = false
                    continue
                }
                dims.append(.symbol(n))
                continue
            }
            switch evaluate(d) {
            case .int(let v) where v > 0:
                guard checkSizeArgument(v, "dimension", at: d.range) else {
                    ok = false
                    continue
                }
                dims.append(.known(v))
            case .int(let v):
                diagnostics.report(E.dimensionNotPositive(v), at: d.range)
                ok = false
            case .symbol(let s) where allowSymbols: dims.append(.symbol(s))
            case .symbol(let s):
                diagnostics.report(E.paramShapeSymbolic(symbol: s), at: d.range)
                ok = false
            case .poison: ok = false
            case let v:
                diagnostics.report(E.dimensionNotInteger(got: describe(v)), at: d.range)
                ok = false
            }
        }
        guard ok else { return nil }
        let type = TensorType(dtype, Shape(dims))
        guard checkElementCount(type, "the type", at: t.range) else { return nil }
        return type
    }

    // MARK: Compile-time values

    func compileTimeInt(_ e: Expr, what: String) -> Int? {
        switch evaluate(e) {
        case .int(let i): return i
        case .poison: return nil
        case let v:
            diagnostics.report(E.notCompileTimeInteger(what: what, got: describe(v), hint: hint(v)), at: e.range)
            return nil
        }
    }

    /// What kind of value stands where an integer is needed, for the hint after the error.
    func hint(_ v: Value) -> ElaborationDiagnostic.ValueHint {
        switch v {
        case .tensor: return .tensor
        case .symbol(let s): return .symbol(s)
        case .float: return .number
        default: return .other
        }
    }

    func compileTimeBool(_ e: Expr, what: String) -> Bool? {
        switch evaluate(e) {
        case .bool(let b): return b
        case .poison: return nil
        case let v:
            diagnostics.report(E.notCompileTimeBool(what: what, got: describe(v)), at: e.range)
            return nil
        }
    }

    func lookup(_ id: Identifier) -> Value? {
        if let b = scope.bindings[id.name] { return b.value }
        reportUnknownName(id.name, at: id.range)
        return nil
    }

    func reportUnknownName(_ name: String, at range: SourceRange) {
        if Builtins.table[name] != nil || blocks[name] != nil {
            diagnostics.report(E.functionAsValue(name: name), at: range)
            return
        }
        let s = suggestion(for: name, among: Array(scope.bindings.keys))
        diagnostics.report(E.unknownName(name: name, suggestion: s, definedAt: s.flatMap { scope.bindings[$0]?.loc },
                                         inBlock: scope.isBlock),
                           at: range)
    }

    // MARK: Expressions

    func evaluate(_ e: Expr) -> Value {
        guard step(at: e.range) else { return .poison }
        evaluationDepth += 1
        defer { evaluationDepth -= 1 }
        if evaluationDepth > ElaborationLimits.maxEvaluationDepth {
            aborted = true
            diagnostics.report(E.evaluationTooDeep(limit: ElaborationLimits.maxEvaluationDepth), at: e.range, notes: callStackNotes())
            return .poison
        }
        switch e.kind {
        case .integer(let i): return .int(i)
        case .float(let f): return .float(f)
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .error: return .poison
        case .name(let n):
            guard let v = lookup(Identifier(n, e.range)) else { return .poison }
            return v
        case .list(let items): return .list(items.map(evaluate))
        case .unary(let op, let x):
            let v = evaluate(x)
            switch (op, v) {
            case (_, .poison): return .poison
            case (.negate, .int(let i)):
                guard i != Int.min else {
                    diagnostics.report(E.negationOverflow(i), at: e.range)
                    return .poison
                }
                return .int(-i)
            case (.negate, .float(let f)): return .float(-f)
            case (.negate, .tensor(let t)): return emit(.neg, [t], at: e.range, what: "'-'")
            case (.not, .bool(let b)): return .bool(!b)
            default:
                diagnostics.report(E.unaryOperand(operator: op.rawValue, operand: describe(v)), at: e.range)
                return .poison
            }
        case .binary(let op, let a, let b, let opRange):
            // && and || evaluate their right side only when needed.
            if op == .and || op == .or {
                guard let x = compileTimeBool(a, what: "the left side of '\(op.rawValue)'") else { return .poison }
                if op == .and, !x { return .bool(false) }
                if op == .or, x { return .bool(true) }
                guard let y = compileTimeBool(b, what: "the right side of '\(op.rawValue)'") else { return .poison }
                return .bool(y)
            }
            return binary(op, evaluate(a), evaluate(b), opRange: opRange, range: e.range)
        case .call(let callee, let args):
            return call(callee, args, range: e.range)
        case .index(let base, let index):
            let b = evaluate(base)
            let i = evaluate(index)
            if b.isPoison || i.isPoison { return .poison }
            guard case .list(let items) = b else {
                if case .tensor = b {
                    diagnostics.report(E.tensorIndex, at: e.range)
                } else {
                    diagnostics.report(E.notIndexable(describe(b)), at: base.range)
                }
                return .poison
            }
            guard case .int(let k) = i else {
                diagnostics.report(E.indexNotInteger(got: describe(i)), at: index.range)
                return .poison
            }
            let n = k < 0 ? k + items.count : k
            guard n >= 0, n < items.count else {
                diagnostics.report(E.indexOutOfRange(index: k, count: items.count), at: index.range)
                return .poison
            }
            return items[n]
        case .conditional(let cond, let a, let b):
            guard let c = compileTimeBool(cond, what: "the condition of 'if … then … else …'") else { return .poison }
            return evaluate(c ? a : b)
        }
    }

    func binary(_ op: BinaryOperator, _ x: Value, _ y: Value, opRange: SourceRange, range: SourceRange) -> Value {
        if x.isPoison || y.isPoison { return .poison }
        // Compile-time arithmetic and comparison.
        if let r = foldNumbers(op, x, y, at: opRange) { return r }
        let tensorOp: Op?
        switch op {
        case .add: tensorOp = .add
        case .subtract: tensorOp = .sub
        case .multiply: tensorOp = .mul
        case .divide: tensorOp = .div
        case .matmul: tensorOp = .matmul
        default: tensorOp = nil
        }
        let involvesTensor: Bool = {
            if case .tensor = x { return true }
            if case .tensor = y { return true }
            return false
        }()
        guard let tensorOp, involvesTensor else {
            diagnostics.report(E.binaryOperands(operator: op.rawValue, describe(x), describe(y)), at: opRange)
            return .poison
        }
        if tensorOp == .matmul {
            guard case .tensor(let a) = x, case .tensor(let b) = y else {
                diagnostics.report(E.matmulOperands(describe(x), describe(y)), at: opRange)
                return .poison
            }
            return emit(.matmul, [a, b], at: opRange, what: "'@'")
        }
        let dtype: DType = {
            if case .tensor(let t) = x { return graph[t].type.dtype }
            if case .tensor(let t) = y { return graph[t].type.dtype }
            return .f32
        }()
        guard let a = tensorOperand(x, dtype: dtype, at: range), let b = tensorOperand(y, dtype: dtype, at: range) else {
            return .poison
        }
        return emit(tensorOp, [a, b], at: opRange, what: "'\(op.rawValue)'")
    }

    func foldNumbers(_ op: BinaryOperator, _ x: Value, _ y: Value, at range: SourceRange) -> Value? {
        func num(_ v: Value) -> Double? {
            switch v {
            case .int(let i): return Double(i)
            case .float(let f): return f
            default: return nil
            }
        }
        // Symbolic sizes compare by name, from either side; booleans compare as values.
        if op == .equal || op == .notEqual {
            var same: Bool?
            switch (x, y) {
            case (.symbol(let s), .symbol(let t)): same = s == t
            case (.symbol, .int), (.int, .symbol), (.symbol, .float), (.float, .symbol): same = false
            case (.bool(let a), .bool(let b)): same = a == b
            default: break
            }
            if let same { return .bool(op == .equal ? same : !same) }
        }
        if case .int(let a) = x, case .int(let b) = y { return foldIntegers(op, a, b, at: range) }
        guard let a = num(x), let b = num(y) else { return nil }
        switch op {
        case .add: return .float(a + b)
        case .subtract: return .float(a - b)
        case .multiply: return .float(a * b)
        case .divide:
            if b == 0 {
                diagnostics.report(E.divisionByZero, at: range)
                return .poison
            }
            return .float(a / b)
        case .modulo:
            diagnostics.report(E.moduloOperands(describe(x), describe(y)), at: range)
            return .poison
        case .less: return .bool(a < b)
        case .greater: return .bool(a > b)
        case .lessEqual: return .bool(a <= b)
        case .greaterEqual: return .bool(a >= b)
        case .equal: return .bool(a == b)
        case .notEqual: return .bool(a != b)
        case .matmul, .and, .or: return nil
        }
    }

    /// Compile-time integer arithmetic, exact; overflow is an error.
    func foldIntegers(_ op: BinaryOperator, _ a: Int, _ b: Int, at range: SourceRange) -> Value? {
        func checked(_ r: (partialValue: Int, overflow: Bool)) -> Value {
            if r.overflow {
                diagnostics.report(E.arithmeticOverflow(a, operator: op.rawValue, b), at: range)
                return .poison
            }
            return .int(r.partialValue)
        }
        switch op {
        case .add: return checked(a.addingReportingOverflow(b))
        case .subtract: return checked(a.subtractingReportingOverflow(b))
        case .multiply: return checked(a.multipliedReportingOverflow(by: b))
        case .divide, .modulo:
            if b == 0 {
                diagnostics.report(E.divisionByZero, at: range)
                return .poison
            }
            let r = a.remainderReportingOverflow(dividingBy: b)
            if op == .modulo { return checked(r) }
            // An exact quotient stays an integer; otherwise the result is a number.
            if r.overflow || r.partialValue == 0 { return checked(a.dividedReportingOverflow(by: b)) }
            return .float(Double(a) / Double(b))
        case .less: return .bool(a < b)
        case .greater: return .bool(a > b)
        case .lessEqual: return .bool(a <= b)
        case .greaterEqual: return .bool(a >= b)
        case .equal: return .bool(a == b)
        case .notEqual: return .bool(a != b)
        case .matmul, .and, .or: return nil
        }
    }

    // MARK: Graph construction

    /// Adds an op; a shape-rule failure becomes a located error and poison.
    func emit(_ op: Op, _ inputs: [ValueID], _ attrs: Attributes = Attributes(), at range: SourceRange,
              what: String? = nil) -> Value {
        guard step(at: range) else { return .poison }
        do {
            let id = try graph.add(op, inputs, attrs, loc: range, label: currentLabel, what: what)
            let type = graph[id].type
            if type.shape.knownElementCountWithinLimit == nil {
                graph.nodes.removeLast()
                _ = checkElementCount(type, "\(what ?? op.rawValue): the result", at: range)
                return .poison
            }
            return .tensor(id)
        } catch {
            diagnostics.report(ShapeDiagnostic(error), at: range, notes: callStackNotes())
            return .poison
        }
    }

    /// Like `emit`, for internal steps whose operands are already known to be valid.
    func emitID(_ op: Op, _ inputs: [ValueID], _ attrs: Attributes = Attributes(), at range: SourceRange,
                what: String? = nil) -> ValueID? {
        if case .tensor(let t) = emit(op, inputs, attrs, at: range, what: what) { return t }
        return nil
    }

    /// Where an error inside a block came from.
    func callStackNotes() -> [DiagnosticNote] {
        callStack.reversed().map { ElaborationDiagnostic.calledFrom(block: $0.name, at: $0.call) }
    }

    func constant(_ value: TensorLiteral, dtype: DType, at range: SourceRange) -> ValueID {
        let key = ConstantKey(value: value, dtype: dtype)
        if let c = constants[key] { return c }
        let id = graph.addConstant(value, dtype: dtype, loc: range)
        constants[key] = id
        return id
    }

    func scalar(_ v: Double, like t: ValueID, at range: SourceRange) -> ValueID {
        constant(.scalar(v), dtype: graph[t].type.dtype, at: range)
    }

    /// A tensor operand from a tensor, a number or a literal list.
    func tensorOperand(_ v: Value, dtype: DType, at range: SourceRange) -> ValueID? {
        switch v {
        case .tensor(let t): return t
        case .int, .float, .list:
            switch tensorLiteral(from: v) {
            case .success(let lit): return constant(lit, dtype: dtype, at: range)
            case .failure(let e):
                diagnostics.report(e, at: range)
                return nil
            }
        case .poison: return nil
        default:
            diagnostics.report(E.expectedTensor(got: describe(v)), at: range)
            return nil
        }
    }

    func tensorValue(_ v: Value, at range: SourceRange, what: String) -> ValueID? {
        switch v {
        case .tensor(let t): return t
        case .poison: return nil
        default:
            diagnostics.report(E.mustBeTensor(what: what, got: describe(v)), at: range)
            return nil
        }
    }
}
