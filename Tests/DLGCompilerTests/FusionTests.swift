@testable import DLGCompiler
import DLGGraph
import DLGSyntax
import Testing

/// What the fusion pass makes of batchnorm's training step: its statistics and
/// the sums of its backward read their elementwise producers inside the
/// reduction, and the broadcasts of its backward are read as views.
@Suite struct FusionTests {
    static let source = """
        model bn {
            input  x: f32[8, 2, 6, 6]
            input  label: i32[8]
            h = batchnorm(conv2d(x, filters: 4, kernel: 3, pad: same, bias: false))
            output logits = dense(global_avgpool(relu(h)), 3)
            minimize cross_entropy(logits, label)
        }
        """

    static func fusedStep(sourceLocation: SourceLocation = #_sourceLocation) throws -> Graph {
        var o = PipelineOptions()
        o.training = true
        o.differentiate = true
        o.optimizer = OptimizerSpec(kind: .momentum, lr: 0.1)
        o.verify = true
        o.stage = .fused
        let (graph, diags, _) = Pipeline.compile(SourceFile(path: "bn.dlg", text: source), options: o)
        let g = try #require(graph, "\(diags.all.map(\.message))", sourceLocation: sourceLocation)
        return g
    }

    static func regions(_ g: Graph, kind: String) -> [[Op]] {
        g.nodes.filter { $0.op == .fused && $0.attrs.string("kind") == kind }
            .map { $0.attrs.region("region")?.steps.map(\.op) ?? [] }
    }

    @Test func reductionsAbsorbTheirProducers() throws {
        let g = try Self.fusedStep()
        let reductions = Self.regions(g, kind: "reduction")
        // The variance: the mean of the squared deviations, without storing the squares.
        #expect(reductions.contains([.square, .reduce_mean]))
        // The backward's Σ dy·x̂ and Σ dy·(x − μ) read the products as they are made.
        #expect(reductions.filter { $0 == [.mul, .reduce_sum] }.count >= 2)
        for r in reductions {
            #expect(r.last.map { $0.decl.fusion == .reduction } == true, "\(r)")
            #expect(r.dropLast().allSatisfy { $0.decl.fusion == .elementwise || $0.decl.fusion == .broadcast }, "\(r)")
        }
        // The reductions' full-size inputs are gone: no square is stored on its own.
        #expect(!g.nodes.contains { $0.op == .square })
    }

    @Test func broadcastsAreReadAsViews() throws {
        let g = try Self.fusedStep()
        #expect(!g.nodes.contains { $0.op == .broadcast_to }, "broadcast_to left standing")
        #expect(g.nodes.contains { n in
            n.op == .fused && (n.attrs.region("region")?.steps.contains { $0.op == .broadcast_to } ?? false)
        })
    }

    /// square's derivative reads x alone, so its unary_grad is given x twice and the square need not be kept.
    @Test func squareGradientReadsItsInput() throws {
        var o = PipelineOptions()
        o.training = true
        o.differentiate = true
        o.stage = .grad
        let (graph, diags, _) = Pipeline.compile(SourceFile(path: "bn.dlg", text: Self.source), options: o)
        let g = try #require(graph, "\(diags.all.map(\.message))")
        let grads = g.nodes.filter { $0.op == .unary_grad && $0.attrs.string("fn") == "square" }
        #expect(grads.count == 1)
        for n in grads { #expect(n.inputs[0] == n.inputs[1]) }
    }
}
