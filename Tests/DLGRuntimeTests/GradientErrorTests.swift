import DLGCompiler
import DLGGraph
import DLGRuntime
import DLGSource
import Testing

/// Asking for gradients that cannot exist is an error at a source location,
/// never a trap: a non-scalar minimized value, a model whose minimized value
/// no trainable parameter reaches, and a non-finite value met while checking.
@Suite struct GradientErrorTests {
    /// Compiles with the backward pass; returns the errors with their line:column.
    func gradientErrors(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [(id: String, message: String, at: String)] {
        let file = SourceFile(path: "bad.dlg", text: text)
        var o = PipelineOptions()
        o.stage = .canonical
        o.differentiate = true
        o.optimizer = OptimizerSpec(kind: .sgd, lr: 0.1)
        o.bindings = ["B": 2]
        let (graph, diags, _) = Pipeline.compile(file, options: o)
        #expect(graph == nil, "compiled although it should not", sourceLocation: sourceLocation)
        return diags.errors.map { d in
            let (line, column) = file.lineColumn(of: d.range.start)
            return (d.id, d.message, "\(line):\(column)")
        }
    }

    @Test func minimizingANonScalarIsAnErrorAtTheExpression() {
        let errors = gradientErrors("""
            model m {
                input x: f32[B, 3]
                param w: f32[3] = ones
                minimize x * w
            }
            """)
        #expect(errors.count == 1)
        #expect(errors.first?.message == "minimize needs a scalar, but this is f32[2,3]")
        // Line 4, column 14: the expression after `minimize `.
        #expect(errors.first?.at == "4:14")
    }

    /// The backward pass checks the minimized value itself too, for graphs
    /// built without the elaborator: a graph whose loss is [2, 3].
    @Test func autodiffRejectsANonScalarLossAtItsLocation() throws {
        let file = SourceFile(path: "built.dlg", text: "model m {\n    loss here\n}\n")
        var g = Graph(name: "m", source: file, training: true)
        let x = g.addInput("x", TensorType(.f32, [2, 3]), loc: nil)
        let w = g.addParam("w", TensorType(.f32, [3]), initializer: .ones, trainable: true, fanIn: 3, fanOut: 3, loc: nil)
        g.loss = try g.add(.mul, [x, w])
        g.lossLoc = SourceRange(14, 23)  // "loss here" on line 2
        var ctx = PassContext(verify: true)
        _ = Autodiff().run(&g, &ctx)
        let d = try #require(ctx.diagnostics.errors.first)
        #expect(d.id == "gradient-of-non-scalar")
        #expect(d.message == "gradients need a floating-point scalar to minimize, but this is f32[2,3]")
        #expect(file.lineColumn(of: d.range.start) == (2, 5))
    }

    @Test func noParameterReachingTheLossIsAnErrorAtMinimize() {
        // w feeds an output but not the minimized value, which depends on inputs only.
        let errors = gradientErrors("""
            model m {
                input x: f32[B, 3]
                input y: f32[B, 3]
                param w: f32[3] = ones
                output o = x * w
                minimize mse(x, y)
            }
            """)
        #expect(errors.map(\.id) == ["no-trainable-parameters"])
        #expect(errors.first?.message == "no trainable parameter influences the minimized value, so there is nothing to train")
        #expect(errors.first?.at == "6:14")
    }

    @Test func parametersBehindStopGradientDoNotCount() {
        let errors = gradientErrors("""
            model m {
                input x: f32[B, 3]
                input y: f32[B, 3]
                param w: f32[3] = ones
                minimize mse(stop_gradient(x * w), y)
            }
            """)
        #expect(errors.map(\.id) == ["no-trainable-parameters"])
        #expect(errors.first?.at == "5:14")
    }

    /// log(x·w − 10) of N(0, 1) inputs is NaN: the check stops and names the
    /// op and the line and column of the call that made it.
    @Test func nonFiniteValueDuringGradcheckNamesOpAndLine() throws {
        let graph = try compileForGradients("""
            model m {
                input x: f32[B, 3]
                param w: f32[3] = ones
                h = x * w
                minimize mean(log(h - 10))
            }
            """, bind: ["B": 2])
        do {
            _ = try GradientCheck.run(graph, options: GradientCheck.Options())
            Issue.record("the check ran through a NaN")
        } catch {
            #expect(error.message.contains("non-finite"), "\(error.message)")
            #expect(error.message.contains("= log at test.dlg:5:19"), "\(error.message)")
        }
    }

    /// An overflow to infinity: e^(h² + 1000) exceeds the largest double.
    @Test func infiniteValueDuringGradcheckNamesOpAndLine() throws {
        let graph = try compileForGradients("""
            model m {
                input x: f32[B, 2]
                h = dense(x, 2)
                minimize mean(exp(h * h + 1000))
            }
            """, bind: ["B": 2])
        do {
            _ = try GradientCheck.run(graph, options: GradientCheck.Options())
            Issue.record("the check ran through an infinity")
        } catch {
            #expect(error.message.contains("non-finite"), "\(error.message)")
            #expect(error.message.contains("= exp at test.dlg:4:19"), "\(error.message)")
        }
    }
}
