import DLGGraph
import DLGSource
import DLGSyntax

private typealias E = ElaborationDiagnostic

/// What a built-in's argument accepts.
enum ArgKind: Sendable {
    case tensor
    /// A tensor, or a number / literal list turned into a constant.
    case tensorOrNumber
    case int
    case float
    case bool
    /// An integer for both spatial axes, or a list [h, w].
    case pair
    /// same | valid | N | [h, w] | [top, bottom, left, right].
    case padding
    /// One word out of a fixed set, bare (`round: ceil`) or quoted.
    case word([String])
    case initializer
    /// An axis or a list of axes.
    case axes
    /// A list of sizes: integers, symbolic sizes and at most one −1.
    case shape
    case dtype
    case any

    var expectation: String {
        switch self {
        case .tensor: return "a tensor"
        case .tensorOrNumber: return "a tensor or a number"
        case .int: return "an integer"
        case .float: return "a number"
        case .bool: return "true or false"
        case .pair: return "a positive integer or a pair [h, w]"
        case .padding: return "same, valid, an integer, [h, w] or [top, bottom, left, right]"
        case .word(let choices): return "one of " + choices.joined(separator: ", ")
        case .initializer: return "an initializer (zeros, ones, constant(v), uniform(a, b), normal(mean, std), xavier_uniform, he_normal, …) or a literal tensor"
        case .axes: return "an axis or a list of axes"
        case .shape: return "a list of sizes"
        case .dtype: return "a dtype (f32, f64 or i32)"
        case .any: return "a value"
        }
    }
}

struct ParamSpec: Sendable {
    var name: String
    var kind: ArgKind
    var required: Bool
    var positional: Bool
    var defaultValue: Arg?

    static func required(_ name: String, _ kind: ArgKind, positional: Bool = true) -> ParamSpec {
        ParamSpec(name: name, kind: kind, required: true, positional: positional, defaultValue: nil)
    }
    static func optional(_ name: String, _ kind: ArgKind, _ def: Arg? = nil, positional: Bool = false) -> ParamSpec {
        ParamSpec(name: name, kind: kind, required: false, positional: positional, defaultValue: def)
    }
}

enum Padding: Equatable, Sendable {
    case same, valid
    /// [top, bottom, left, right]
    case explicit([Int])
}

/// An argument after conversion to its kind.
enum Arg: Sendable {
    case tensor(ValueID)
    case int(Int)
    case float(Double)
    case bool(Bool)
    case ints([Int])
    case padding(Padding)
    case word(String)
    case initializer(Initializer)
    case shape([ShapeEntry])
    case dtype(DType)
    case value(Value)
}

enum ShapeEntry: Equatable, Sendable {
    case size(Int)
    case symbol(String)
    case infer
}

struct BoundCall: Sendable {
    var name: String
    /// The whole call expression.
    var range: SourceRange
    /// The callee identifier.
    var calleeRange: SourceRange
    var args: [String: (arg: Arg, range: SourceRange)] = [:]

    func has(_ n: String) -> Bool { args[n] != nil }
    func range(of n: String) -> SourceRange { args[n]?.range ?? calleeRange }

    func tensor(_ n: String) -> ValueID? { if case .tensor(let t)? = args[n]?.arg { t } else { nil } }
    func int(_ n: String) -> Int? { if case .int(let v)? = args[n]?.arg { v } else { nil } }
    func float(_ n: String) -> Double? {
        switch args[n]?.arg {
        case .float(let v)?: return v
        case .int(let v)?: return Double(v)
        default: return nil
        }
    }
    func bool(_ n: String) -> Bool? { if case .bool(let v)? = args[n]?.arg { v } else { nil } }
    func ints(_ n: String) -> [Int]? { if case .ints(let v)? = args[n]?.arg { v } else { nil } }
    func padding(_ n: String) -> Padding? { if case .padding(let v)? = args[n]?.arg { v } else { nil } }
    func word(_ n: String) -> String? { if case .word(let v)? = args[n]?.arg { v } else { nil } }
    func initializer(_ n: String) -> Initializer? {
        if case .initializer(let v)? = args[n]?.arg { v } else { nil }
    }
    func shape(_ n: String) -> [ShapeEntry]? { if case .shape(let v)? = args[n]?.arg { v } else { nil } }
    func dtype(_ n: String) -> DType? { if case .dtype(let v)? = args[n]?.arg { v } else { nil } }
    func value(_ n: String) -> Value? {
        switch args[n]?.arg {
        case .value(let v)?: return v
        case .tensor(let t)?: return .tensor(t)
        case .int(let i)?: return .int(i)
        case .float(let f)?: return .float(f)
        case .bool(let b)?: return .bool(b)
        default: return nil
        }
    }
}

extension Elaborator {
    /// Matches a call's arguments to a parameter list and converts each.
    /// Reports every problem; nil when there was one.
    func bind(_ callee: Identifier, _ args: [CallArgument], to params: [ParamSpec], range: SourceRange,
              what: String) -> BoundCall? {
        var ok = true
        var unknownLabel = false
        var assigned: [String: CallArgument] = [:]
        var order: [(ParamSpec, CallArgument)] = []
        let positional = params.filter(\.positional)
        var nextPositional = 0
        for a in args {
            if let label = a.label {
                guard let p = params.first(where: { $0.name == label.name }) else {
                    diagnostics.report(E.unknownArgument(callee: what, label: label.name,
                                                         suggestion: suggestion(for: label.name, among: params.map(\.name)),
                                                         takes: params.map(\.name)),
                                       at: label.range)
                    ok = false
                    unknownLabel = true
                    continue
                }
                if assigned[p.name] != nil {
                    diagnostics.report(E.duplicateArgument(name: p.name), at: label.range)
                    ok = false
                    continue
                }
                assigned[p.name] = a
                order.append((p, a))
            } else {
                guard nextPositional < positional.count else {
                    let n = positional.count
                    diagnostics.report(E.tooManyArguments(callee: what, positional: n, given: args.filter { $0.label == nil }.count,
                                                          nextNamed: params.count > n ? params[n].name : nil),
                                       at: a.range)
                    ok = false
                    continue
                }
                let p = positional[nextPositional]
                nextPositional += 1
                if assigned[p.name] != nil {
                    diagnostics.report(E.duplicateArgument(name: p.name), at: a.range)
                    ok = false
                    continue
                }
                assigned[p.name] = a
                order.append((p, a))
            }
        }
        // A misspelt argument name usually is the missing argument: one error is enough.
        for p in params where p.required && assigned[p.name] == nil && !unknownLabel {
            diagnostics.report(E.missingArgument(callee: what, name: p.name, expectation: p.kind.expectation), at: callee.range)
            ok = false
        }
        var call = BoundCall(name: callee.name, range: range, calleeRange: callee.range)
        // Convert in source order so that graph nodes appear in reading order.
        for (p, a) in order {
            guard let arg = convert(a.value, to: p.kind, name: p.name, what: what) else {
                ok = false
                continue
            }
            call.args[p.name] = (arg, a.value.range)
        }
        guard ok else { return nil }
        for p in params where call.args[p.name] == nil {
            if let d = p.defaultValue { call.args[p.name] = (d, callee.range) }
        }
        return call
    }

    func convert(_ e: Expr, to kind: ArgKind, name: String, what: String) -> Arg? {
        func mismatch(_ v: Value) -> Arg? {
            if !v.isPoison {
                diagnostics.report(E.argumentMismatch(name: name, callee: what, expectation: kind.expectation, got: describe(v),
                                                      hint: kind.wantsInteger ? hint(v) : .other),
                                   at: e.range)
            }
            return nil
        }
        // An expression the parser could not read was reported already.
        if case .error = e.kind { return nil }
        switch kind {
        case .word(let choices):
            var word: String?
            if case .name(let n) = e.kind, scope.bindings[n] == nil || choices.contains(n) { word = n }
            if case .string(let s) = e.kind { word = s }
            guard let w = word, choices.contains(w) else {
                diagnostics.report(E.argumentNotAChoice(name: name, callee: what, expectation: kind.expectation,
                                                        shown: word.map { "'\($0)'" },
                                                        suggestion: word.flatMap { suggestion(for: $0, among: choices) }),
                                   at: e.range)
                return nil
            }
            return .word(w)
        case .dtype:
            if case .name(let n) = e.kind, let d = DType(rawValue: n) { return .dtype(d) }
            if case .string(let n) = e.kind, let d = DType(rawValue: n) { return .dtype(d) }
            let given: String?
            switch e.kind {
            case .name(let n): given = "'\(n)'"
            case .string(let n): given = "\"\(n)\""
            default: given = nil
            }
            diagnostics.report(E.argumentNotAChoice(name: name, callee: what, expectation: kind.expectation, shown: given,
                                                    suggestion: nil),
                               at: e.range)
            return nil
        case .initializer:
            return evaluateInitializer(e, shape: nil, what: "argument '\(name)' of \(what)").map { .initializer($0) }
        case .padding:
            if case .name(let n) = e.kind, n == "same" || n == "valid", scope.bindings[n] == nil {
                return .padding(n == "same" ? .same : .valid)
            }
            if case .string(let n) = e.kind, n == "same" || n == "valid" { return .padding(n == "same" ? .same : .valid) }
            let v = evaluate(e)
            switch v {
            case .int(let p) where p >= 0:
                guard checkSizeArgument(p, "argument '\(name)' of \(what):", at: e.range) else { return nil }
                return .padding(.explicit([p, p, p, p]))
            case .list(let items):
                let ints = items.compactMap { if case .int(let i) = $0, i >= 0 { i } else { nil } }
                for i in ints where !checkSizeArgument(i, "argument '\(name)' of \(what):", at: e.range) { return nil }
                if ints.count == items.count, ints.count == 2 {
                    return .padding(.explicit([ints[0], ints[0], ints[1], ints[1]]))
                }
                if ints.count == items.count, ints.count == 4 { return .padding(.explicit(ints)) }
                return mismatch(v)
            default: return mismatch(v)
            }
        default:
            break
        }
        let v = evaluate(e)
        if v.isPoison { return nil }
        switch (kind, v) {
        case (.any, _): return .value(v)
        case (.tensor, .tensor(let t)): return .tensor(t)
        case (.tensorOrNumber, .tensor(let t)): return .tensor(t)
        case (.tensorOrNumber, .int), (.tensorOrNumber, .float), (.tensorOrNumber, .list): return .value(v)
        case (.int, .int(let i)): return .int(i)
        case (.float, .int(let i)): return .float(Double(i))
        case (.float, .float(let f)): return .float(f)
        case (.bool, .bool(let b)): return .bool(b)
        case (.pair, .int(let i)) where i > 0:
            guard checkSizeArgument(i, "argument '\(name)' of \(what):", at: e.range) else { return nil }
            return .ints([i, i])
        case (.pair, .list(let items)):
            let ints = items.compactMap { if case .int(let i) = $0, i > 0 { i } else { nil } }
            guard ints.count == 2, items.count == 2 else { return mismatch(v) }
            for i in ints where !checkSizeArgument(i, "argument '\(name)' of \(what):", at: e.range) { return nil }
            return .ints(ints)
        case (.axes, .int(let i)): return .ints([i])
        case (.axes, .list(let items)):
            let ints = items.compactMap { if case .int(let i) = $0 { i } else { nil } }
            guard ints.count == items.count else { return mismatch(v) }
            return .ints(ints)
        case (.shape, .list(let items)):
            var entries: [ShapeEntry] = []
            for item in items {
                switch item {
                case .int(-1): entries.append(.infer)
                case .int(let i) where i > 0:
                    guard checkSizeArgument(i, "argument '\(name)' of \(what): size", at: e.range) else { return nil }
                    entries.append(.size(i))
                case .symbol(let s): entries.append(.symbol(s))
                default: return mismatch(v)
                }
            }
            guard entries.filter({ $0 == .infer }).count <= 1 else {
                diagnostics.report(E.inferTwice, at: e.range)
                return nil
            }
            return .shape(entries)
        default:
            return mismatch(v)
        }
    }

    // MARK: Initializers

    static let initializerWords: [String: Initializer] = [
        "zeros": .zeros, "ones": .ones,
        "uniform_fan_in": .uniformFanIn,
        "xavier_uniform": .xavierUniform, "glorot_uniform": .xavierUniform,
        "xavier_normal": .xavierNormal, "glorot_normal": .xavierNormal,
        "he_uniform": .heUniform, "kaiming_uniform": .heUniform,
        "he_normal": .heNormal, "kaiming_normal": .heNormal,
        "lecun_uniform": .lecunUniform, "lecun_normal": .lecunNormal,
    ]

    /// An initializer expression; literal tensors are checked against `shape` when given.
    func evaluateInitializer(_ e: Expr, shape: [Int]?, what: String) -> Initializer? {
        let words = Elaborator.initializerWords
        switch e.kind {
        case .name(let n) where scope.bindings[n] == nil:
            if let i = words[n] { return i }
            if ["constant", "uniform", "normal"].contains(n) {
                diagnostics.report(E.initializerNeedsArguments(name: n), at: e.range)
                return nil
            }
            let s = suggestion(for: n, among: Array(words.keys) + ["constant", "uniform", "normal"])
            diagnostics.report(E.unknownInitializer(name: n, suggestion: s), at: e.range)
            return nil
        case .call(let callee, let args) where ["constant", "uniform", "normal"].contains(callee.name):
            let params: [ParamSpec]
            switch callee.name {
            case "constant": params = [.required("value", .float)]
            case "uniform": params = [.required("low", .float), .required("high", .float)]
            default: params = [.optional("mean", .float, .float(0), positional: true),
                               .optional("std", .float, .float(1), positional: true)]
            }
            guard let c = bind(callee, args, to: params, range: e.range, what: "initializer '\(callee.name)'") else {
                return nil
            }
            switch callee.name {
            case "constant": return .constant(c.float("value")!)
            case "uniform":
                let (a, b) = (c.float("low")!, c.float("high")!)
                guard a < b else {
                    diagnostics.report(E.uniformBounds(low: a, high: b), at: e.range)
                    return nil
                }
                return .uniform(a, b)
            default:
                let std = c.float("std")!
                guard std >= 0 else {
                    diagnostics.report(E.normalStd(std), at: e.range)
                    return nil
                }
                return .normal(mean: c.float("mean")!, std: std)
            }
        case .call(let callee, _) where words[callee.name] != nil:
            diagnostics.report(E.initializerTakesNoArguments(name: callee.name), at: e.range)
            return nil
        default:
            let v = evaluate(e)
            switch v {
            case .poison: return nil
            case .int(let i): return .constant(Double(i))
            case .float(let f): return .constant(f)
            case .list:
                switch tensorLiteral(from: v) {
                case .failure(let err):
                    diagnostics.report(err, at: e.range)
                    return nil
                case .success(let lit):
                    if let shape, lit.shape != shape {
                        diagnostics.report(E.literalShapeMismatch(what: what, literal: Shape(lit.shape), needed: Shape(shape)),
                                           at: e.range)
                        return nil
                    }
                    return .literal(lit)
                }
            default:
                diagnostics.report(E.notAnInitializer(what: what, got: describe(v)), at: e.range)
                return nil
            }
        }
    }

    /// Literal initializers given to layers are checked once the parameter's shape is known.
    func checkInitializer(_ i: Initializer, shape: [Int], what: String, at range: SourceRange) -> Bool {
        if case .literal(let lit) = i, lit.shape != shape {
            diagnostics.report(E.literalShapeMismatch(what: what, literal: Shape(lit.shape), needed: Shape(shape)), at: range)
            return false
        }
        return true
    }

    /// Fan-in and fan-out from a parameter shape: [in, out] for matrices
    /// (x @ W), [F, C, kh, kw] for filters.
    func defaultFans(_ dims: [Int]) -> (Int, Int) {
        switch dims.count {
        case 0: return (1, 1)
        case 1: return (dims[0], dims[0])
        case 2: return (dims[0], dims[1])
        default:
            let receptive = dims[2...].reduce(1, *)
            return (dims[1] * receptive, dims[0] * receptive)
        }
    }

    func warnIfSymmetric(_ i: Initializer, dims: [Int], name: String, at range: SourceRange) {
        guard dims.count >= 2, i.isConstant, dims[0] > 1 || dims[1] > 1 else { return }
        diagnostics.report(E.symmetricInit(parameter: name, initializer: i.description), at: range)
    }
}

extension ArgKind {
    var wantsInteger: Bool {
        switch self {
        case .int, .pair, .axes: return true
        default: return false
        }
    }
}
