import DLGData

/// The opsets of the default domain (`ai.onnx`) that dlg reads and writes:
/// from 13 (the first with Softmax on one axis and the axes of Squeeze and
/// ReduceSum as inputs) to the newest that ONNX Runtime from PyPI loads.
public enum ONNXOpsets {
    public static let oldest = 13
    public static let newest = 28
    public static let range = oldest...newest
    /// What `dlg export` writes unless told otherwise.
    public static let exportDefault = 17
}

/// One dimension of an ONNX value's shape.
public enum ONNXDim: Hashable, Sendable, CustomStringConvertible {
    case known(Int)
    /// A named dynamic dimension (`dim_param`), such as `batch`.
    case symbol(String)
    /// A dynamic dimension without a name.
    case unknown

    public var value: Int? { if case .known(let v) = self { v } else { nil } }
    public var description: String {
        switch self {
        case .known(let v): String(v)
        case .symbol(let s): s
        case .unknown: "?"
        }
    }
}

/// An ONNX tensor element type that dlg reads.
public enum ONNXDataType: Int, Sendable, CaseIterable {
    case float = 1, uint8 = 2, int8 = 3, int16 = 5, int32 = 6, int64 = 7, bool = 9, float16 = 10, double = 11

    /// The element type of the array dlg keeps it in: f16 widens to f32, the small integers to i32 (bool to u8).
    var elementType: ElementType {
        switch self {
        case .float, .float16: .f32
        case .double: .f64
        case .uint8, .bool: .u8
        case .int8, .int16, .int32: .i32
        case .int64: .i64
        }
    }

    /// Bytes per element in `raw_data` and external data.
    var rawSize: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .int16, .float16: 2
        case .float, .int32: 4
        case .int64, .double: 8
        }
    }

    /// TensorProto.DataType names, for messages.
    public var name: String {
        switch self {
        case .float: "FLOAT"
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .int16: "INT16"
        case .int32: "INT32"
        case .int64: "INT64"
        case .bool: "BOOL"
        case .float16: "FLOAT16"
        case .double: "DOUBLE"
        }
    }

    /// The name of any TensorProto.DataType code.
    static func name(ofCode code: Int) -> String {
        if let t = ONNXDataType(rawValue: code) { return t.name }
        let others = [0: "UNDEFINED", 4: "UINT16", 8: "STRING", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
                      15: "COMPLEX128", 16: "BFLOAT16"]
        return others[code] ?? "data type \(code)"
    }
}

/// A tensor whose values are in the file: an initializer, a Constant node's
/// value, or a tensor attribute.
public struct ONNXTensor: Sendable, Equatable {
    public var name: String
    public var dataType: ONNXDataType
    public var dims: [Int]
    /// The values (see `ONNXDataType.elementType` for the array's type).
    public var array: NDArray
}

/// A graph input or output: a name and, when the file says, its type.
public struct ONNXValueInfo: Sendable, Equatable {
    public var name: String
    /// nil when the file gives no element type (or one dlg does not read).
    public var dataType: ONNXDataType?
    /// The raw element type code, for messages.
    public var dataTypeCode: Int
    /// nil when the file gives no shape.
    public var dims: [ONNXDim]?
}

/// A node attribute's value.
public enum ONNXAttribute: Sendable, Equatable {
    case float(Float)
    case int(Int)
    case string(String)
    case tensor(ONNXTensor)
    case floats([Float])
    case ints([Int])
    case strings([String])
    /// A subgraph, sparse tensor or type: kinds no op dlg translates uses.
    case other(String)
}

public struct ONNXNode: Sendable, Equatable {
    /// The node's position in the file's node list.
    public var index: Int
    public var name: String
    public var opType: String
    /// "" for the default domain.
    public var domain: String
    /// Operand names; "" marks an optional operand left out.
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: ONNXAttribute]
    /// The opset version of the node's domain.
    public var opset: Int?

    /// How messages name it: `node 'conv1' (Conv, opset 13)`.
    public var subject: String {
        describeNode(name: name, index: index, opType: opType, domain: domain, opset: opset)
    }

    public var isDefaultDomain: Bool { domain.isEmpty || domain == "ai.onnx" }
}

/// A validated ONNX model: decoded, with every initializer's values read and
/// checked against its shape, every node's operands defined, and the nodes
/// in an order where each comes after the nodes it reads from.
public struct ONNXModel: Sendable {
    /// The file it was read from (messages name it).
    public var path: String
    public var irVersion: Int
    /// The opset of the default domain.
    public var opset: Int
    /// Other domains' opsets, by domain.
    public var otherOpsets: [String: Int]
    public var producer: String
    public var graphName: String
    /// Inputs fed at run time (graph inputs that are not initializers), in order.
    public var inputs: [ONNXValueInfo]
    public var outputs: [ONNXValueInfo]
    /// Initializers in file order.
    public var initializers: [ONNXTensor]
    /// Nodes in a topological order.
    public var nodes: [ONNXNode]
    /// Types of intermediate values the file annotates (`value_info`).
    public var valueInfo: [String: ONNXValueInfo]

    public func initializer(_ name: String) -> ONNXTensor? {
        initializers.first { $0.name == name }
    }
}
