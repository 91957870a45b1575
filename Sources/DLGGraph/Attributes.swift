/// A literal tensor written in the source, e.g. `[[0.2], [0.4]]`.
public struct TensorLiteral: Hashable, Sendable, Codable, CustomStringConvertible {
    public var shape: [Int]
    public var values: [Double]
    public init(shape: [Int], values: [Double]) {
        self.shape = shape
        self.values = values
    }
    public static func scalar(_ v: Double) -> TensorLiteral { TensorLiteral(shape: [], values: [v]) }

    public var description: String {
        func fmt(_ v: Double) -> String { formatNumber(v) }
        if shape.isEmpty { return fmt(values.first ?? 0) }
        if values.count > 16 { return "<\(shape.map(String.init).joined(separator: "×")) literal>" }
        func nest(_ dim: Int, _ offset: Int) -> String {
            if dim == shape.count - 1 {
                return "[" + (0..<shape[dim]).map { fmt(values[offset + $0]) }.joined(separator: ", ") + "]"
            }
            let stride = shape[(dim + 1)...].reduce(1, *)
            return "[" + (0..<shape[dim]).map { nest(dim + 1, offset + $0 * stride) }.joined(separator: ", ") + "]"
        }
        return nest(0, 0)
    }
}

/// Shortest readable form of a number: integers without a fraction, others
/// as Swift prints them, shortened to Float precision when very long.
public func formatNumber(_ v: Double) -> String {
    if v.isNaN { return "nan" }
    if v.isInfinite { return v < 0 ? "-inf" : "inf" }
    if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
    let s = String(v)
    return s.count > 12 ? String(Float(v)) : s
}

/// How a parameter's initial value is drawn.
public enum Initializer: Hashable, Sendable, Codable, CustomStringConvertible {
    case zeros
    case ones
    case constant(Double)
    case uniform(Double, Double)
    case normal(mean: Double, std: Double)
    /// U(−1/√fan_in, 1/√fan_in): PyTorch's default for Linear and Conv weights and biases.
    case uniformFanIn
    case xavierUniform, xavierNormal
    case heUniform, heNormal
    /// LeCun: U(±√(3/fan_in)), and a normal of variance 1/fan_in truncated at two standard deviations.
    case lecunUniform, lecunNormal
    case literal(TensorLiteral)

    public var description: String {
        switch self {
        case .zeros: return "zeros"
        case .ones: return "ones"
        case .constant(let v): return "constant(\(formatNumber(v)))"
        case .uniform(let a, let b): return "uniform(\(formatNumber(a)), \(formatNumber(b)))"
        case .normal(let m, let s): return "normal(\(formatNumber(m)), \(formatNumber(s)))"
        case .uniformFanIn: return "uniform_fan_in"
        case .xavierUniform: return "xavier_uniform"
        case .xavierNormal: return "xavier_normal"
        case .heUniform: return "he_uniform"
        case .heNormal: return "he_normal"
        case .lecunUniform: return "lecun_uniform"
        case .lecunNormal: return "lecun_normal"
        case .literal(let t): return t.description
        }
    }

    /// True when every element starts at the same value (zeros, ones, constant,
    /// or a literal whose entries are all equal): the symmetry problem.
    public var isConstant: Bool {
        switch self {
        case .zeros, .ones, .constant: return true
        case .literal(let t): return Set(t.values).count <= 1
        default: return false
        }
    }
}

public enum AttrValue: Hashable, Sendable, Codable, CustomStringConvertible {
    case int(Int)
    case ints([Int])
    case float(Double)
    case string(String)
    case bool(Bool)
    case shape(Shape)
    case dtype(DType)
    case initializer(Initializer)
    case tensor(TensorLiteral)
    case region(FusedRegion)

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .ints(let v): return "[" + v.map(String.init).joined(separator: ",") + "]"
        case .float(let v): return formatNumber(v)
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .shape(let s): return s.description
        case .dtype(let d): return d.rawValue
        case .initializer(let i): return i.description
        case .tensor(let t): return t.description
        case .region(let r): return "<\(r.steps.count) steps>"
        }
    }
}
