@testable import DLGCompiler
import DLGGraph
import DLGSource
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
        g.nodes.filter { $0.op == .fused && $0.attrs.fused.kind.rawValue == kind }
            .map { $0.attrs.region?.steps.map(\.op) ?? [] }
    }

    @Test func reductionsAbsorbTheirProducers() throws {
        let g = try Self.fusedStep()
        let reductions = Self.regions(g, kind: "reduction")
        // The variance: the mean of the squared deviations, without storing the squares
        // nor the deviations (x − μ is recomputed there and in x̂, see `duplicable`).
        #expect(reductions.contains([.sub, .square, .reduce_mean]))
        // The backward's Σ dy·x̂ and Σ dy·(x − μ)·… read the products as they are made,
        // recomputing x̂ = (x − μ)·rstd (2 FLOPs per element over one stored tensor) from x.
        #expect(reductions.filter { $0 == [.sub, .mul, .mul, .reduce_sum] }.count == 2, "\(reductions)")
        // x̂ is not stored: no region computes it alone; the forward's γ·x̂ + β recomputes it.
        let elementwise = Self.regions(g, kind: "elementwise")
        #expect(!elementwise.contains([.sub, .mul]), "\(elementwise)")
        #expect(elementwise.contains { $0.starts(with: [.sub, .mul, .mul, .bias_add]) }, "\(elementwise)")
        for r in reductions {
            #expect(r.last.map { $0.decl.fusion == .reduction } == true, "\(r)")
            #expect(r.dropLast().allSatisfy { $0.decl.fusion == .elementwise || $0.decl.fusion == .broadcast }, "\(r)")
        }
        // The reductions' full-size inputs are gone: no square nor deviation is stored on its own.
        #expect(!g.nodes.contains { $0.op == .square || $0.op == .sub })
    }

    @Test func broadcastsAreReadAsViews() throws {
        let g = try Self.fusedStep()
        #expect(!g.nodes.contains { $0.op == .broadcast_to }, "broadcast_to left standing")
        #expect(g.nodes.contains { n in
            n.op == .fused && (n.attrs.region?.steps.contains { $0.op == .broadcast_to } ?? false)
        })
    }

    /// The inference graph of `source` after fusion, verified after every pass.
    static func fuse(_ source: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Graph {
        var o = PipelineOptions()
        o.stage = .fused
        o.verify = true
        let (graph, diags, _) = Pipeline.compile(SourceFile(path: "dup.dlg", text: source), options: o)
        return try #require(graph, "\(diags.all.map(\.message))", sourceLocation: sourceLocation)
    }

    /// A model computing d = a − b and one output per line of `readers`.
    static func difference(readers: [String]) -> String {
        """
        model m {
            input a: f32[4, 8]
            input b: f32[4, 8]
            d = a - b
        \(readers.map { "    output \($0)" }.joined(separator: "\n"))
        }
        """
    }

    /// d = a − b has two full-size inputs. Read by two consumers, storing it moves
    /// 2 + 1 + 2 = 5 tensors and recomputing it 2·2 = 4: it is recomputed in both.
    /// Read by three, 2 + 1 + 3 = 6 against 2·3 = 6: it is stored.
    @Test func cheapValuesAreRecomputedWhereThatMovesFewerBytes() throws {
        let two = try Self.fuse(Self.difference(readers: ["p = relu(d)", "q = d * d"]))
        #expect(!two.nodes.contains { $0.op == .sub }, "d stored")
        let regions = Self.regions(two, kind: "elementwise")
        #expect(regions.count == 2 && regions.contains([.sub, .relu]) && regions.contains([.sub, .mul]), "\(regions)")
        let three = try Self.fuse(Self.difference(readers: ["p = relu(d)", "q = d * d", "r = exp(d)"]))
        #expect(three.nodes.filter { $0.op == .sub }.count == 1)
        #expect(!Self.regions(three, kind: "elementwise").contains { $0.contains(.sub) })
    }

    /// A value a consumer cannot fuse (here a matmul) must exist, so it is stored for
    /// every consumer; so is one that costs more than 2 FLOPs per element (tanh).
    @Test func valuesAreStoredWhenAConsumerNeedsThemOrTheyAreCostly() throws {
        let g = try Self.fuse("""
            model m {
                input a: f32[4, 8]
                input w: f32[8, 8]
                d = a - 1
                t = tanh(a)
                output p = relu(d)
                output q = matmul(d, w)
                output r = t + 1
                output s = t * 2
            }
            """)
        #expect(g.nodes.filter { $0.op == .sub }.count == 1)
        #expect(g.nodes.filter { $0.op == .tanh }.count == 1)
    }

    /// square's derivative reads x alone, so its unary_grad is given x twice and the square need not be kept.
    @Test func squareGradientReadsItsInput() throws {
        var o = PipelineOptions()
        o.training = true
        o.differentiate = true
        o.stage = .grad
        let (graph, diags, _) = Pipeline.compile(SourceFile(path: "bn.dlg", text: Self.source), options: o)
        let g = try #require(graph, "\(diags.all.map(\.message))")
        let grads = g.nodes.filter { $0.op == .unary_grad && $0.attrs.unaryGrad.op == .square }
        #expect(grads.count == 1)
        for n in grads { #expect(n.inputs[0] == n.inputs[1]) }
    }
}
