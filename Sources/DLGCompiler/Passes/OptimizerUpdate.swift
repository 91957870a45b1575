import DLGGraph
import DLGSource
import Foundation

/// An optimizer and its hyper-parameters, as a user configures it.
public struct OptimizerSpec: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam
    }
    /// How momentum accumulates: the exponentially weighted average v ← βv + (1−β)g
    /// (Andrew Ng's course form) or PyTorch's v ← βv + g.
    public enum MomentumForm: String, Sendable, CaseIterable, Codable { case ewma, pytorch }

    public var kind: Kind
    public var lr: Double
    public var momentum: Double = 0.9
    public var momentumForm: MomentumForm = .ewma
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var rho: Double = 0.9
    public var eps: Double = 1e-8
    public var l1: Double = 0
    public var l2: Double = 0
    public var weightDecay: Double = 0
    public var clipValue: Double?
    public var clipNorm: Double?

    public init(kind: Kind, lr: Double) {
        self.kind = kind
        self.lr = lr
        if kind == .nesterov { momentumForm = .pytorch }
        if kind == .adadelta { rho = 0.9; eps = 1e-6 }
        if kind == .rmsprop { rho = 0.9; eps = 1e-8 }
        if kind == .adagrad { eps = 1e-10 }
    }
}

/// Appends the optimizer's update to a differentiated graph, as ordinary IR:
/// for each trainable parameter p with gradient g, the new p (and new
/// optimizer state) become `updates`. The learning rate is a state slot
/// (`optimizer.lr`) so that schedules can change it between steps without
/// recompiling; Adam's step count `optimizer.t` is state the graph itself
/// increments.
public struct OptimizerUpdate: GraphPass {
    public var name: String { "optimizer" }
    public var summary: String { "append the parameter updates of the optimizer (and penalties, clipping) as IR" }
    public var details: String {
        """
        Appends the update of the chosen optimizer for every trainable
        parameter as IR ops (SGD; momentum as the EWMA v ← βv + (1−β)g or PyTorch's
        v ← βv + g; Nesterov; AdaGrad; RMSProp; AdaDelta; Adam with bias correction),
        with L1/L2 penalties, decoupled weight decay and clipping by value or by
        global norm. Optimizer state (velocities, moments) and the learning rate are
        non-trainable state (`optimizer.lr`, `optimizer.<param>.m`, …); the new values
        become state updates.
        """
    }
    public var spec: OptimizerSpec

    public init(_ spec: OptimizerSpec) { self.spec = spec }

    public func run(_ g: inout Graph, _ ctx: inout PassContext) -> Bool {
        guard !g.gradients.isEmpty else { return false }
        do {
            try build(&g)
            // The updates consume the gradients; the step does not return them, so they can be fused away.
            g.gradients = [:]
        } catch {
            ctx.diagnostics.report(PassDiagnostic.optimizer(kind: spec.kind.rawValue, reason: error.message), at: g.lossLoc ?? .point(0))
        }
        return true
    }

    func build(_ g: inout Graph) throws(ShapeError) {
        let loc = g.lossLoc
        let dtype = g[g.gradients.first!.key].type.dtype
        func op(_ o: Op, _ i: [ValueID], _ a: Attributes = Attributes(), _ label: String) throws(ShapeError) -> ValueID {
            try g.add(o, i, a, loc: loc, label: label)
        }
        var consts: [Double: ValueID] = [:]
        func c(_ v: Double) -> ValueID {
            if let id = consts[v] { return id }
            let id = g.addConstant(.scalar(v), dtype: dtype, loc: loc)
            consts[v] = id
            return id
        }
        func stateScalar(_ name: String, _ value: Double) -> ValueID {
            g.addParam(name, TensorType(dtype, Shape([Int]())), initializer: .constant(value), trainable: false,
                       fanIn: 1, fanOut: 1, loc: loc)
        }
        let lr = stateScalar("optimizer.lr", spec.lr)
        var biasCorrections: (ValueID, ValueID)? = nil
        if spec.kind == .adam {
            let t0 = stateScalar("optimizer.t", 0)
            let t1 = try op(.add, [t0, c(1)], Attributes(), "optimizer")
            g.updates.append(StateUpdate(target: t0, value: t1))
            // Adam's bias corrections 1 − βᵗ, computed once per step as −expm1(t·ln β): elu(z; α = −1)
            // is −(eᶻ − 1) for z ≤ 0, and its kernel computes eᶻ − 1 accurately near 0. The plain
            // 1 − pow(β, t) loses digits in single precision: β = 0.999 rounds to 0.99900001, so
            // 1 − βᵗ for small t is off by about 1.3e-5 relatively (and the step by half that),
            // where PyTorch computes the corrections in double precision.
            func oneMinusPower(_ beta: Double) throws(ShapeError) -> ValueID {
                if beta == 0 { return c(1) }
                let z = try op(.mul, [t1, c(Foundation.log(beta))], Attributes(), "optimizer")
                return try op(.elu, [z], .alpha(-1), "optimizer")
            }
            biasCorrections = (try oneMinusPower(spec.beta1), try oneMinusPower(spec.beta2))
        }
        let params = g.gradients.keys.sorted()
        var grads: [ValueID: ValueID] = [:]
        for p in params { grads[p] = g.gradients[p]! }

        // Penalties: L2 adds λ·p, L1 adds λ·sign(p) to the gradient.
        for p in params {
            let name = g[p].name ?? "p"
            var d = grads[p]!
            if spec.l2 > 0 { d = try op(.add, [d, try op(.mul, [p, c(spec.l2)], Attributes(), name)], Attributes(), name) }
            if spec.l1 > 0 {
                let s = try op(.sign, [p], Attributes(), name)
                d = try op(.add, [d, try op(.mul, [s, c(spec.l1)], Attributes(), name)], Attributes(), name)
            }
            if let cv = spec.clipValue {
                d = try op(.minimum, [try op(.maximum, [d, c(-cv)], Attributes(), name), c(cv)], Attributes(), name)
            }
            grads[p] = d
        }
        if spec.l1 > 0 || spec.l2 > 0 { try addPenalty(&g, params: params, dtype: dtype) }
        // Clipping by global norm: g ← g · min(1, c / (‖g‖ + 1e-6)).
        if let cn = spec.clipNorm {
            var total: ValueID? = nil
            for p in params {
                let sq = try op(.reduce_sum, [try op(.square, [grads[p]!], Attributes(), "clip_norm")], .reduce(ReduceAttributes(axes: [])), "clip_norm")
                total = try total.map { (x: ValueID) throws(ShapeError) -> ValueID in try op(.add, [x, sq], Attributes(), "clip_norm") } ?? sq
            }
            let norm = try op(.sqrt, [total!], Attributes(), "clip_norm")
            let scale = try op(.minimum, [c(1), try op(.div, [c(cn), try op(.add, [norm, c(1e-6)], Attributes(), "clip_norm")], Attributes(), "clip_norm")],
                               Attributes(), "clip_norm")
            for p in params { grads[p] = try op(.mul, [grads[p]!, scale], Attributes(), "clip_norm") }
        }

        for p in params {
            let name = g[p].name ?? "p"
            let label = "\(name).update"
            let shape = g[p].type
            func slot(_ suffix: String, _ initial: Initializer = .zeros) -> ValueID {
                g.addParam("optimizer.\(name).\(suffix)", shape, initializer: initial, trainable: false,
                           fanIn: 1, fanOut: 1, loc: loc)
            }
            func o(_ x: Op, _ i: [ValueID], _ a: Attributes = Attributes()) throws(ShapeError) -> ValueID {
                try op(x, i, a, label)
            }
            let d = grads[p]!
            var step: ValueID  // the amount subtracted from p
            switch spec.kind {
            case .sgd:
                step = try o(.mul, [d, lr])
            case .momentum, .nesterov:
                let v = slot("velocity")
                let bv = try o(.mul, [v, c(spec.momentum)])
                let v1 = spec.momentumForm == .ewma
                    ? try o(.add, [bv, try o(.mul, [d, c(1 - spec.momentum)])])
                    : try o(.add, [bv, d])
                g.updates.append(StateUpdate(target: v, value: v1))
                if spec.kind == .nesterov {
                    // Look ahead: p ← p − lr·(g + β·v_new) (PyTorch's Nesterov). In the EWMA form the
                    // gradient enters with the weight it has in v, p ← p − lr·((1 − β)g + β·v_new), so
                    // that both forms take the same steps when the EWMA rate is lr/(1 − β).
                    let g1 = spec.momentumForm == .ewma ? try o(.mul, [d, c(1 - spec.momentum)]) : d
                    step = try o(.mul, [try o(.add, [g1, try o(.mul, [v1, c(spec.momentum)])]), lr])
                } else {
                    step = try o(.mul, [v1, lr])
                }
            case .adagrad:
                let acc = slot("sum_sq")
                let acc1 = try o(.add, [acc, try o(.square, [d])])
                g.updates.append(StateUpdate(target: acc, value: acc1))
                let denom = try o(.add, [try o(.sqrt, [acc1]), c(spec.eps)])
                step = try o(.mul, [try o(.div, [d, denom]), lr])
            case .rmsprop:
                let s = slot("mean_sq")
                let s1 = try o(.add, [try o(.mul, [s, c(spec.rho)]), try o(.mul, [try o(.square, [d]), c(1 - spec.rho)])])
                g.updates.append(StateUpdate(target: s, value: s1))
                let denom = try o(.add, [try o(.sqrt, [s1]), c(spec.eps)])
                step = try o(.mul, [try o(.div, [d, denom]), lr])
            case .adadelta:
                // Zeiler 2012: Δ = √(E[Δ²] + ε)/√(E[g²] + ε)·g, scaled by lr (1 in the paper).
                let eg = slot("mean_sq_grad"), ed = slot("mean_sq_delta")
                let eg1 = try o(.add, [try o(.mul, [eg, c(spec.rho)]), try o(.mul, [try o(.square, [d]), c(1 - spec.rho)])])
                let num = try o(.sqrt, [try o(.add, [ed, c(spec.eps)])])
                let den = try o(.sqrt, [try o(.add, [eg1, c(spec.eps)])])
                let delta = try o(.mul, [try o(.div, [num, den]), d])
                let ed1 = try o(.add, [try o(.mul, [ed, c(spec.rho)]), try o(.mul, [try o(.square, [delta]), c(1 - spec.rho)])])
                g.updates.append(StateUpdate(target: eg, value: eg1))
                g.updates.append(StateUpdate(target: ed, value: ed1))
                step = try o(.mul, [delta, lr])
            case .adam:
                let m = slot("m"), v = slot("v")
                let m1 = try o(.add, [try o(.mul, [m, c(spec.beta1)]), try o(.mul, [d, c(1 - spec.beta1)])])
                let v1 = try o(.add, [try o(.mul, [v, c(spec.beta2)]), try o(.mul, [try o(.square, [d]), c(1 - spec.beta2)])])
                g.updates.append(StateUpdate(target: m, value: m1))
                g.updates.append(StateUpdate(target: v, value: v1))
                // Bias correction: m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ).
                let (bc1, bc2) = biasCorrections!
                let mhat = try o(.div, [m1, bc1]), vhat = try o(.div, [v1, bc2])
                let denom = try o(.add, [try o(.sqrt, [vhat]), c(spec.eps)])
                step = try o(.mul, [try o(.div, [mhat, denom]), lr])
            }
            var newP = try o(.sub, [p, step])
            if spec.weightDecay > 0 {
                // Decoupled weight decay (AdamW): p ← p − lr·wd·p, applied beside the gradient step.
                newP = try o(.sub, [newP, try o(.mul, [try o(.mul, [p, c(spec.weightDecay)]), lr])])
            }
            g.updates.append(StateUpdate(target: p, value: newP))
        }
    }
}

extension OptimizerUpdate {
    /// The name of the training step's output holding the penalty.
    public static let penaltyOutput = "optimizer.penalty"

    /// The penalty whose gradient the update adds, (λ₂/2)·Σp² + λ₁·Σ|p| over the trainable
    /// parameters, as an output of the step, and added to the reported loss (as Keras adds
    /// its regularization losses). The loss was differentiated before this pass: the sum
    /// changes what the step reports, not its gradients.
    func addPenalty(_ g: inout Graph, params: [ValueID], dtype: DType) throws(ShapeError) {
        let loc = g.lossLoc, label = "penalty"
        func sum(_ x: ValueID) throws(ShapeError) -> ValueID {
            try g.add(.reduce_sum, [x], .reduce(ReduceAttributes(axes: [])), loc: loc, label: label)
        }
        func add(_ a: ValueID?, _ b: ValueID) throws(ShapeError) -> ValueID {
            guard let a else { return b }
            return try g.add(.add, [a, b], loc: loc, label: label)
        }
        var squares: ValueID?, magnitudes: ValueID?
        for p in params {
            if spec.l2 > 0 { squares = try add(squares, try sum(try g.add(.square, [p], loc: loc, label: label))) }
            if spec.l1 > 0 { magnitudes = try add(magnitudes, try sum(try g.add(.abs, [p], loc: loc, label: label))) }
        }
        var total: ValueID?
        if let squares {
            total = try g.add(.mul, [squares, g.addConstant(.scalar(spec.l2 / 2), dtype: dtype, loc: loc)], loc: loc, label: label)
        }
        if let magnitudes {
            let scaled = try g.add(.mul, [magnitudes, g.addConstant(.scalar(spec.l1), dtype: dtype, loc: loc)], loc: loc, label: label)
            total = try add(total, scaled)
        }
        guard let total else { return }
        g.outputs.append(GraphOutput(name: Self.penaltyOutput, value: total, loc: loc))
        if let loss = g.loss { g.loss = try g.add(.add, [loss, total], loc: loc, label: label) }
    }
}
