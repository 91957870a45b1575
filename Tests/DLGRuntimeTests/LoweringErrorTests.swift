import DLGGraph
import DLGRuntime
import DLGSource
import Testing

/// Graphs the elaborator would have refused, built by hand: lowering still names the value and
/// its source location.
@Suite struct LoweringErrorTests {
    @Test func mixedFloatTypesNameTheValueAndItsPlace() throws {
        let file = SourceFile(path: "built.dlg", text: "model m {\n    input x: f32[2]\n    param w: f64[2]\n}\n")
        var g = Graph(name: "m", source: file, training: false)
        _ = g.addInput("x", TensorType(.f32, [2]), loc: SourceRange(20, 21))
        let w = g.addParam("w", TensorType(.f64, [2]), initializer: .ones, trainable: true, fanIn: 2, fanOut: 2,
                           loc: SourceRange(40, 41))
        g.outputs = [GraphOutput(name: "w", value: w, loc: nil)]
        do {
            _ = try Lowering.lower(g)
            Issue.record("a graph of f32 and f64 values was lowered")
        } catch {
            #expect(error.message == "the graph mixes f32 and f64 values: %w (param at built.dlg:3:11) is f64 but the first float value is f32; a program computes in one float type")
        }
    }
}
