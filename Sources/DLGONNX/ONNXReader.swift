import DLGData
import Foundation
import SwiftProtobuf

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and validates `.onnx` files.
///
/// Checks, each reported as an `ONNXError` naming the file and, where there
/// is one, the node or initializer: the bytes are a protobuf ModelProto (a
/// truncated or corrupt file is an error, not a crash); the model has a graph
/// and imports the default domain at an opset in `ONNXOpsets.range`; every
/// initializer's data holds exactly as many values as its shape says (the
/// count is computed, checked against the data present and against the
/// largest tensor dlg accepts, before anything is allocated); external data
/// lies in a readable file next to the model, within that file; every node
/// operand is a graph input, an initializer or another node's output; no
/// value is produced twice; and the nodes form no cycle.
public enum ONNXReader {
    /// Nesting of messages the decoder accepts (subgraphs of subgraphs …).
    static let messageDepthLimit = 64

    public static func read(_ path: String) throws -> ONNXModel {
        let bytes: [UInt8]
        do { bytes = try readFileBytes(path) } catch let e as DataError {
            throw ONNXError(file: path, e.message)
        }
        return try decode(bytes, path: path)
    }

    /// Decodes and validates a model; `path` names it in messages and locates external data.
    public static func decode(_ bytes: [UInt8], path: String) throws -> ONNXModel {
        let proto = try parse(bytes, path: path)
        return try validate(proto, path: path)
    }

    static func parse(_ bytes: [UInt8], path: String) throws -> Onnx_ModelProto {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = messageDepthLimit
        do {
            return try Onnx_ModelProto(serializedBytes: bytes, options: options)
        } catch let e as BinaryDecodingError {
            throw ONNXError(file: path, "not a valid ONNX file: \(describe(e)) (\(bytes.count) bytes read)")
        } catch {
            throw ONNXError(file: path, "not a valid ONNX file: \(error)")
        }
    }

    static func describe(_ e: BinaryDecodingError) -> String {
        switch e {
        case .truncated: "the protobuf data ends in the middle of a field (the file is truncated)"
        case .malformedProtobuf: "the protobuf data is malformed (the file is corrupt or not ONNX)"
        case .invalidUTF8: "a string field is not UTF-8 (the file is corrupt or not ONNX)"
        case .messageDepthLimit: "messages are nested more than \(messageDepthLimit) deep"
        case .missingRequiredFields: "a required field is missing"
        case .trailingGarbage: "there are bytes after the model"
        default: "\(e)"
        }
    }

    // MARK: Validation

    static func validate(_ m: Onnx_ModelProto, path: String) throws -> ONNXModel {
        guard m.hasGraph else {
            throw ONNXError(file: path, "not an ONNX model: it has no graph (an empty file, or not a ModelProto)")
        }
        guard m.irVersion >= 3 else {
            throw ONNXError(file: path, m.hasIrVersion
                ? "IR version \(m.irVersion) is too old: dlg reads IR version 3 and later"
                : "not an ONNX model: it has no IR version")
        }
        var opset: Int?
        var others: [String: Int] = [:]
        for o in m.opsetImport {
            if o.domain.isEmpty || o.domain == "ai.onnx" {
                opset = clampInt(o.version)
            } else {
                others[o.domain] = clampInt(o.version)
            }
        }
        guard let opset else {
            throw ONNXError(file: path, "the model imports no opset of the default domain (ai.onnx)")
        }
        guard ONNXOpsets.range.contains(opset) else {
            throw ONNXError(file: path, "opset \(opset) of the default domain (ai.onnx) is out of range: dlg reads opsets "
                            + "\(ONNXOpsets.oldest) through \(ONNXOpsets.newest)"
                            + (opset < ONNXOpsets.oldest ? " (convert the model with onnx.version_converter, or export it again with a newer opset)" : ""))
        }
        let g = m.graph
        let directory = (path as NSString).deletingLastPathComponent

        // Initializers: values read and checked.
        var initializers: [ONNXTensor] = []
        var defined: Set<String> = []
        for (k, t) in g.initializer.enumerated() {
            let subject = "initializer '\(t.name.isEmpty ? "#\(k)" : t.name)'"
            guard !t.name.isEmpty else { throw ONNXError(file: path, subject: subject, "has no name") }
            guard defined.insert(t.name).inserted else {
                throw ONNXError(file: path, subject: subject, "appears twice")
            }
            initializers.append(try tensor(t, subject: subject, path: path, directory: directory))
        }
        if let s = g.sparseInitializer.first {
            throw ONNXError(file: path, subject: "initializer '\(s.values.name)'", "sparse initializers are not supported")
        }

        // Inputs and outputs.
        var inputs: [ONNXValueInfo] = []
        for v in g.input {
            guard !v.name.isEmpty else { throw ONNXError(file: path, "a graph input has no name") }
            if defined.contains(v.name) { continue }  // an initializer listed as an input (IR < 4 style)
            defined.insert(v.name)
            inputs.append(valueInfo(v))
        }
        let outputs = g.output.map(valueInfo)
        var valueInfos: [String: ONNXValueInfo] = [:]
        for v in g.valueInfo where !v.name.isEmpty { valueInfos[v.name] = valueInfo(v) }

        // Nodes: attributes decoded, operands checked, sorted.
        var nodes: [ONNXNode] = []
        var producer: [String: Int] = [:]
        for (k, n) in g.node.enumerated() {
            let version = n.domain.isEmpty || n.domain == "ai.onnx" ? opset : others[n.domain]
            var node = ONNXNode(index: k, name: n.name, opType: n.opType, domain: n.domain, inputs: n.input,
                                outputs: n.output, attributes: [:], opset: version)
            guard !n.opType.isEmpty else { throw ONNXError(file: path, subject: node.subject, "has no op type") }
            for a in n.attribute {
                guard !a.name.isEmpty else { throw ONNXError(file: path, subject: node.subject, "has an attribute without a name") }
                node.attributes[a.name] = try attribute(a, node: node, path: path, directory: directory)
            }
            for o in n.output where !o.isEmpty {
                if defined.contains(o) || producer[o] != nil {
                    throw ONNXError(file: path, subject: node.subject, "its output '\(o)' is already defined "
                                    + (producer[o].map { "by \(nodesSubject(g.node[$0], $0, opset, others))" } ?? "as a graph input or initializer"))
                }
                producer[o] = k
            }
            nodes.append(node)
        }
        for node in nodes {
            for i in node.inputs where !i.isEmpty && !defined.contains(i) && producer[i] == nil {
                throw ONNXError(file: path, subject: node.subject,
                                "its input '\(i)' is not a graph input, an initializer or any node's output")
            }
        }
        for o in outputs {
            guard !o.name.isEmpty else { throw ONNXError(file: path, "a graph output has no name") }
            if !defined.contains(o.name) && producer[o.name] == nil {
                throw ONNXError(file: path, "graph output '\(o.name)' is not computed by any node")
            }
        }
        let sorted = try topologicalOrder(nodes, producer: producer, path: path)

        return ONNXModel(path: path, irVersion: clampInt(m.irVersion), opset: opset, otherOpsets: others,
                         producer: m.producerName + (m.producerVersion.isEmpty ? "" : " " + m.producerVersion),
                         graphName: g.name, inputs: inputs, outputs: outputs, initializers: initializers,
                         nodes: sorted, valueInfo: valueInfos)
    }

    static func nodesSubject(_ n: Onnx_NodeProto, _ index: Int, _ opset: Int, _ others: [String: Int]) -> String {
        describeNode(name: n.name, index: index, opType: n.opType, domain: n.domain,
                     opset: n.domain.isEmpty || n.domain == "ai.onnx" ? opset : others[n.domain])
    }

    /// Kahn's algorithm, keeping the file's order among ready nodes. A node
    /// left over sits on or behind a cycle; the message follows the cycle.
    static func topologicalOrder(_ nodes: [ONNXNode], producer: [String: Int], path: String) throws -> [ONNXNode] {
        var waiting = [Int](repeating: 0, count: nodes.count)
        var users = [[Int]](repeating: [], count: nodes.count)
        for n in nodes {
            for i in Set(n.inputs) {
                if let p = producer[i] {
                    waiting[n.index] += 1
                    users[p].append(n.index)
                }
            }
        }
        var ready = (0..<nodes.count).filter { waiting[$0] == 0 }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        var head = 0
        while head < ready.count {
            let k = ready[head]
            head += 1
            order.append(k)
            for u in users[k] {
                waiting[u] -= 1
                if waiting[u] == 0 { ready.append(u) }
            }
        }
        if order.count == nodes.count { return order.map { nodes[$0] } }
        // Walk back through unfinished producers until a node repeats: that is a cycle.
        var k = (0..<nodes.count).first { waiting[$0] > 0 }!
        var seen: [Int: Int] = [:]
        var walk: [Int] = []
        while seen[k] == nil {
            seen[k] = walk.count
            walk.append(k)
            k = nodes[k].inputs.compactMap { producer[$0] }.first { waiting[$0] > 0 }!
        }
        let cycle = Array(walk[seen[k]!...]).reversed()
        let text = (cycle.map { nodes[$0].subject } + [nodes[cycle.first!].subject]).joined(separator: " → ")
        throw ONNXError(file: path, subject: nodes[cycle.first!].subject, "the graph has a cycle: \(text)")
    }

    static func clampInt(_ v: Int64) -> Int { Int(clamping: v) }

    static func valueInfo(_ v: Onnx_ValueInfoProto) -> ONNXValueInfo {
        guard case .tensorType(let t)? = v.type.value else {
            return ONNXValueInfo(name: v.name, dataType: nil, dataTypeCode: 0, dims: nil)
        }
        let dims: [ONNXDim]? = t.hasShape ? t.shape.dim.map { d in
            switch d.value {
            case .dimValue(let n)?: n >= 0 ? .known(Int(clamping: n)) : .unknown
            case .dimParam(let s)?: s.isEmpty ? .unknown : .symbol(s)
            case nil: .unknown
            }
        } : nil
        return ONNXValueInfo(name: v.name, dataType: ONNXDataType(rawValue: Int(t.elemType)), dataTypeCode: Int(t.elemType),  // conversion: Int32 to Int, a widening
                             dims: dims)
    }

    static func attribute(_ a: Onnx_AttributeProto, node: ONNXNode, path: String, directory: String) throws -> ONNXAttribute {
        switch a.type {
        case .float: return .float(a.f)
        case .int: return .int(clampInt(a.i))
        case .string: return .string(String(decoding: a.s, as: UTF8.self))
        case .floats: return .floats(a.floats)
        case .ints: return .ints(a.ints.map(clampInt))
        case .strings: return .strings(a.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor:
            return .tensor(try tensor(a.t, subject: "\(node.subject), attribute '\(a.name)'", path: path, directory: directory))
        default:
            // Files from before attribute types were required: infer from what is set.
            if a.type == .undefined {
                if a.hasF { return .float(a.f) }
                if a.hasI { return .int(clampInt(a.i)) }
                if a.hasS { return .string(String(decoding: a.s, as: UTF8.self)) }
                if !a.ints.isEmpty { return .ints(a.ints.map(clampInt)) }
                if !a.floats.isEmpty { return .floats(a.floats) }
            }
            return .other("\(a.type)")
        }
    }

    // MARK: Tensors

    /// The largest tensor dlg reads: as many elements as one dlg tensor may hold.
    static let maxElements = Int(Int32.max)

    static func tensor(_ t: Onnx_TensorProto, subject: String, path: String, directory: String) throws -> ONNXTensor {
        guard let type = ONNXDataType(rawValue: Int(t.dataType)) else {  // conversion: Int32 to Int, a widening
            throw ONNXError(file: path, subject: subject, "element type \(ONNXDataType.name(ofCode: Int(t.dataType))) is not supported "  // conversion: Int32 to Int, a widening
                            + "(dlg reads FLOAT, DOUBLE, FLOAT16, INT64, INT32, INT16, INT8, UINT8 and BOOL)")
        }
        if t.hasSegment { throw ONNXError(file: path, subject: subject, "segmented tensors are not supported") }
        var dims: [Int] = []
        var count = 1
        for d in t.dims {
            guard d >= 0 else { throw ONNXError(file: path, subject: subject, "has a negative dimension \(d) in \(t.dims)") }
            guard d <= Int64(maxElements) else {  // conversion: Int to Int64, a widening
                throw ONNXError(file: path, subject: subject, "dimension \(d) exceeds the largest dlg accepts, \(maxElements)")
            }
            dims.append(Int(d))  // conversion: 0 ≤ d ≤ maxElements, checked above
            let (p, overflow) = count.multipliedReportingOverflow(by: Int(d))  // conversion: 0 ≤ d ≤ maxElements, checked above
            guard !overflow, p <= maxElements else {
                throw ONNXError(file: path, subject: subject, "shape \(dims.description) has more elements than dlg accepts (\(maxElements))")
            }
            count = p
        }
        let shape = dims
        func mismatch(_ found: Int, _ field: String) -> ONNXError {
            ONNXError(file: path, subject: subject, "shape \(shape) needs \(count) \(type.name) values but \(field) holds \(found)")
        }
        // The raw bytes: inline, or in an external file.
        var raw: [UInt8]?
        if t.dataLocation == .external {
            raw = try externalData(t, count: count, type: type, subject: subject, path: path, directory: directory)
        } else if t.hasRawData {
            let size = count * type.rawSize
            guard t.rawData.count == size else {
                throw ONNXError(file: path, subject: subject, "shape \(shape) needs \(size) bytes of \(type.name) data "
                                + "(\(count) × \(type.rawSize)) but raw_data holds \(t.rawData.count)")
            }
            raw = [UInt8](t.rawData)
        }
        let array: NDArray
        do {
            if let raw {
                array = try fromRaw(raw, type: type, shape: shape)
            } else {
                switch type {
                case .float:
                    guard t.floatData.count == count else { throw mismatch(t.floatData.count, "float_data") }
                    array = try NDArray(t.floatData, shape: shape)
                case .double:
                    guard t.doubleData.count == count else { throw mismatch(t.doubleData.count, "double_data") }
                    array = try NDArray(t.doubleData, shape: shape)
                case .int64:
                    guard t.int64Data.count == count else { throw mismatch(t.int64Data.count, "int64_data") }
                    array = try NDArray(t.int64Data, shape: shape)
                case .int32, .int16, .int8:
                    guard t.int32Data.count == count else { throw mismatch(t.int32Data.count, "int32_data") }
                    array = try NDArray(t.int32Data, shape: shape)
                case .uint8, .bool:
                    guard t.int32Data.count == count else { throw mismatch(t.int32Data.count, "int32_data") }
                    array = try NDArray(t.int32Data.map { UInt8(truncatingIfNeeded: $0) }, shape: shape)
                case .float16:
                    guard t.int32Data.count == count else { throw mismatch(t.int32Data.count, "int32_data") }
                    array = try NDArray(t.int32Data.map { halfToFloat(UInt16(truncatingIfNeeded: $0)) }, shape: shape)
                }
            }
        } catch let e as DataError {
            throw ONNXError(file: path, subject: subject, e.message)
        }
        return ONNXTensor(name: t.name, dataType: type, dims: shape, array: array)
    }

    /// Little-endian bytes to an array of dlg's element type for `type`.
    static func fromRaw(_ raw: [UInt8], type: ONNXDataType, shape: [Int]) throws -> NDArray {
        switch type {
        case .float, .double, .int32, .int64, .uint8:
            return try NDArray(type.elementType, shape: shape, littleEndianBytes: raw)
        case .bool:
            return try NDArray(raw.map { $0 != 0 ? 1 : 0 } as [UInt8], shape: shape)
        case .int8:
            return try NDArray(raw.map { Int32(Int8(bitPattern: $0)) }, shape: shape)  // conversion: Int8 to Int32, a widening
        case .int16:
            var v = [Int32](repeating: 0, count: raw.count / 2)
            for i in v.indices { v[i] = Int32(Int16(bitPattern: UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8)) }  // conversion: bytes to UInt16 and Int16 to Int32, widenings
            return try NDArray(v, shape: shape)
        case .float16:
            var v = [Float](repeating: 0, count: raw.count / 2)
            for i in v.indices { v[i] = halfToFloat(UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8) }  // conversion: bytes to UInt16, a widening
            return try NDArray(v, shape: shape)
        }
    }

    /// IEEE binary16 to Float, subnormals, infinities and NaN included.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign: Float = h & 0x8000 != 0 ? -1 : 1
        let exponent = Int((h >> 10) & 0x1F)  // conversion: five bits of a UInt16
        let fraction = Float(h & 0x3FF)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }

    /// The bytes of an initializer stored outside the model (`data_location:
    /// EXTERNAL`): `location` is a path relative to the model's directory,
    /// `offset` and `length` a byte range in it.
    static func externalData(_ t: Onnx_TensorProto, count: Int, type: ONNXDataType, subject: String, path: String,
                             directory: String) throws -> [UInt8] {
        var location: String?
        var offset = 0
        var length: Int?
        for e in t.externalData {
            switch e.key {
            case "location": location = e.value
            case "offset":
                guard let v = Int(e.value), v >= 0 else {  // conversion: a failable parse of text
                    throw ONNXError(file: path, subject: subject, "external data offset '\(e.value)' is not a non-negative integer")
                }
                offset = v
            case "length":
                guard let v = Int(e.value), v >= 0 else {  // conversion: a failable parse of text
                    throw ONNXError(file: path, subject: subject, "external data length '\(e.value)' is not a non-negative integer")
                }
                length = v
            default: break
            }
        }
        guard let location, !location.isEmpty else {
            throw ONNXError(file: path, subject: subject, "its data is external but no location is given")
        }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw ONNXError(file: path, subject: subject,
                            "external data location '\(location)' leaves the model's directory (it must be a relative path below it)")
        }
        let size = count * type.rawSize
        if let length, length != size {
            throw ONNXError(file: path, subject: subject, "shape \(t.dims) needs \(size) bytes of \(type.name) data "
                            + "but the external data length is \(length)")
        }
        let file = directory.isEmpty ? location : directory + "/" + location
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ONNXError(file: path, subject: subject,
                            "its external data file \(file) cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw ONNXError(file: path, subject: subject, "its external data file \(file) is not a regular file")
        }
        let fileSize = Int(st.st_size)  // conversion: off_t is Int64, Int's width on the 64-bit platforms dlg builds for
        guard offset <= fileSize, size <= fileSize - offset else {
            throw ONNXError(file: path, subject: subject, "its external data, \(size) bytes at offset \(offset), "
                            + "lies beyond the end of \(file) (\(fileSize) bytes)")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw ONNXError(file: path, subject: subject, "reading its external data from \(file) failed"
                                + (n < 0 ? ": \(String(cString: strerror(errno)))" : ": the file ended early"))
            }
            done += n
        }
        return bytes
    }
}
