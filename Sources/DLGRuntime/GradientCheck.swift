import DLGCompiler
import DLGGraph
import DLGKernels

/// Compares the gradients the compiler derives with central differences
/// D(ε) = (J(θ+ε) − J(θ−ε))/2ε, in double precision, for every parameter and
/// every floating-point input. The numerical gradient is Richardson's
/// extrapolation (4·D(ε/2) − D(ε))/3, whose error is O(ε⁴) instead of O(ε²).
/// Values under `stop_gradient` are held at their base-point values while θ
/// moves, as the derived gradient treats them, and every piecewise op keeps the
/// branch it takes at θ (`Executor.freezeBranches`), so no step crosses a kink.
public enum GradientCheck {
    public struct Options: Sendable {
        public var seed: UInt64 = 0
        public var eps = 1e-5
        /// Coordinates checked per tensor (all when the tensor is smaller); 0 checks all.
        public var samples = 16
        public var threshold = 1e-7
        public var threads = 1
        /// When not empty, only tensors whose name contains one of these texts are checked.
        public var only: [String] = []
        public init() {}
    }

    public enum Status: Sendable, Equatable {
        case passed, failed
        /// The gradient is defined by convention (straight-through), not by the function's slope.
        case notCheckable(String)
    }

    public struct TensorResult: Sendable {
        public var name: String
        public var kind: String
        public var shape: [Int]
        public var checked: Int
        /// ‖g_num − g‖₂ / (‖g_num‖₂ + ‖g‖₂) over the checked coordinates.
        public var relativeError: Double
        /// ‖g‖₂ of the derived gradient and ‖g_num‖₂ of the finite differences over the checked
        /// coordinates: how far above rounding noise (about 3e-14·|J|/ε per coordinate) the check is.
        public var gradientNorm: Double
        public var numericNorm: Double
        /// The difference is above the threshold but within what rounding lets finite differences
        /// resolve: ‖g_num − g‖ ≤ 3e-14·|J|/ε·√(coordinates), J's rounding carried through the differences.
        public var atNoise: Bool
        public var status: Status
    }

    public struct Report: Sendable {
        public var tensors: [TensorResult]
        public var loss: Double
        public var threshold: Double
        public var passed: Bool { tensors.allSatisfy { $0.status != .failed } }
    }

    /// `forward` is the training-form graph with its loss and every symbol bound.
    public static func run(_ forward: Graph, options: Options) throws(ExecutionError) -> Report {
        try run(forward, options: options, alteringGradients: { _ in })
    }

    /// The check, with `alter` applied to the differentiated graph before it is lowered: the
    /// tests give it wrong gradients, which the check must reject.
    static func run(_ forward: Graph, options: Options,
                    alteringGradients alter: (inout Graph) -> Void) throws(ExecutionError) -> Report {
        var g: Graph
        do { g = try forward.promotingFloats(to: .f64) } catch {
            throw ExecutionError("converting to double precision: \(error.message)")
        }
        g.updates = []
        // Gradient program: forward + backward with respect to parameters and float inputs.
        var dg = g
        var ctx = PassContext(verify: true)
        _ = Autodiff(includeInputs: true).run(&dg, &ctx)
        if let d = ctx.diagnostics.errors.first {
            throw ExecutionError(d.message + (forward.location(d.range).map { " (\($0))" } ?? ""))
        }
        alter(&dg)
        // stop_gradient treats its operand as a constant: the finite differences hold each
        // stop_gradient value at its value at the base point. The loss-only program reads it as an
        // input, fed from an output the gradient program adds for it.
        var lg = g
        var frozen: [String] = []
        for n in g.nodes where n.decl.properties.blocksGradient {
            let name = "stop_gradient %\(n.id)"
            dg.outputs.append(GraphOutput(name: name, value: n.id, loc: n.loc))
            var m = n
            m.op = .input
            m.inputs = []
            m.attrs = .source(SourceAttributes(dtype: n.type.dtype, shape: n.type.shape))
            m.name = name
            lg[n.id] = m
            frozen.append(name)
        }
        _ = DeadCodeElimination().run(&dg, &ctx)
        // Loss-only program for the finite differences.
        _ = DeadCodeElimination().run(&lg, &ctx)
        let gradProgram: Program, lossProgram: Program
        do {
            gradProgram = try Lowering.lower(dg)
            lossProgram = try Lowering.lower(lg)
        } catch {
            throw ExecutionError(error.message)
        }
        let store = StateStore()
        let ge = try Executor(gradProgram, state: store, threads: options.threads)
        let le = try Executor(lossProgram, state: store, threads: options.threads)
        ge.seed = options.seed
        le.seed = options.seed
        ge.initializeState(seed: options.seed)

        // Random inputs: floats from N(0, 1), integer labels in range.
        var rng = RandomStream(seed: options.seed ^ 0x5EED)
        for (i, slot) in gradProgram.inputs.enumerated() {
            let values: [Double]
            if slot.buffer.dtype.isFloat {
                values = (0..<slot.buffer.count).map { _ in rng.normal(Double.self) }
            } else {
                let k = classCount(for: slot.value, in: dg)
                values = (0..<slot.buffer.count).map { _ in Double(rng.below(k)) }
            }
            ge.setValues(slot.buffer, values)
            if let j = lossProgram.inputIndex(named: slot.name) { le.setValues(lossProgram.inputs[j].buffer, values) }
            _ = i
        }
        ge.step = 0
        try ge.run()
        if let bad = ge.firstNonFinite() {
            throw ExecutionError("a non-finite value appears in %\(bad.value) = \(bad.op.rawValue)" + (bad.loc.map { " at \($0)" } ?? "")
                                 + (bad.label.map { " ('\($0)')" } ?? ""))
        }
        for name in frozen {
            guard let i = gradProgram.outputs.firstIndex(where: { $0.name == name }),
                  let j = lossProgram.inputIndex(named: name) else { continue }
            le.setValues(lossProgram.inputs[j].buffer, ge.values(gradProgram.outputs[i].buffer))
        }
        let loss = ge.loss ?? .nan
        func lossAt() throws(ExecutionError) -> Double {
            le.step = 0
            try le.run()
            return le.loss ?? .nan
        }

        let straightThrough = straightThroughValues(g)
        var results: [TensorResult] = []
        // Finite differences cannot resolve less than J's own rounding δ, about 1e-14·|J| in double
        // precision (as measured on ResNet-50): D(ε) is off by up to δ/ε, D(ε/2) by 2δ/ε, and the
        // extrapolation by (4·2 + 1)/3 · δ/ε = 3δ/ε per coordinate.
        let rounding = 3e-14 * max(1, abs(loss)) / options.eps
        _ = try lossAt()
        // Every piecewise op stays on the branch it takes at θ (see `freezeBranches`): θ ± ε may
        // cross a relu's 0 or change a pooling window's winner without the difference feeling it.
        try le.freezeBranches()
        defer { le.thawBranches() }
        func check(name: String, kind: String, buffer: Buffer, grad: Buffer, executor target: Executor, value: ValueID) throws(ExecutionError) {
            let n = buffer.count
            if !options.only.isEmpty, !options.only.contains(where: { name.contains($0) }) { return }
            if straightThrough.contains(value) {
                results.append(TensorResult(name: name, kind: kind, shape: buffer.shape, checked: 0, relativeError: .nan,
                                            gradientNorm: .nan, numericNorm: .nan, atNoise: false,
                                            status: .notCheckable("its gradient passes through hardlim/hardlims, whose straight-through gradient is a convention, not the slope")))
                return
            }
            var indices = Array(0..<n)
            if options.samples > 0, n > options.samples {
                var r = RandomStream(seed: options.seed ^ ParameterInit.nameHash(name))
                indices = Array(r.permutation(n).prefix(options.samples)).sorted()
            }
            /// (J(θ+h) − J(θ−h))/2h.
            func central(_ i: Int, _ original: Double, _ h: Double) throws(ExecutionError) -> Double {
                target.setElement(buffer, i, original + h)
                let plus = try lossAt()
                target.setElement(buffer, i, original - h)
                let minus = try lossAt()
                target.setElement(buffer, i, original)
                return (plus - minus) / (2 * h)
            }
            var diff2 = 0.0, num2 = 0.0, ana2 = 0.0
            for i in indices {
                let original = target.element(buffer, i)
                let numeric = try central(i, original, options.eps)
                let half = try central(i, original, options.eps / 2)
                let analytic = ge.element(grad, i)
                // Richardson's extrapolation: D(ε) = g + c·ε² + O(ε⁴), so (4·D(ε/2) − D(ε))/3 = g + O(ε⁴).
                let extrapolated = (4 * half - numeric) / 3
                diff2 += (extrapolated - analytic) * (extrapolated - analytic)
                num2 += extrapolated * extrapolated
                ana2 += analytic * analytic
            }
            let used = indices.count
            let denom = num2.squareRoot() + ana2.squareRoot()
            let rel = denom == 0 ? 0 : diff2.squareRoot() / denom
            let noise = rounding * Double(max(used, 1)).squareRoot()
            let atNoise = rel > options.threshold && diff2.squareRoot() <= noise
            let ok = rel.isFinite && (rel <= options.threshold || atNoise) && (used > 0 || n == 0)
            results.append(TensorResult(name: name, kind: kind, shape: buffer.shape, checked: used,
                                        relativeError: rel, gradientNorm: ana2.squareRoot(), numericNorm: num2.squareRoot(),
                                        atNoise: atNoise, status: ok ? .passed : .failed))
        }
        for (slotIndex, grad) in gradProgram.gradients {
            let slot = gradProgram.state[slotIndex]
            try check(name: slot.name, kind: "param", buffer: slot.buffer, grad: grad, executor: ge, value: slot.value)
        }
        for (inputIndex, grad) in gradProgram.inputGradients {
            let slot = gradProgram.inputs[inputIndex]
            guard let j = lossProgram.inputIndex(named: slot.name) else { continue }
            try check(name: slot.name, kind: "input", buffer: lossProgram.inputs[j].buffer, grad: grad, executor: le,
                      value: slot.value)
        }
        return Report(tensors: results, loss: loss, threshold: options.threshold)
    }

    /// Labels index the classes of the op that consumes them, which lie along the last axis of
    /// its result when that has one axis more (one_hot) or else of its float operand (the
    /// logits of a sparse cross-entropy).
    static func classCount(for input: ValueID, in g: Graph) -> Int {
        let rank = g[input].type.rank ?? 1
        for n in g.nodes where n.inputs.contains(input) {
            if n.type.dtype.isFloat, let d = n.type.shape.knownDims, d.count == rank + 1, let k = d.last { return max(1, k) }
            if let z = n.inputs.first(where: { g[$0].type.dtype.isFloat }), let k = g[z].type.shape.knownDims?.last {
                return max(1, k)
            }
        }
        return 2
    }

    /// Sources whose gradient flows through hardlim/hardlims on its way to the loss.
    static func straightThroughValues(_ g: Graph) -> Set<ValueID> {
        guard let loss = g.loss else { return [] }
        var toLoss = Array(repeating: false, count: g.nodes.count)
        toLoss[loss] = true
        for i in stride(from: loss, through: 0, by: -1) where toLoss[i] { for x in g[i].inputs { toLoss[x] = true } }
        var out: Set<ValueID> = []
        for s in g.nodes where s.op == .param || s.op == .input {
            var reach = Array(repeating: false, count: g.nodes.count)
            reach[s.id] = true
            for n in g.nodes where !reach[n.id] && n.inputs.contains(where: { reach[$0] }) {
                reach[n.id] = true
                if n.decl.properties.straightThrough && toLoss[n.id] {
                    out.insert(s.id)
                    break
                }
            }
        }
        return out
    }
}
