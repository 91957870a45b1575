import DLGCompiler
import DLGData
import DLGGraph
import DLGRuntime
import DLGSource
import Testing

/// Compiles a model snippet, runs the passes up to `stage`, and lowers it.
func lowered(_ source: String, bind: [String: Int] = [:], training: Bool = false, stage: Stage = .shapes,
             sourceLocation: SourceLocation = #_sourceLocation) throws -> Program {
    let file = SourceFile(path: "test.dlg", text: source)
    let r = Frontend.compile(file, options: ElaborationOptions(training: training, bindings: bind))
    guard var g = r.graph, !r.hasErrors else {
        Issue.record("compile failed:\n\(DiagnosticsFormatter().format(r.diagnostics.sorted, in: file))", sourceLocation: sourceLocation)
        throw ExecutionError("compile failed")
    }
    g.bindings = bind
    var ctx = PassContext(verify: true)
    _ = Pipeline.run(&g, upTo: stage, context: &ctx)
    if ctx.diagnostics.hasErrors {
        Issue.record("passes failed:\n\(DiagnosticsFormatter().format(ctx.diagnostics.sorted, in: file))", sourceLocation: sourceLocation)
        throw ExecutionError("passes failed")
    }
    return try Lowering.lower(g)
}

/// Runs a program once on named inputs; returns the outputs by name.
func run(_ p: Program, _ inputs: [String: NDArray], seed: UInt64 = 1, threads: Int = 1) throws -> [String: NDArray] {
    let e = try Executor(p, threads: threads)
    e.initializeState(seed: seed)
    for (name, a) in inputs {
        guard let i = p.inputIndex(named: name) else { throw ExecutionError("no input \(name)") }
        try e.setInput(i, a)
    }
    try e.run()
    var out: [String: NDArray] = [:]
    for (i, o) in p.outputs.enumerated() { out[o.name] = e.output(i) }
    return out
}

func expectClose(_ a: [Double], _ b: [Double], tolerance: Double, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, sourceLocation: sourceLocation)
    let scale = max(1, b.map(abs).max() ?? 1)
    for (i, (x, y)) in zip(a, b).enumerated() where abs(x - y) > tolerance * scale {
        Issue.record("element \(i): \(x) vs expected \(y)", sourceLocation: sourceLocation)
        return
    }
}
