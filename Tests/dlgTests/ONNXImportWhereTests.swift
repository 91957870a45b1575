import DLGData
@testable import DLGONNX
import Foundation
import Testing

/// Small ONNX files written here, node by node, for the importer's translations of `Where`,
/// `LayerNormalization` and a `Gather` of one index from run-time data. Each is imported and run
/// with `dlg run`; the outputs are compared with values computed in the test.
enum HandMadeONNX {
    static func info(_ name: String, _ elemType: Int32, _ dims: [Int64]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = elemType
        t.shape.dim = dims.map { n in
            var d = Onnx_TensorShapeProto.Dimension()
            d.dimValue = n
            return d
        }
        v.type.tensorType = t
        return v
    }

    static func floats(_ name: String, _ dims: [Int64], _ values: [Float]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        (t.name, t.dims, t.dataType, t.floatData) = (name, dims, 1, values)
        return t
    }

    static func bools(_ name: String, _ dims: [Int64], _ values: [Bool]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        (t.name, t.dims, t.dataType, t.int32Data) = (name, dims, 9, values.map { $0 ? 1 : 0 })
        return t
    }

    static func int64s(_ name: String, _ dims: [Int64], _ values: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        (t.name, t.dims, t.dataType, t.int64Data) = (name, dims, 7, values)
        return t
    }

    static func intAttribute(_ name: String, _ v: Int64) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        (a.name, a.type, a.i) = (name, .int, v)
        return a
    }

    /// A model (opset 18) of `nodes` (name, op, inputs, outputs, attributes).
    static func model(inputs: [Onnx_ValueInfoProto], outputs: [Onnx_ValueInfoProto],
                      _ nodes: [(String, String, [String], [String], [Onnx_AttributeProto])],
                      initializers: [Onnx_TensorProto] = []) throws -> [UInt8] {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto()
        o.version = 18
        m.opsetImport = [o]
        m.graph.name = "g"
        m.graph.input = inputs
        m.graph.output = outputs
        m.graph.initializer = initializers
        m.graph.node = nodes.map { n in
            var p = Onnx_NodeProto()
            (p.name, p.opType, p.input, p.output, p.attribute) = n
            return p
        }
        return try m.serializedBytes()
    }

    /// Writes `bytes`, imports them as `m`, runs the model on `inputs` and returns the text and the output.
    static func importAndRun(_ bytes: [UInt8], inputs: [String: NDArray], in s: Scratch,
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> (String, NDArray) {
        try Data(bytes).write(to: URL(fileURLWithPath: s.file("m.onnx")))
        expectSuccess(try CLI.run(["import", s.file("m.onnx"), "-o", s.file("imported"), "--name", "m"]), sourceLocation: sourceLocation)
        let text = try String(contentsOfFile: s.file("imported/m.dlg"), encoding: .utf8)
        var args = ["run", s.file("imported/m.dlg"), "--output", s.file("y.npy")]
        if s.exists("imported/m.safetensors") { args += ["--weights", s.file("imported/m.safetensors")] }
        for (name, a) in inputs.sorted(by: { $0.key < $1.key }) {
            try NPY.write(a, to: s.file("\(name).npy"))
            args += ["--input", "\(name)=\(s.file("\(name).npy"))"]
        }
        expectSuccess(try CLI.run(args), sourceLocation: sourceLocation)
        return (text, try NPY.read(s.file("y.npy")))
    }

    /// Deterministic values in (−2, 2).
    static func values(_ count: Int, seed: UInt32) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) * 4 - 2
        }
    }
}

@Suite("ONNX import: Where, LayerNormalization, Gather of one index")
struct ONNXImportWhereTests {
    /// Softmax of each row over its first i + 1 entries (query i, keys j ≤ i), computed here.
    static func causalSoftmax(_ x: [Float], rows: Int, t: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            let i = r % t
            let row = Array(x[(r * t)..<(r * t + i + 1)]).map(Double.init)
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let sum = e.reduce(0, +)
            for j in 0...i { out[r * t + j] = Float(e[j] / sum) }
        }
        return out
    }

    static func expectClose(_ got: NDArray, _ want: [Float], shape: [Int], tolerance: Double = 1e-6,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(got.shape == shape, sourceLocation: sourceLocation)
        let d = relativeDifference(got, try NDArray(want, shape: shape))
        #expect(d <= tolerance, "relative difference \(d)", sourceLocation: sourceLocation)
    }

    /// Where(mask, x, lowest) then Softmax, the mask keeping j ≤ i (what `dlg export` writes), and the
    /// complementary Where(mask, −∞, x) with the mask true for j > i: both are `softmax(x, causal: true)`.
    @Test(arguments: [false, true])
    func causalMaskIsCausalSoftmax(_ complementary: Bool) throws {
        let s = try Scratch()
        let t = 4
        let keep = (0..<(t * t)).map { $0 % t <= $0 / t }
        let mask = HandMadeONNX.bools("mask", [Int64(t), Int64(t)], complementary ? keep.map { !$0 } : keep)
        let fill = HandMadeONNX.floats("fill", [], [complementary ? -Float.infinity : -Float.greatestFiniteMagnitude])
        let operands = complementary ? ["mask", "fill", "x"] : ["mask", "x", "fill"]
        let bytes = try HandMadeONNX.model(
            inputs: [HandMadeONNX.info("x", 1, [2, 3, Int64(t), Int64(t)])], outputs: [HandMadeONNX.info("y", 1, [2, 3, Int64(t), Int64(t)])],
            [("w", "Where", operands, ["masked"], []), ("p", "Softmax", ["masked"], ["y"], [])],
            initializers: [mask, fill])
        let x = HandMadeONNX.values(2 * 3 * t * t, seed: 7)
        let (text, y) = try HandMadeONNX.importAndRun(bytes, inputs: ["x": try NDArray(x, shape: [2, 3, t, t])], in: s)
        #expect(text.contains("output y = softmax(x, causal: true)"), "\(text)")
        try Self.expectClose(y, Self.causalSoftmax(x, rows: 2 * 3 * t, t: t), shape: [2, 3, t, t])
    }

    /// A mask that is not causal (key 0 hidden from every query) stays a `where` before the softmax,
    /// its constant condition written as a literal that broadcasts over the batch.
    @Test func otherMaskIsWhere() throws {
        let s = try Scratch()
        let t = 3
        let keep = (0..<(t * t)).map { $0 % t != 0 }
        let bytes = try HandMadeONNX.model(
            inputs: [HandMadeONNX.info("x", 1, [2, Int64(t), Int64(t)])], outputs: [HandMadeONNX.info("y", 1, [2, Int64(t), Int64(t)])],
            [("w", "Where", ["mask", "x", "fill"], ["masked"], []), ("p", "Softmax", ["masked"], ["y"], [])],
            initializers: [HandMadeONNX.bools("mask", [Int64(t), Int64(t)], keep), HandMadeONNX.floats("fill", [], [-1e9])])
        let x = HandMadeONNX.values(2 * t * t, seed: 3)
        let (text, y) = try HandMadeONNX.importAndRun(bytes, inputs: ["x": try NDArray(x, shape: [2, t, t])], in: s)
        #expect(text.contains("where([[0, 1, 1], [0, 1, 1], [0, 1, 1]], x, -1000000000)"), "\(text)")
        var want = [Float](repeating: 0, count: x.count)
        for r in 0..<(2 * t) {
            let e = (1..<t).map { Foundation.exp(Double(x[r * t + $0])) }
            for j in 1..<t { want[r * t + j] = Float(e[j - 1] / e.reduce(0, +)) }
        }
        try Self.expectClose(y, want, shape: [2, t, t])
    }

    /// A run-time condition: a float tensor Cast to bool (nonzero is true) selects between x and a number.
    @Test func runTimeConditionIsWhere() throws {
        let s = try Scratch()
        let bytes = try HandMadeONNX.model(
            inputs: [HandMadeONNX.info("x", 1, [2, 3]), HandMadeONNX.info("c", 1, [2, 3])], outputs: [HandMadeONNX.info("y", 1, [2, 3])],
            [("b", "Cast", ["c"], ["cb"], [HandMadeONNX.intAttribute("to", 9)]), ("w", "Where", ["cb", "x", "half"], ["y"], [])],
            initializers: [HandMadeONNX.floats("half", [1], [0.5])])
        let x = HandMadeONNX.values(6, seed: 11)
        let c: [Float] = [0, 1, -2, 0, 0.25, 0]
        let (text, y) = try HandMadeONNX.importAndRun(bytes, inputs: ["x": try NDArray(x, shape: [2, 3]), "c": try NDArray(c, shape: [2, 3])], in: s)
        #expect(text.contains("where(c, x, 0.5)"), "\(text)")
        try Self.expectClose(y, zip(c, x).map { $0 != 0 ? $1 : 0.5 }, shape: [2, 3], tolerance: 0)
    }

    /// dlg's own `where` (an i32 condition) goes out as Cast + Where and comes back as `where`.
    @Test func dlgWhereRoundTrip() throws {
        let s = try Scratch()
        let graph = s.file("w.dlg"), onnx = s.file("w.onnx")
        try """
            model w {
                input x: f32[B, 3]
                input c: i32[B, 3]
                output y = where(c, dense(x, 3, name: "a"), x * 2)
            }

            """.write(toFile: graph, atomically: true, encoding: .utf8)
        expectSuccess(try CLI.run(["export", graph, "-o", onnx, "--seed", "2"]))
        expectSuccess(try CLI.run(["import", onnx, "-o", s.file("imported"), "--name", "m"]))
        let text = try String(contentsOfFile: s.file("imported/m.dlg"), encoding: .utf8)
        #expect(text.contains("where(c, "), "\(text)")
        try ONNXRoundTripTests.expectSameOutputs(graph, seed: 2, onnx: onnx, in: s)
    }

    /// The GPTs' causal softmax comes back as one: no `where`, no mask.
    @Test func gptCausalSoftmaxComesBack() throws {
        let s = try Scratch()
        expectSuccess(try CLI.run(["export", CLI.graph("adder_gpt.dlg"), "-o", s.file("g.onnx")]))
        expectSuccess(try CLI.run(["import", s.file("g.onnx"), "-o", s.file("imported"), "--name", "m"]))
        let text = try String(contentsOfFile: s.file("imported/m.dlg"), encoding: .utf8)
        #expect(text.components(separatedBy: ", causal: true)").count - 1 == 2, "\(text)")
        #expect(!text.contains("where("), "\(text)")
    }

    /// LayerNormalization over the last axis: `layer_norm` named after its weight, computed here as
    /// (x − mean)/√(var + eps)·γ + β with the biased variance.
    @Test func layerNormalization() throws {
        let s = try Scratch()
        let d = 5
        let gamma = HandMadeONNX.values(d, seed: 5).map { 1 + $0 / 4 }, beta = HandMadeONNX.values(d, seed: 6)
        let eps: Float = 1e-3
        var attr = Onnx_AttributeProto()
        (attr.name, attr.type, attr.f) = ("epsilon", .float, eps)
        let bytes = try HandMadeONNX.model(
            inputs: [HandMadeONNX.info("x", 1, [2, 3, Int64(d)])], outputs: [HandMadeONNX.info("y", 1, [2, 3, Int64(d)])],
            [("ln", "LayerNormalization", ["x", "norm.weight", "norm.bias"], ["y"], [attr])],
            initializers: [HandMadeONNX.floats("norm.weight", [Int64(d)], gamma), HandMadeONNX.floats("norm.bias", [Int64(d)], beta)])
        let x = HandMadeONNX.values(6 * d, seed: 9)
        let (text, y) = try HandMadeONNX.importAndRun(bytes, inputs: ["x": try NDArray(x, shape: [2, 3, d])], in: s)
        #expect(text.contains("output y = layer_norm(x, eps: 0.001, name: \"norm\")"), "\(text)")
        var want: [Float] = []
        for r in 0..<6 {
            let row = x[(r * d)..<(r * d + d)].map(Double.init)
            let mean = row.reduce(0, +) / Double(d)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
            for j in 0..<d { want.append(Float((row[j] - mean) / (variance + Double(eps)).squareRoot() * Double(gamma[j]) + Double(beta[j]))) }
        }
        try Self.expectClose(y, want, shape: [2, 3, d])
    }

    /// Gather of one constant index along an axis of run-time data (PyTorch's `qkv[1]`): a scalar index
    /// drops the axis, a one-element vector keeps it.
    @Test(arguments: [true, false])
    func gatherOneIndex(_ scalar: Bool) throws {
        let s = try Scratch()
        let index = HandMadeONNX.int64s("i", scalar ? [] : [1], [-2])
        let outDims: [Int64] = scalar ? [2, 4] : [2, 1, 4]
        let bytes = try HandMadeONNX.model(
            inputs: [HandMadeONNX.info("x", 1, [2, 3, 4])], outputs: [HandMadeONNX.info("y", 1, outDims)],
            [("g", "Gather", ["x", "i"], ["y"], [HandMadeONNX.intAttribute("axis", 1)])], initializers: [index])
        let x = HandMadeONNX.values(24, seed: 1)
        let (_, y) = try HandMadeONNX.importAndRun(bytes, inputs: ["x": try NDArray(x, shape: [2, 3, 4])], in: s)
        // Index −2 of 3 is 1.
        let want = (0..<2).flatMap { b in (0..<4).map { x[b * 12 + 1 * 4 + $0] } }
        try Self.expectClose(y, want, shape: outDims.map { Int($0) }, tolerance: 0)
    }
}
