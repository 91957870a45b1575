import DLGSource
import DLGSyntax

/// A value written in a `train` block or on the command line: numbers,
/// strings, booleans, bare words, lists and calls with named arguments
/// (`sgd(lr: 0.1, momentum: 0.9)`).
public indirect enum Setting: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case string(String)
    case bool(Bool)
    case word(String)
    case list([Setting])
    case call(String, positional: [Setting], named: [(String, Setting)])

    public static func == (a: Setting, b: Setting) -> Bool { a.description == b.description }

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .float(let f): return String(f)
        case .string(let s): return "\"\(s)\""
        case .bool(let b): return String(b)
        case .word(let w): return w
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .call(let f, let p, let n):
            return f + "(" + (p.map(\.description) + n.map { "\($0.0): \($0.1)" }).joined(separator: ", ") + ")"
        }
    }

    public var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .float(let f): return f
        default: return nil
        }
    }
    public var integer: Int? { if case .int(let i) = self { i } else { nil } }
    public var text: String? {
        switch self {
        case .string(let s), .word(let s): return s
        default: return nil
        }
    }

    /// Converts a parsed expression; unsupported forms are errors located in the source.
    public static func from(_ e: Expr) -> Result<Setting, LocatedSettingError> {
        switch e.kind {
        case .integer(let i): return .success(.int(i))
        case .float(let f): return .success(.float(f))
        case .string(let s): return .success(.string(s))
        case .bool(let b): return .success(.bool(b))
        case .name(let n): return .success(.word(n))
        case .list(let items):
            var out: [Setting] = []
            for i in items {
                switch from(i) {
                case .success(let s): out.append(s)
                case .failure(let d): return .failure(d)
                }
            }
            return .success(.list(out))
        case .call(let f, let args):
            var pos: [Setting] = [], named: [(String, Setting)] = []
            for a in args {
                switch from(a.value) {
                case .success(let s):
                    if let l = a.label { named.append((l.name, s)) } else { pos.append(s) }
                case .failure(let d): return .failure(d)
                }
            }
            return .success(.call(f.name, positional: pos, named: named))
        default:
            return .failure(LocatedSettingError(diagnostic: Diagnostic(TrainSettingDiagnostic.unreadableSetting, at: e.range)))
        }
    }

    /// Parses a setting given on the command line (`--optimizer "adam(lr: 1e-3)"`).
    public static func parse(_ text: String) -> Setting? {
        let file = SourceFile(path: "<command line>", text: "train t { v = \(text)\n}\n")
        let (unit, diags) = Parser.parse(file)
        guard !diags.hasErrors, let t = unit.trains.first, let s = t.settings.first,
              case .success(let v) = from(s.value) else { return nil }
        return v
    }
}

/// A setting that could not be read, with its place in the file.
public struct LocatedSettingError: Error, Sendable {
    public var diagnostic: Diagnostic
}

/// A model's `train` block as values: each setting's name, its value (or
/// why it cannot be read) and where both are written. The trainer reads
/// this, not the syntax tree.
public struct TrainBlock: Sendable {
    public struct Entry: Sendable {
        public var key: String
        public var keyRange: SourceRange
        public var value: Result<Setting, LocatedSettingError>
        public var valueRange: SourceRange
        /// For a list, the range of each item (to point at the one that is wrong).
        public var itemRanges: [SourceRange] = []
    }
    /// The model the block trains.
    public var model: String
    public var settings: [Entry]

    public init(_ decl: TrainDecl) {
        model = decl.model.name
        settings = decl.settings.map {
            var items: [SourceRange] = []
            if case .list(let l) = $0.value.kind { items = l.map(\.range) }
            return Entry(key: $0.key.name, keyRange: $0.key.range, value: Setting.from($0.value), valueRange: $0.value.range,
                         itemRanges: items)
        }
    }
}

extension Frontend {
    /// The train block of a model (the one named, else the file's first): the last one written for it.
    public static func trainBlock(_ unit: SourceUnit, model: String?) -> TrainBlock? {
        let name = model ?? unit.models.first?.name.name
        return unit.trains.last { $0.model.name == name }.map(TrainBlock.init)
    }

    /// The train block of a model in a source file (parsed here), for the
    /// modules that do not read the syntax tree; nil when the file does not
    /// parse or has no block for the model.
    public static func trainBlock(_ file: SourceFile, model: String?) -> TrainBlock? {
        let (unit, diags) = Parser.parse(file)
        guard !diags.hasErrors else { return nil }
        return trainBlock(unit, model: model)
    }
}

/// Reads a call's arguments by name or position, reporting what's wrong.
public struct SettingCall {
    public var name: String
    public var positional: [Setting]
    public var named: [(String, Setting)]

    public init?(_ s: Setting) {
        switch s {
        case .call(let n, let p, let a): (name, positional, named) = (n, p, a)
        case .word(let w): (name, positional, named) = (w, [], [])
        default: return nil
        }
    }

    public func arg(_ key: String, _ position: Int? = nil) -> Setting? {
        if let v = named.last(where: { $0.0 == key }) { return v.1 }
        if let p = position, p < positional.count { return positional[p] }
        return nil
    }

    /// Names not in `allowed`, for "unknown argument" errors.
    public func unknownNames(_ allowed: [String]) -> [String] {
        named.map(\.0).filter { !allowed.contains($0) }
    }
}
