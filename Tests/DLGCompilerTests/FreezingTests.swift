import DLGCompiler
import DLGGraph
import DLGSource
import Testing

@Suite("Freezing patterns")
struct FreezingTests {
    @Test(arguments: [
        ("c1.*", "c1.weight", true), ("c1.*", "c10.weight", false), ("c1", "c1.bias", true), ("c1", "c10.bias", false),
        ("c1", "c1", true), ("*.bias", "f5.bias", true), ("*.bias", "f5.weight", false), ("stage?.*", "stage3.0.conv.weight", true),
        ("stage?.*", "stage10.0.conv.weight", false), ("*", "anything.at.all", true), ("f*5*", "f5", true), ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYbZ", false),
    ])
    func globMatchesWholeNames(_ pattern: String, _ name: String, _ expected: Bool) {
        #expect(Freezing.matches(pattern, name) == expected, "\(pattern) on \(name)")
    }

    /// Frozen parameters get no gradient: autodiff differentiates the others only.
    @Test func frozenParametersAreLeftOutOfAutodiff() throws {
        let file = SourceFile(path: "f.dlg", text: """
            model f {
                input x: f32[B, 3]
                input y: f32[B, 1]
                h = relu(dense(x, 4))
                output o = dense(h, 1)
                minimize mse(o, y)
            }
            """)
        var o = PipelineOptions()
        o.stage = .grad
        o.differentiate = true
        o.bindings = ["B": 2]
        o.freeze = ["h"]
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        #expect(!diags.hasErrors)
        let g = try #require(graph)
        let differentiated = Set(g.gradients.keys.compactMap { g[$0].name })
        #expect(differentiated == ["o.weight", "o.bias"])
        #expect(g.params.filter { $0.name?.hasPrefix("h.") == true }.allSatisfy { !$0.attrs.param.trainable })
    }
}
