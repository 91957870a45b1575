import DLGData
import Foundation
import Testing

@testable import DLGONNX

/// Small ONNX models built message by message, for the reader's checks.
enum Build {
    static func valueInfo(_ name: String, _ dims: [Int64?]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = 1
        var s = Onnx_TensorShapeProto()
        s.dim = dims.map { d in
            var x = Onnx_TensorShapeProto.Dimension()
            if let d { x.dimValue = d } else { x.dimParam = "N" }
            return x
        }
        t.shape = s
        v.type.tensorType = t
        return v
    }

    static func node(_ name: String, _ op: String, _ inputs: [String], _ outputs: [String]) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.name = name
        n.opType = op
        n.input = inputs
        n.output = outputs
        return n
    }

    static func floats(_ name: String, _ dims: [Int64], _ values: [Float]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims
        t.dataType = 1
        t.floatData = values
        return t
    }

    /// y = Relu(x · W + b), x [N, 2], W [2, 3].
    static func ints(_ name: String, _ values: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        (t.name, t.dims, t.dataType, t.int64Data) = (name, [Int64(values.count)], 7, values)
        return t
    }

    static func model(opset: Int64 = 17, input: [Int64?] = [nil, 2], nodes: [Onnx_NodeProto]? = nil,
                      initializers: [Onnx_TensorProto]? = nil) -> Onnx_ModelProto {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto()
        o.version = opset
        m.opsetImport = [o]
        var g = Onnx_GraphProto()
        g.name = "tiny"
        g.input = [valueInfo("x", input)]
        g.output = [valueInfo("y", [nil, 3])]
        g.initializer = initializers ?? [floats("fc.weight", [2, 3], [1, 2, 3, 4, 5, 6]), floats("fc.bias", [3], [0.5, -10, 0])]
        g.node = nodes ?? [node("mm", "MatMul", ["x", "fc.weight"], ["h"]), node("add", "Add", ["h", "fc.bias"], ["z"]),
                           node("act", "Relu", ["z"], ["y"])]
        m.graph = g
        return m
    }

    static func bytes(_ m: Onnx_ModelProto) throws -> [UInt8] { try m.serializedBytes() }
}

/// An import's model text without its comment lines.
func modelText(_ r: ONNXImport) -> String {
    r.source.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        .trimmingCharacters(in: .newlines)
}

/// The error a decode throws, as text.
func readError(_ bytes: [UInt8], path: String = "model.onnx", sourceLocation: SourceLocation = #_sourceLocation) -> String {
    do {
        _ = try ONNXReader.decode(bytes, path: path)
        Issue.record("the model was read without error", sourceLocation: sourceLocation)
        return ""
    } catch let e as ONNXError {
        return e.description
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return ""
    }
}

@Suite("ONNX reader")
struct ONNXReaderTests {
    @Test func readsAValidModel() throws {
        let m = try ONNXReader.decode(Build.bytes(Build.model()), path: "tiny.onnx")
        #expect(m.opset == 17)
        #expect(m.inputs.map(\.name) == ["x"])
        #expect(m.inputs[0].dims == [.symbol("N"), .known(2)])
        #expect(m.nodes.map(\.opType) == ["MatMul", "Add", "Relu"])
        #expect(m.initializer("fc.weight")?.array.toFloats() == [1, 2, 3, 4, 5, 6])
    }

    @Test func truncatedFile() throws {
        let full = try Build.bytes(Build.model())
        for cut in [full.count - 1, full.count / 2, 3] {
            let e = readError(Array(full.prefix(cut)), path: "cut.onnx")
            #expect(e.hasPrefix("cut.onnx: "), "\(e)")
            #expect(e.contains("truncated") || e.contains("malformed") || e.contains("no graph"), "\(e)")
        }
    }

    @Test func corruptBytes() {
        let e = readError([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01, 0x02], path: "junk.onnx")
        #expect(e.hasPrefix("junk.onnx: not a valid ONNX file"), "\(e)")
        #expect(readError([], path: "empty.onnx").contains("it has no graph"))
    }

    @Test func opsetOutOfRange() throws {
        #expect(readError(try Build.bytes(Build.model(opset: 9))) == "model.onnx: opset 9 of the default domain (ai.onnx) is out of range: "
                + "dlg reads opsets 13 through 28 (convert the model with onnx.version_converter, or export it again with a newer opset)")
        #expect(readError(try Build.bytes(Build.model(opset: 99))).contains("opset 99 of the default domain (ai.onnx) is out of range"))
    }

    @Test func cycle() throws {
        let nodes = [Build.node("a", "Relu", ["x2"], ["x1"]), Build.node("b", "Relu", ["x1"], ["x2"]),
                     Build.node("c", "Relu", ["x1"], ["y"])]
        let e = readError(try Build.bytes(Build.model(nodes: nodes)))
        #expect(e == "model.onnx: node 'a' (Relu, opset 17): the graph has a cycle: node 'a' (Relu, opset 17) → node 'b' (Relu, opset 17) → node 'a' (Relu, opset 17)"
                || e == "model.onnx: node 'b' (Relu, opset 17): the graph has a cycle: node 'b' (Relu, opset 17) → node 'a' (Relu, opset 17) → node 'b' (Relu, opset 17)",
                "\(e)")
    }

    @Test func undefinedOperand() throws {
        let nodes = [Build.node("act", "Relu", ["nowhere"], ["y"])]
        #expect(readError(try Build.bytes(Build.model(nodes: nodes)))
                == "model.onnx: node 'act' (Relu, opset 17): its input 'nowhere' is not a graph input, an initializer or any node's output")
    }

    @Test func initializerSizeDisagreesWithShape() throws {
        let bad = [Build.floats("fc.weight", [2, 3], [1, 2, 3, 4, 5]), Build.floats("fc.bias", [3], [0, 0, 0])]
        #expect(readError(try Build.bytes(Build.model(initializers: bad)))
                == "model.onnx: initializer 'fc.weight': shape [2, 3] needs 6 FLOAT values but float_data holds 5")
        var raw = Build.floats("fc.weight", [2, 3], [])
        raw.rawData = Data(repeating: 0, count: 20)
        #expect(readError(try Build.bytes(Build.model(initializers: [raw, Build.floats("fc.bias", [3], [0, 0, 0])])))
                == "model.onnx: initializer 'fc.weight': shape [2, 3] needs 24 bytes of FLOAT data (6 × 4) but raw_data holds 20")
    }

    /// A shape of 2⁶² elements is refused before anything is allocated.
    @Test func hugeInitializerShape() throws {
        var t = Build.floats("fc.weight", [1 << 31, 1 << 31], [])
        t.rawData = Data([0, 0, 0, 0])
        let e = readError(try Build.bytes(Build.model(initializers: [t, Build.floats("fc.bias", [3], [0, 0, 0])])))
        #expect(e.hasPrefix("model.onnx: initializer 'fc.weight': "), "\(e)")
        #expect(e.contains("more elements than dlg accepts") || e.contains("exceeds the largest"), "\(e)")
    }

    @Test func externalDataMissingFile() throws {
        var t = Build.floats("fc.weight", [2, 3], [])
        t.dataLocation = .external
        var loc = Onnx_StringStringEntryProto()
        loc.key = "location"
        loc.value = "weights.bin"
        t.externalData = [loc]
        let dir = NSTemporaryDirectory() + "dlg-onnx-ext-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let e = readError(try Build.bytes(Build.model(initializers: [t, Build.floats("fc.bias", [3], [0, 0, 0])])), path: dir + "/m.onnx")
        #expect(e == "\(dir)/m.onnx: initializer 'fc.weight': its external data file \(dir)/weights.bin cannot be opened: No such file or directory")
        // Present but too short.
        FileManager.default.createFile(atPath: dir + "/weights.bin", contents: Data(repeating: 0, count: 8))
        let short = readError(try Build.bytes(Build.model(initializers: [t, Build.floats("fc.bias", [3], [0, 0, 0])])), path: dir + "/m.onnx")
        #expect(short.contains("its external data, 24 bytes at offset 0, lies beyond the end of"), "\(short)")
        // Present and whole: read.
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        FileManager.default.createFile(atPath: dir + "/weights.bin", contents: Data(values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }))
        let m = try ONNXReader.decode(Build.bytes(Build.model(initializers: [t, Build.floats("fc.bias", [3], [0, 0, 0])])), path: dir + "/m.onnx")
        #expect(m.initializer("fc.weight")?.array.toFloats() == values)
    }

    /// Unknown ops are listed together, each with its node, op type and opset.
    @Test func unknownOpsListedAtOnce() throws {
        let nodes = [Build.node("mm", "MatMul", ["x", "fc.weight"], ["h"]), Build.node("odd1", "Hardmax", ["h"], ["z"]),
                     Build.node("odd2", "Erf", ["z"], ["w"]), Build.node("", "Celu", ["w"], ["y"])]
        let model = try ONNXReader.decode(Build.bytes(Build.model(nodes: nodes)), path: "m.onnx")
        do {
            _ = try ONNXImporter.translate(model, options: ONNXImportOptions(modelName: "m"))
            Issue.record("translated")
        } catch let e as ONNXError {
            #expect(e.description == """
                m.onnx: 3 nodes cannot be expressed in dlg:
                m.onnx: node 'odd1' (Hardmax, opset 17): op Hardmax has no dlg translation
                m.onnx: node 'odd2' (Erf, opset 17): op Erf has no dlg translation
                m.onnx: node #3 (Celu, opset 17): op Celu has no dlg translation
                """)
        }
    }

    /// The tiny model imports as a dense layer with its weights.
    @Test func importsMatMulAddAsDense() throws {
        let model = try ONNXReader.decode(Build.bytes(Build.model()), path: "tiny.onnx")
        let r = try ONNXImporter.translate(model, options: ONNXImportOptions(modelName: "tiny"))
        #expect(modelText(r) == """
            model tiny {
                input x: f32[N, 2]

                output y = relu(dense(x, 3, name: "fc"))
            }
            """)
        #expect(r.weights.map(\.name) == ["fc.weight", "fc.bias"])
        #expect(r.weights[1].array.toFloats() == [0.5, -10, 0])
    }

    /// gelu written with Erf — x·½(1 + erf(x/√2)) in the orders PyTorch's exporters and dlg's write,
    /// the scalars as Constant nodes or initializers — imports as one gelu call.
    @Test(arguments: [0, 1, 2])
    func importsGeluWrittenWithErf(_ form: Int) throws {
        func constant(_ name: String, _ v: Float) -> Onnx_NodeProto {
            var n = Build.node(name, "Constant", [], [name])
            var a = Onnx_AttributeProto()
            a.name = "value"
            a.type = .tensor
            a.t = Build.floats("", [], [v])
            n.attribute = [a]
            return n
        }
        let head = [Build.node("mm", "MatMul", ["x", "fc.weight"], ["h"]), Build.node("add", "Add", ["h", "fc.bias"], ["z"])]
        let nodes: [Onnx_NodeProto]
        switch form {
        case 0:  // TorchScript's: ((x / √2) → Erf → + 1) · x, then · ½
            nodes = head + [constant("sqrt2", Float(2).squareRoot()), Build.node("d", "Div", ["z", "sqrt2"], ["s"]), Build.node("e", "Erf", ["s"], ["f"]),
                            constant("one", 1), Build.node("p", "Add", ["f", "one"], ["g"]), Build.node("m", "Mul", ["z", "g"], ["k"]),
                            constant("half", 0.5), Build.node("m2", "Mul", ["k", "half"], ["y"])]
        case 1:  // x · (1/√2), ½ · (1 + erf), then x · that
            nodes = head + [constant("r", Float(0.5).squareRoot()), Build.node("d", "Mul", ["r", "z"], ["s"]), Build.node("e", "Erf", ["s"], ["f"]),
                            constant("one", 1), Build.node("p", "Add", ["one", "f"], ["g"]), constant("half", 0.5),
                            Build.node("m", "Mul", ["half", "g"], ["k"]), Build.node("m2", "Mul", ["z", "k"], ["y"])]
        default:  // (x · ½) · (1 + erf(x / √2)), scalars as initializers
            nodes = head + [Build.node("d", "Div", ["z", "sqrt2"], ["s"]), Build.node("e", "Erf", ["s"], ["f"]),
                            Build.node("p", "Add", ["f", "one"], ["g"]), Build.node("hx", "Mul", ["z", "half"], ["k"]),
                            Build.node("m2", "Mul", ["k", "g"], ["y"])]
        }
        let inits = [Build.floats("fc.weight", [2, 3], [1, 2, 3, 4, 5, 6]), Build.floats("fc.bias", [3], [0.5, -10, 0])]
            + (form == 2 ? [Build.floats("sqrt2", [], [Float(2.0.squareRoot())]), Build.floats("one", [], [1]), Build.floats("half", [], [0.5])] : [])
        let model = try ONNXReader.decode(Build.bytes(Build.model(nodes: nodes, initializers: inits)), path: "g.onnx")
        let r = try ONNXImporter.translate(model, options: ONNXImportOptions(modelName: "g"))
        #expect(modelText(r) == """
            model g {
                input x: f32[N, 2]

                output y = gelu(dense(x, 3, name: "fc"))
            }
            """)
        #expect(r.weights.map(\.name) == ["fc.weight", "fc.bias"])
    }

    /// PyTorch's TorchScript exporter writes equal initializers once: a fresh batchnorm's running
    /// variance is its weight (ones), read through Identity. The layer gets its own copy of each.
    @Test func batchnormWithSharedInitializers() throws {
        let nodes = [Build.node("i1", "Identity", ["bn.weight"], ["bn.running_var"]), Build.node("i2", "Identity", ["bn.bias"], ["bn.running_mean"]),
                     Build.node("bn", "BatchNormalization", ["x", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"], ["y"])]
        let inits = [Build.floats("bn.weight", [2], [1, 1]), Build.floats("bn.bias", [2], [0, 0])]
        let model = try ONNXReader.decode(Build.bytes(Build.model(nodes: nodes, initializers: inits)), path: "bn.onnx")
        let r = try ONNXImporter.translate(model, options: ONNXImportOptions(modelName: "bn"))
        #expect(r.source.contains("output y = batchnorm(x, name: \"bn\")"), "\(r.source)")
        #expect(r.weights.map(\.name) == ["bn.gamma", "bn.beta", "bn.running_mean", "bn.running_var"])
        #expect(r.weights.map { $0.array.toFloats() } == [[1, 1], [0, 0], [0, 0], [1, 1]])
    }

    /// An Erf that is not gelu's, or gelu's with a wrong constant, is reported, not guessed.
    @Test func erfOutsideGeluIsReported() throws {
        let nodes = [Build.node("mm", "MatMul", ["x", "fc.weight"], ["z"]), Build.node("d", "Div", ["z", "c"], ["s"]),
                     Build.node("e", "Erf", ["s"], ["f"]), Build.node("p", "Add", ["f", "one"], ["g"]),
                     Build.node("m", "Mul", ["z", "g"], ["k"]), Build.node("m2", "Mul", ["k", "half"], ["y"])]
        let inits = [Build.floats("fc.weight", [2, 3], [1, 2, 3, 4, 5, 6]), Build.floats("c", [], [1.5]),
                     Build.floats("one", [], [1]), Build.floats("half", [], [0.5])]
        let model = try ONNXReader.decode(Build.bytes(Build.model(nodes: nodes, initializers: inits)), path: "e.onnx")
        do {
            _ = try ONNXImporter.translate(model, options: ONNXImportOptions(modelName: "e"))
            Issue.record("translated")
        } catch let e as ONNXError {
            #expect(e.description == """
                e.onnx: 1 node cannot be expressed in dlg:
                e.onnx: node 'e' (Erf, opset 17): op Erf has no dlg translation
                """)
        }
    }

    /// Attributes and constants that would break the importer's size arithmetic (a zero stride,
    /// axes and permutations out of range, overflowing shape computations) are errors, not traps.
    @Test func hostileAttributesAreErrors() throws {
        func node(_ op: String, _ inputs: [String], _ attributes: [(String, [Int64])] = []) -> Onnx_NodeProto {
            var n = Build.node("n", op, inputs, ["y"])
            n.attribute = attributes.map { (name, v) in
                var a = Onnx_AttributeProto()
                (a.name, a.type, a.ints) = (name, .ints, v)
                return a
            }
            return n
        }
        let image: [Int64?] = [nil, 1, 4, 4]
        let cases: [([Int64?], [Onnx_NodeProto], [Onnx_TensorProto], String)] = [
            ([nil, 2], [node("Transpose", ["x"], [("perm", [0, 5])])], [], "perm [0, 5] is no permutation of the 2 axes"),
            ([nil, 2], [{ var n = node("Flatten", ["x"]); var a = Onnx_AttributeProto(); (a.name, a.type, a.i) = ("axis", .int, 7)
                          n.attribute = [a]; return n }()], [], "axis 7 is out of range for rank 2"),
            ([nil, 2], [node("Unsqueeze", ["x", "axes"])], [Build.ints("axes", [9])], "axes [9] are out of range for rank 3"),
            ([nil, 2], [node("Unsqueeze", ["c", "axes"]), Build.node("a", "Add", ["x", "y"], ["z"])],
             [Build.floats("c", [2], [1, 2]), Build.ints("axes", [-9])], "axes [-9] are out of range for rank 2"),
            (image, [node("MaxPool", ["x"], [("kernel_shape", [2, 2]), ("strides", [0, 0])])], [], "are out of range (1 to 65536)"),
            (image, [node("MaxPool", ["x"], [("kernel_shape", [2, 2]), ("strides", [1])])], [], "must each have two values (2-D)"),
            (image, [node("MaxPool", ["x"], [("kernel_shape", [2, 2]), ("pads", [0, 0, Int64.max, 0])])], [], "are out of range (0 to 65536)"),
            ([nil, 2], [Build.node("m", "Mul", ["big", "four"], ["shape"]), node("Reshape", ["x", "shape"])],
             [Build.ints("big", [1 << 62]), Build.ints("four", [4])], "Mul of 4611686018427387904 and 4 overflows"),
            ([nil, 2], [Build.node("s", "Shape", ["x"], ["sh"]), Build.node("g", "Gather", ["sh", "i"], ["d"]),
                        Build.node("c", "Concat", ["d", "d"], ["shape"]), node("Reshape", ["x", "shape"])],
             [Build.ints("i", [Int64.max])], "an index is out of range"),
            ([nil, 2], [node("Expand", ["c", "shape"]), Build.node("a", "Add", ["x", "y"], ["z"])],
             [Build.floats("c", [1], [1]), Build.ints("shape", [1 << 40])], "the Expand shape [1099511627776] is out of range"),
            ([nil, 2], [node("Reshape", ["x", "shape"])], [Build.ints("shape", [1 << 40, 1 << 40, -1])], "make more than 2³¹ − 1 elements"),
        ]
        for (k, (input, nodes, inits, fragment)) in cases.enumerated() {
            let bytes = try Build.bytes(Build.model(input: input, nodes: nodes, initializers: inits))
            let model = try ONNXReader.decode(bytes, path: "h.onnx")
            do {
                _ = try ONNXImporter.translate(model, options: ONNXImportOptions(modelName: "h"))
                Issue.record("case \(k): translated")
            } catch let e as ONNXError {
                #expect(e.description.contains(fragment), "case \(k): \(e.description)")
            }
        }
    }

    /// Random bytes and random cuts of a valid file never crash the reader.
    @Test func mutatedFilesNeverCrash() throws {
        let full = try Build.bytes(Build.model())
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        for _ in 0..<2000 {
            var b = full
            for _ in 0..<(1 + next() % 4) { b[next() % b.count] = UInt8(truncatingIfNeeded: next()) }
            if next() % 3 == 0 { b = Array(b.prefix(next() % b.count)) }
            if let m = try? ONNXReader.decode(b, path: "fuzz.onnx") {
                _ = try? ONNXImporter.translate(m, options: ONNXImportOptions(modelName: "fuzz"))
            }
        }
    }
}
