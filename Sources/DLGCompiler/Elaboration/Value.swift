import DLGGraph
import DLGSource

/// A compile-time value: what a name is bound to during elaboration.
enum Value: Sendable {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case string(String)
    /// A symbolic dimension obtained from `shape(x)[i]`.
    case symbol(String)
    case tensor(ValueID)
    case list([Value])
    /// An error was already reported for this value; uses stay silent.
    case poison

    var isPoison: Bool {
        if case .poison = self { return true }
        if case .list(let items) = self { return items.contains { $0.isPoison } }
        return false
    }
}

extension Elaborator {
    /// How a value is named in messages: "integer 3", "tensor f32[B,10]".
    func describe(_ v: Value) -> String {
        switch v {
        case .int(let i): return "integer \(i)"
        case .float(let f): return "number \(formatNumber(f))"
        case .bool(let b): return "boolean \(b)"
        case .string(let s): return "string \"\(s)\""
        case .symbol(let s): return "symbolic size \(s)"
        case .tensor(let t): return "tensor \(graph[t].type)"
        case .list(let items): return items.isEmpty ? "empty list" : "list of \(items.count)"
        case .poison: return "invalid value"
        }
    }
}

/// A literal tensor from nested lists of numbers, or nil with a reason.
func tensorLiteral(from value: Value) -> Result<TensorLiteral, ElaborationDiagnostic> {
    switch value {
    case .int(let i): return .success(.scalar(Double(i)))
    case .float(let f): return .success(.scalar(f))
    case .list(let items):
        if items.isEmpty { return .failure(.emptyListLiteral) }
        var shape: [Int]? = nil
        var values: [Double] = []
        for item in items {
            switch tensorLiteral(from: item) {
            case .failure(let e): return .failure(e)
            case .success(let t):
                if let s = shape, s != t.shape {
                    return .failure(.raggedLiteral(Shape(s), Shape(t.shape)))
                }
                shape = t.shape
                values += t.values
            }
        }
        return .success(TensorLiteral(shape: [items.count] + (shape ?? []), values: values))
    default:
        return .failure(.nonNumericLiteral)
    }
}
