import DLGCompiler
import DLGKernels
import Foundation

/// A search that cannot be set up: a bad `--param`, a grid over a continuous range, ….
public struct TuneError: Error, Sendable {
    public var message: String
    public init(_ m: String) { message = m }
}

/// One value a tuned parameter takes.
public enum TuneValue: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case number(Double)
    /// A word or call, passed as written (`adam`, `sgd(lr: 0.1)`).
    case text(String)

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .number(let x): return Self.format(x)
        case .text(let t): return t
        }
    }

    /// Shortest form that reads back as the same Double.
    static func format(_ x: Double) -> String {
        for digits in 1...17 {
            let s = String(format: "%.\(digits)g", x)
            if Double(s) == x { return s }
        }
        return String(x)
    }

    public var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .number(let x): return x
        case .text: return nil
        }
    }

    static func read(_ text: String) -> TuneValue {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let i = Int(t) { return .int(i) }
        if let x = Double(t), x.isFinite { return .number(x) }
        return .text(t)
    }
}

/// How a tuned parameter's values are chosen: `16,32,64` (a list), `1..3` (the integers
/// from 1 to 3), `log(1e-4, 1e-1)` (log-uniform), `uniform(0, 0.5)`.
public enum ValueSpec: Sendable, Equatable, CustomStringConvertible {
    case list([TuneValue])
    case integers(Int, Int)
    case logUniform(Double, Double)
    case uniform(Double, Double)

    public var description: String {
        switch self {
        case .list(let l): return l.map(\.description).joined(separator: ",")
        case .integers(let a, let b): return "\(a)..\(b)"
        case .logUniform(let a, let b): return "log(\(TuneValue.format(a)), \(TuneValue.format(b)))"
        case .uniform(let a, let b): return "uniform(\(TuneValue.format(a)), \(TuneValue.format(b)))"
        }
    }

    /// Every value, for a grid; nil for the continuous forms.
    public var values: [TuneValue]? {
        switch self {
        case .list(let l): return l
        case .integers(let a, let b): return (a...b).map { .int($0) }
        case .logUniform, .uniform: return nil
        }
    }

    /// Whether a plot of this parameter reads best on a log axis.
    public var isLogarithmic: Bool { if case .logUniform = self { true } else { false } }

    public static func parse(_ text: String) throws -> ValueSpec {
        let t = text.trimmingCharacters(in: .whitespaces)
        func pair(_ prefix: String) throws -> (Double, Double)? {
            guard t.hasPrefix(prefix + "("), t.hasSuffix(")") else { return nil }
            let inner = t.dropFirst(prefix.count + 1).dropLast()
            let parts = inner.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let a = parts[0], let b = parts[1], a.isFinite, b.isFinite else {
                throw TuneError("\(prefix)(a, b) takes two numbers, got '\(t)'")
            }
            guard a < b else { throw TuneError("\(prefix)(a, b) needs a < b, got '\(t)'") }
            return (a, b)
        }
        if let (a, b) = try pair("log") ?? pair("loguniform") {
            guard a > 0 else { throw TuneError("log(a, b) draws log-uniformly, so it needs 0 < a < b, got '\(t)'") }
            return .logUniform(a, b)
        }
        if let (a, b) = try pair("uniform") { return .uniform(a, b) }
        if let r = t.range(of: ".."), !t.contains("("), let a = Int(t[..<r.lowerBound]), let b = Int(t[r.upperBound...]) {
            guard a <= b else { throw TuneError("the range \(t) is empty: write low..high") }
            guard b - a < 1_000_000 else { throw TuneError("the range \(t) is too large for a search") }
            return .integers(a, b)
        }
        let items = splitTopLevel(t)
        guard !items.isEmpty, items.allSatisfy({ !$0.isEmpty }) else {
            throw TuneError("expected a list (16,32,64), a range (1..3), log(1e-4, 1e-1) or uniform(a, b), got '\(t)'")
        }
        return .list(items.map(TuneValue.read))
    }

    /// Splits at commas outside parentheses and brackets (`sgd(lr: 0.1, momentum: 0.9),adam`).
    static func splitTopLevel(_ s: String) -> [String] {
        var out: [String] = [], current = "", depth = 0
        for ch in s {
            if ch == "(" || ch == "[" { depth += 1 }
            if ch == ")" || ch == "]" { depth -= 1 }
            if ch == ",", depth == 0 {
                out.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(ch)
            }
        }
        out.append(current.trimmingCharacters(in: .whitespaces))
        return out
    }
}

/// A parameter of the search: a model parameter (`model m(width = 32)`, set with `--bind`)
/// or a train setting (set with its `dlg train` flag).
public struct TunedParameter: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        case model
        /// A train setting and the `dlg train` flag that sets it.
        case setting(flag: String)
    }

    public var name: String
    public var spec: ValueSpec
    public var target: Target
    /// Values are integers (model parameters, batch, epochs, …): draws are rounded.
    public var integral: Bool

    /// The train settings a search can set, with their flags; integral ones are marked.
    public static let settings: [(name: String, flag: String, integral: Bool)] = [
        ("lr", "--lr", false), ("batch", "--batch", true), ("epochs", "--epochs", true), ("l1", "--l1", false),
        ("l2", "--l2", false), ("weight_decay", "--weight-decay", false), ("clip_value", "--clip-value", false),
        ("clip_norm", "--clip-norm", false), ("min_delta", "--min-delta", false), ("patience", "--patience", true),
        ("seed", "--seed", true), ("optimizer", "--optimizer", false), ("schedule", "--schedule", false),
        ("normalize", "--normalize", false), ("augment", "--augment", false),
    ]

    /// Reads `NAME=SPEC`; NAME is one of `modelParameters` or a setting (dashes or underscores).
    public static func parse(_ text: String, modelParameters: [String], model: String) throws -> TunedParameter {
        guard let eq = text.firstIndex(of: "=") else {
            throw TuneError("--param takes NAME=SPEC, e.g. width=32,64,128 or lr=log(1e-4,1e-1); got '\(text)'")
        }
        let name = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let spec: ValueSpec
        do { spec = try ValueSpec.parse(String(text[text.index(after: eq)...])) } catch let e as TuneError {
            throw TuneError("--param \(name): \(e.message)")
        }
        let p: TunedParameter
        if modelParameters.contains(name) {
            p = TunedParameter(name: name, spec: spec, target: .model, integral: true)
        } else if let s = settings.first(where: { $0.name == name.replacingOccurrences(of: "-", with: "_") }) {
            p = TunedParameter(name: s.name, spec: spec, target: .setting(flag: s.flag), integral: s.integral)
        } else {
            let params = modelParameters.isEmpty ? "no model parameters" : "model parameters " + modelParameters.joined(separator: ", ")
            throw TuneError("--param '\(name)' names no model parameter or train setting: \(model) has \(params) "
                               + "(declare them as model \(model)(width = 32, …)), and the settings are "
                               + settings.map(\.name).joined(separator: ", "))
        }
        try p.check()
        return p
    }

    func check() throws {
        guard integral else {
            if case .setting(let flag) = target, ["--optimizer", "--schedule", "--normalize", "--augment"].contains(flag) {
                return
            }
            if case .list(let l) = spec, let bad = l.first(where: { $0.number == nil }) {
                throw TuneError("--param \(name): '\(bad)' is not a number")
            }
            return
        }
        switch spec {
        case .list(let l):
            if let bad = l.first(where: { if case .int = $0 { false } else { true } }) {
                throw TuneError("--param \(name): '\(bad)' is not an integer, and \(name) takes integers")
            }
        case .logUniform(let a, let b), .uniform(let a, let b):
            if a.rounded(.up) > b.rounded(.down) { throw TuneError("--param \(name): no integer lies in \(spec)") }
        case .integers: break
        }
    }

    /// A draw kept to three significant digits (readable in tables and command lines), within [a, b].
    static func threeDigits(_ x: Double, _ a: Double, _ b: Double) -> Double {
        guard x != 0, let r = Double(String(format: "%.3g", x)) else { return x }
        return min(max(r, a), b)
    }

    /// One random value: uniform over a list or a range, log-uniform or uniform in an interval
    /// (rounded to the nearest integer for integral parameters, as Keras Tuner's Int; other
    /// draws to three significant digits).
    public func draw(_ rng: inout RandomStream) -> TuneValue {
        switch spec {
        case .list(let l): return l[rng.below(l.count)]
        case .integers(let a, let b): return .int(a + rng.below(b - a + 1))
        case .logUniform(let a, let b):
            let x = exp(rng.uniform(log(a), log(b)))
            return integral ? .int(Int(min(max(x.rounded(), a.rounded(.up)), b.rounded(.down)))) : .number(Self.threeDigits(x, a, b))
        case .uniform(let a, let b):
            let x = rng.uniform(a, b)
            return integral ? .int(Int(min(max(x.rounded(), a.rounded(.up)), b.rounded(.down)))) : .number(Self.threeDigits(x, a, b))
        }
    }
}

/// A point of the search space: one value per tuned parameter, in the order they were given.
public struct TuneConfig: Sendable, Hashable {
    public var values: [TuneValue]

    /// The `dlg train` arguments that set it.
    public func arguments(_ params: [TunedParameter]) -> [String] {
        zip(params, values).flatMap { p, v -> [String] in
            switch p.target {
            case .model: return ["--bind", "\(p.name)=\(v)"]
            case .setting(let flag): return [flag, v.description]
            }
        }
    }

    public static func grid(_ params: [TunedParameter]) throws -> [TuneConfig] {
        var out = [TuneConfig(values: [])]
        for p in params {
            guard let values = p.spec.values else {
                throw TuneError("grid search takes lists and integer ranges; \(p.name) is \(p.spec) (use --strategy random)")
            }
            out = out.flatMap { c in values.map { TuneConfig(values: c.values + [$0]) } }
            if out.count > 1_000_000 { throw TuneError("the grid has more than a million points") }
        }
        return out
    }

    /// The `index`-th random configuration of a search seeded with `seed`: a function of the two
    /// alone, so a longer search begins with the trials of a shorter one.
    public static func random(_ params: [TunedParameter], seed: UInt64, index: Int) -> TuneConfig {
        var rng = RandomStream(seed: splitMix64(seed ^ 0x5455_4E45) &+ splitMix64(UInt64(index) &+ 1))
        return TuneConfig(values: params.map { $0.draw(&rng) })
    }
}
