import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import Testing

/// Every gradient-check case, by family (the families live in GradientCases+*.swift).
enum GradientCases {
    static let all: [GradientCase] =
        elementwise + binaryOps + reductionsAndLayout + paddings + matmuls + convolutionsAndPooling
        + softmaxAndLosses + layers + sequence + attention + graphBuilt

    /// Ops the language never emits in a forward graph, built through the Graph API.
    static let graphBuilt: [GradientCase] = [
        // x·[x > y] + y·[y ≥ x] + x·[x = x]: the comparisons are piecewise constant
        // (slope 0, no gradient rule of their own) and pick which products count.
        GradientCase(name: "comparisons greater, greater_equal, equal (Graph API)") { d in
            let (n, k) = (d.int(1...3), d.int(2...4))
            var g = Graph(name: "m", source: nil, training: true)
            let x = g.addInput("x", TensorType(.f32, [n, k]), loc: nil)
            let y = g.addInput("y", TensorType(.f32, [k]), loc: nil)
            let gt = try g.add(.greater, [x, y])
            let ge = try g.add(.greater_equal, [y, x])
            let eq = try g.add(.equal, [x, x])
            let sum1 = try g.add(.add, [try g.add(.mul, [x, gt]), try g.add(.mul, [y, ge])])
            let h = try g.add(.add, [sum1, try g.add(.mul, [x, eq])])
            let sq = try g.add(.square, [try g.add(.sub, [h, g.addConstant(.scalar(0.3), dtype: .f32, loc: nil)])])
            g.loss = try g.add(.reduce_mean, [sq], .reduce(ReduceAttributes(axes: [])))
            return g
        },
        // Σ x² / (number of rows), the row count computed at run time by axis_size.
        GradientCase(name: "axis_size as a divisor (Graph API)") { d in
            let k = d.int(2...4)
            var g = Graph(name: "m", source: nil, training: true)
            g.bindings = ["B": d.bind("B", 1...4)]
            let x = g.addInput("x", TensorType(.f32, Shape([.symbol("B"), .known(k)])), loc: nil)
            let rows = try g.add(.axis_size, [x], .axes([0]))
            let total = try g.add(.reduce_sum, [try g.add(.square, [x])], .reduce(ReduceAttributes(axes: [])))
            g.loss = try g.add(.div, [total, rows])
            return g
        },
    ]
}

@Suite struct GradientOpTests {
    /// Central differences in f64 against the compiled backward graph, for
    /// each case on several seeds, each seed drawing new sizes.
    @Test(arguments: GradientCases.all)
    func gradientsAgreeWithFiniteDifferences(_ c: GradientCase) throws {
        try expectGradientsAgree(c)
    }

    /// Ops whose gradient is checked by a dedicated test instead of a finite-difference case.
    static let dedicated: [Op: String] = [
        .hardlim: "StraightThroughTests (the gradient is a convention, not the slope)",
        .hardlims: "StraightThroughTests (the gradient is a convention, not the slope)",
        .allreduce: "DataParallelTests in DLGTrainTests (a sum over replicas: synchronized batchnorm on 2 and 3 replicas against one process)",
    ]

    /// Every op with a gradient rule appears, on a differentiated path, in
    /// some case (or has a dedicated test): an op added without a gradient
    /// test makes this fail.
    @Test func everyDifferentiableOpIsCovered() throws {
        var covered: Set<Op> = []
        for c in GradientCases.all {
            for seed in c.seeds {
                var d = ShapeDraw(seed: seed)
                covered.formUnion(differentiatedOps(try c.build(&d)))
            }
        }
        let differentiable = Op.allCases.filter { $0.decl.vjp != nil }
        #expect(differentiable.count > 50)
        for op in differentiable where !covered.contains(op) && GradientOpTests.dedicated[op] == nil {
            Issue.record("op \(op.rawValue) has a gradient rule but no gradient-check case")
        }
        // Dedicated entries must stay honest too.
        for op in GradientOpTests.dedicated.keys {
            #expect(op.decl.vjp != nil, "\(op.rawValue) is listed as differentiable")
        }
    }

    /// loss = Σ x·stop_gradient(x)·w: the gradient for x counts only the
    /// direct factor, ∂/∂x = x·w (x held constant inside stop_gradient), not
    /// the 2·x·w that finite differences of the loss would give; and w gets
    /// x·x. Checked against those formulas written out here.
    @Test func stopGradientBlocksItsPath() throws {
        var o = PipelineOptions()
        o.stage = .canonical
        o.differentiate = true
        o.inputGradients = true
        o.bindings = ["B": 3]
        let file = SourceFile(path: "test.dlg", text: """
            model m {
                input x: f32[B, 2]
                param w: f32[2] = [0.5, -1.5]
                minimize sum(x * stop_gradient(x) * w)
            }
            """)
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        let g = try #require(graph, "\(diags.all.map(\.message))")
        let p = try Lowering.lower(g)
        let e = try Executor(p, threads: 1)
        e.initializeState(seed: 1)
        let x: [Float] = [1, -2, 0.5, 3, -1, 0.25]
        try e.setInput(0, try NDArray(x, shape: [3, 2]))
        try e.run()
        let w = [0.5, -1.5]
        let gx = e.values(try #require(p.inputGradients.first).buffer)
        let gw = e.values(try #require(p.gradients.first).buffer)
        expectClose(gx, x.enumerated().map { Double($0.element) * w[$0.offset % 2] }, tolerance: 1e-6)
        // ∂/∂w_j = Σ_rows x_rj²
        expectClose(gw, [1 + 0.25 + 1, 4 + 9 + 0.0625], tolerance: 1e-6)
    }

    /// Regression: matmul(a, b, transpose_a: true) with `a` batched and `b`
    /// a shared matrix failed to differentiate ("batch dimensions differ"),
    /// because its rule put the unbatched b on the left of the batched dy.
    /// Now dA = (dy·op(b)ᵀ)ᵀ per batch, checked here against finite differences.
    @Test func matmulTransposedBatchedByShared() throws {
        for tb in [false, true] {
            let source = """
                model m {
                    input a: f32[2, 3, 2]
                    input b: f32\(tb ? "[4, 3]" : "[3, 4]")
                    minimize mean(square(matmul(a, b, transpose_a: true, transpose_b: \(tb))))
                }
                """
            let report = try GradientCheck.run(try compileForGradients(source, bind: [:]), options: GradientCheck.Options())
            #expect(report.passed, "\(describe(report))")
            for t in report.tensors { #expect(t.relativeError <= 1e-7 && t.gradientNorm > 1e-3, "\(t.name)") }
        }
    }

    /// A batched A (not transposed) times a shared B: B's gradient is one product whose
    /// contraction runs over the batch and the rows together (A as [6, 5], dy as [6, 4]),
    /// not a batched product summed over the batch; for both layouts of B, against
    /// finite differences.
    @Test func sharedWeightGradientIsOneProduct() throws {
        for tb in [false, true] {
            let source = """
                model m {
                    input a: f32[2, 3, 5]
                    param b: f32\(tb ? "[4, 5]" : "[5, 4]") = uniform(-1, 1)
                    minimize mean(square(matmul(a, b, transpose_b: \(tb))))
                }
                """
            let report = try GradientCheck.run(try compileForGradients(source, bind: [:]), options: GradientCheck.Options())
            #expect(report.passed, "\(describe(report))")
            for t in report.tensors { #expect(t.relativeError <= 1e-7 && t.gradientNorm > 1e-3, "\(t.name)") }
            var o = PipelineOptions()
            o.stage = .grad
            o.differentiate = true
            let (g, diags, _) = Pipeline.compile(SourceFile(path: "m.dlg", text: source), options: o)
            let graph = try #require(g, "\(diags.all.map(\.message))")
            let products = graph.nodes.filter { $0.op == .matmul }
            #expect(!graph.nodes.contains { $0.op == .reduce_sum && graph[$0.inputs[0]].op == .matmul })
            #expect(products.contains { p in
                p.type.shape.knownDims == (tb ? [4, 5] : [5, 4]) && p.inputs.allSatisfy { graph[$0].type.shape.knownDims?.first == 6 }
            }, "\(products.map { $0.type })")
        }
    }
}
