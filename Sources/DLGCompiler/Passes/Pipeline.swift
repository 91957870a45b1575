import DLGGraph
import DLGSource

/// The stages `dlg dump --stage` can show, in pipeline order. `kernels` is the
/// planned graph lowered to a kernel program (the runtime's `Lowering`).
public enum Stage: String, CaseIterable, Sendable {
    case parsed, elaborated, shapes, grad, optimizer, canonical, fused, scheduled, planned, kernels
}

/// What to build.
public struct PipelineOptions: Sendable {
    /// Run the passes up to and including this stage.
    public var stage: Stage = .planned
    public var bindings: [String: Int] = [:]
    /// Elaborate the training form (dropout, batch statistics).
    public var training = true
    /// Append the backward graph (needs a `minimize`).
    public var differentiate = false
    /// Also differentiate with respect to float inputs (gradient checks).
    public var inputGradients = false
    /// Append this optimizer's updates (needs `differentiate`).
    public var optimizer: OptimizerSpec?
    /// Keep the loss (an inference run without labels drops it).
    public var keepLoss = true
    /// Parameters to keep fixed (`Freezing` patterns): marked not trainable before autodiff.
    public var freeze: [String] = []
    /// Data-parallel training over this many replicas (Docs/distributed.md): with more than one,
    /// the loss is scaled to the replica's share and the gradients are summed over replicas.
    public var replicas = 1
    /// With several replicas, batchnorm's statistics summed over all of them.
    public var syncBatchnorm = false
    /// The size of a bucket of gradients summed in one call; nil: `GradientAllreduce.defaultBucketBytes`.
    public var bucketBytes: Int?
    /// Elaborate the step form (one token per call, states carried; StepMode.swift).
    public var step: StepMode?
    /// The float type of a model that declares none (`ElaborationOptions.defaultFloatType`).
    public var defaultFloatType: DType = .f32
    /// Recurrent layers unrolled, an LSTM's too (`ElaborationOptions.unrollRecurrence`; ONNX export).
    public var unrollRecurrence = false
    public var verify = false
    public var disabled: Set<String> = []
    public init() {}
}

/// The pipeline: one ordered list of passes. Each stage after `elaborated`
/// is the graph after the passes up to and including it.
public enum Pipeline {
    /// The passes in order, with the stage each belongs to.
    public static func passes(_ o: PipelineOptions) -> [(stage: Stage, pass: any GraphPass)] {
        var list: [(Stage, any GraphPass)] = [(.shapes, ShapeInference()), (.shapes, GatherProjectionFolding())]
        let replicated = o.differentiate && o.replicas > 1
        if replicated { list.append((.grad, ReplicaLossScaling())) }
        if o.differentiate { list.append((.grad, Autodiff(includeInputs: o.inputGradients))) }
        if replicated { list.append((.grad, GradientAllreduce(bucketBytes: o.bucketBytes))) }
        if o.differentiate, let opt = o.optimizer { list.append((.optimizer, OptimizerUpdate(opt))) }
        list += [(.canonical, ConstantFolding()), (.canonical, AlgebraicSimplification()),
                 (.canonical, BatchNormFolding()), (.canonical, CommonSubexpressionElimination()),
                 (.canonical, MatmulSumJoining()),
                 (.canonical, DeadCodeElimination()), (.fused, Fusion()),
                 (.scheduled, Scheduling()), (.planned, MemoryPlanning())]
        return list
    }

    /// Names of every pass, for --disable-pass validation.
    public static var passNames: [String] {
        var o = PipelineOptions()
        o.differentiate = true
        o.optimizer = OptimizerSpec(kind: .sgd, lr: 0.1)
        o.replicas = 2
        return passes(o).map(\.pass.name)
    }

    /// Runs the passes up to `stage`, verifying after each when asked.
    @discardableResult
    public static func run(_ graph: inout Graph, upTo stage: Stage, context: inout PassContext,
                           options: PipelineOptions = PipelineOptions(),
                           after: ((String, Graph) -> Void)? = nil) -> [PassReport] {
        var reports: [PassReport] = []
        guard let target = Stage.allCases.firstIndex(of: stage) else { return reports }
        // Frozen parameters are not trainable from the start: autodiff leaves them out.
        Freezing.apply(options.freeze, to: &graph)
        var o = options
        if stage == .grad || stage == .optimizer { o.differentiate = true }
        if stage == .optimizer, o.optimizer == nil { o.optimizer = OptimizerSpec(kind: .sgd, lr: 0.01) }
        for (s, pass) in passes(o) {
            guard let si = Stage.allCases.firstIndex(of: s), si <= target else { break }
            if o.disabled.contains(pass.name) { continue }
            let start = ContinuousClock.now
            let changed = pass.run(&graph, &context)
            let elapsed = ContinuousClock.now - start
            reports.append(PassReport(name: pass.name, changed: changed, duration: elapsed, nodes: graph.nodes.count))
            if context.diagnostics.hasErrors { break }
            after?(pass.name, graph)
            if context.verify {
                let failures = Verifier.verify(graph)
                if !failures.isEmpty {
                    context.diagnostics.report(PassDiagnostic.verifier(pass: pass.name, failures: failures.map(\.message)), at: .point(0))
                    break
                }
            }
        }
        return reports
    }

    /// Parses, elaborates and runs the passes: the whole front half of the compiler.
    public static func compile(_ file: SourceFile, model: String? = nil, options: PipelineOptions)
        -> (graph: Graph?, diagnostics: Diagnostics, reports: [PassReport]) {
        let r = Frontend.compile(file, model: model,
                                 options: ElaborationOptions(training: options.training, bindings: options.bindings,
                                                             replicas: options.replicas, syncBatchnorm: options.syncBatchnorm,
                                                             step: options.step, defaultFloatType: options.defaultFloatType,
                                                             unrollRecurrence: options.unrollRecurrence))
        guard var g = r.graph, !r.hasErrors else { return (nil, r.diagnostics, []) }
        g.bindings = options.bindings
        if !options.keepLoss { g.loss = nil }
        var ctx = PassContext(verify: options.verify)
        let reports = run(&g, upTo: options.stage, context: &ctx, options: options)
        var diags = r.diagnostics
        diags.append(contentsOf: ctx.diagnostics.all)
        return (diags.hasErrors ? nil : g, diags, reports)
    }
}

public struct PassReport: Sendable {
    public var name: String
    public var changed: Bool
    public var duration: Duration
    /// Values in the graph after the pass.
    public var nodes: Int
}
