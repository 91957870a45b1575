import DLGCompiler
import DLGGraph
import DLGRuntime
import Testing

/// The gradient check leaves out a coordinate only when θ ± ε crosses a kink of the op it
/// passes through. Parameters placed exactly on points that are kinks of one op and not of
/// another tell the two apart: relu at 1 is smooth (d relu = 1 on both sides), satlin at 1 is not.
@Suite struct KinkDetectionTests {
    /// J = Σ op(p) · c, with p given literally; returns the check of p.
    func check(_ op: String, _ p: String) throws -> GradientCheck.TensorResult {
        let text = """
            model m {
                input  x: f32[1]
                param  p: f32[3] = \(p)
                minimize sum(\(op)(p) * [1.5, -2.0, 0.5]) + sum(x * 0)
            }
            """
        let graph = try compileForGradients(text, bind: [:])
        var o = GradientCheck.Options()
        o.samples = 0
        let report = try GradientCheck.run(graph, options: o)
        return try #require(report.tensors.first { $0.name == "p" })
    }

    @Test func reluThroughOneIsNoKink() throws {
        // Each coordinate sits on 1 or −1, where relu is smooth: all three are checked.
        let t = try check("relu", "[1.0, -1.0, 1.0]")
        #expect(t.kinks == 0 && t.checked == 3, "\(t.kinks) skipped, \(t.checked) checked")
        #expect(t.status == .passed && t.relativeError <= 1e-7, "relative error \(t.relativeError)")
    }

    @Test func satlinAtOneIsAKink() throws {
        // satlin = clamp(x, 0, 1) bends at 1: the coordinates on 1 are left out, the one at 0.5 is checked.
        let t = try check("satlin", "[1.0, 0.5, 1.0]")
        #expect(t.kinks == 2 && t.checked == 1, "\(t.kinks) skipped, \(t.checked) checked")
        #expect(t.status == .passed)
    }

    @Test func satlinsAtZeroIsNoKink() throws {
        // satlins = clamp(x, −1, 1) is smooth at 0 and bends at ±1.
        let t = try check("satlins", "[0.0, -1.0, 0.0]")
        #expect(t.kinks == 1 && t.checked == 2, "\(t.kinks) skipped, \(t.checked) checked")
        #expect(t.status == .passed)
    }
}
