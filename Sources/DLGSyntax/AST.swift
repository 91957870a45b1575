import DLGSource

/// The syntax tree of a `.dlg` file. Every node keeps its source range.

public struct Identifier: Hashable, Sendable {
    public var name: String
    public var range: SourceRange
    public init(_ name: String, _ range: SourceRange) {
        self.name = name
        self.range = range
    }
}

public enum UnaryOperator: String, Sendable { case negate = "-", not = "!" }

public enum BinaryOperator: String, Sendable, CaseIterable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", matmul = "@", modulo = "%"
    case less = "<", greater = ">", lessEqual = "<=", greaterEqual = ">=", equal = "==", notEqual = "!="
    case and = "&&", or = "||"

    /// Binding strength; higher binds tighter.
    public var precedence: Int {
        switch self {
        case .or: return 1
        case .and: return 2
        case .less, .greater, .lessEqual, .greaterEqual, .equal, .notEqual: return 3
        case .add, .subtract: return 4
        case .multiply, .divide, .matmul, .modulo: return 5
        }
    }
}

public struct CallArgument: Sendable, Hashable {
    public var label: Identifier?
    public var value: Expr
    public var range: SourceRange { label.map { $0.range.union(value.range) } ?? value.range }
    public init(label: Identifier?, value: Expr) {
        self.label = label
        self.value = value
    }
}

public indirect enum ExprKind: Sendable, Hashable {
    case integer(Int)
    case float(Double)
    case string(String)
    case bool(Bool)
    case name(String)
    case list([Expr])
    case unary(UnaryOperator, Expr)
    /// The operator's own range is kept: errors about the operation point at it.
    case binary(BinaryOperator, Expr, Expr, operatorRange: SourceRange)
    case call(Identifier, [CallArgument])
    case index(Expr, Expr)
    case conditional(Expr, Expr, Expr)
    /// Produced by the parser where an expression was expected but could not
    /// be parsed; the error has already been reported.
    case error
}

public struct Expr: Sendable, Hashable {
    public var kind: ExprKind { didSet { depth = Expr.depth(of: kind) } }
    public var range: SourceRange
    /// The height of the tree: 1 for a leaf, one more than the deepest operand
    /// otherwise. The parser bounds it, so that the recursive walks of later
    /// stages cannot exhaust the stack.
    public private(set) var depth: Int

    public init(_ kind: ExprKind, _ range: SourceRange) {
        self.kind = kind
        self.range = range
        self.depth = Expr.depth(of: kind)
    }

    static func depth(of kind: ExprKind) -> Int {
        switch kind {
        case .integer, .float, .string, .bool, .name, .error: return 1
        case .list(let items): return 1 + (items.map(\.depth).max() ?? 0)
        case .unary(_, let x): return 1 + x.depth
        case .binary(_, let a, let b, _): return 1 + max(a.depth, b.depth)
        case .call(_, let args): return 1 + (args.map(\.value.depth).max() ?? 0)
        case .index(let a, let b): return 1 + max(a.depth, b.depth)
        case .conditional(let c, let a, let b): return 1 + max(c.depth, a.depth, b.depth)
        }
    }
}

/// `f32[B, 1, 28, 28]`; `dims == nil` is `f32[*]` (rank unknown).
public struct TypeExpr: Sendable, Hashable {
    public var dtype: Identifier
    public var dims: [Expr]?
    public var range: SourceRange
    public init(dtype: Identifier, dims: [Expr]?, range: SourceRange) {
        self.dtype = dtype
        self.dims = dims
        self.range = range
    }
}

public indirect enum StatementKind: Sendable, Hashable {
    case input(Identifier, TypeExpr)
    case param(Identifier, TypeExpr, Expr?)
    case assign(Identifier, Expr)
    /// `output name = expr`, or `output name` for an existing binding.
    case output(Identifier, Expr?)
    case minimize(Expr)
    case `return`(Expr)
    case forLoop(Identifier, Expr, Expr, [Statement])
    case ifStatement(Expr, [Statement], [Statement]?)
}

public struct Statement: Sendable, Hashable {
    public var kind: StatementKind
    public var range: SourceRange
    public init(_ kind: StatementKind, _ range: SourceRange) {
        self.kind = kind
        self.range = range
    }
}

public struct BlockParameter: Sendable, Hashable {
    public var name: Identifier
    public var defaultValue: Expr?
    public init(name: Identifier, defaultValue: Expr?) {
        self.name = name
        self.defaultValue = defaultValue
    }
}

public struct ModelDecl: Sendable, Hashable {
    public var name: Identifier
    /// `model resnet(size = 224)`: compile-time integers with defaults, overridable with --bind.
    public var parameters: [BlockParameter]
    public var body: [Statement]
    public var range: SourceRange
}

public struct BlockDecl: Sendable, Hashable {
    public var name: Identifier
    public var parameters: [BlockParameter]
    public var body: [Statement]
    public var range: SourceRange
}

public struct TrainSetting: Sendable, Hashable {
    public var key: Identifier
    public var value: Expr
}

public struct TrainDecl: Sendable, Hashable {
    public var model: Identifier
    public var settings: [TrainSetting]
    public var range: SourceRange
    public func setting(_ key: String) -> TrainSetting? { settings.last { $0.key.name == key } }
}

/// `use "blocks.dlg"` (a file, relative to the using file) or `use nn` (a
/// module of the bundled library): the blocks of that file become available.
public struct UseDecl: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        case file(String)
        case library(String)
    }
    public var target: Target
    /// The path or name as written.
    public var targetRange: SourceRange
    public var range: SourceRange
}

public enum Declaration: Sendable, Hashable {
    case model(ModelDecl)
    case block(BlockDecl)
    case train(TrainDecl)
    case use(UseDecl)
}

public struct SourceUnit: Sendable {
    public var file: SourceFile
    public var declarations: [Declaration]
    public init(file: SourceFile, declarations: [Declaration]) {
        self.file = file
        self.declarations = declarations
    }
    public var models: [ModelDecl] { declarations.compactMap { if case .model(let m) = $0 { m } else { nil } } }
    public var blocks: [BlockDecl] { declarations.compactMap { if case .block(let b) = $0 { b } else { nil } } }
    public var trains: [TrainDecl] { declarations.compactMap { if case .train(let t) = $0 { t } else { nil } } }
    public var uses: [UseDecl] { declarations.compactMap { if case .use(let u) = $0 { u } else { nil } } }
}
