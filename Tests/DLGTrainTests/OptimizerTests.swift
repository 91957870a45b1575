import DLGCompiler
import DLGData
import DLGRuntime
import DLGTrain
import Foundation
import Testing

// Every optimizer runs three steps of the compiled training program (forward,
// backward, update: one Executor from a Session) on a quadratic whose gradient
// is known in closed form, and its parameters and optimizer state after each
// step are compared with the update formulas evaluated plainly below, in
// Double. The models are f64, so the tolerance is a few ulps of rounding.

/// Two parameters with gradients known in closed form, for a batch of one:
///
///     L = ½·Σᵢ aᵢ(wᵢ − tᵢ)² + Σⱼₖ uⱼₖ²     ⇒   ∂L/∂w = a ⊙ (w − t),   ∂L/∂u = 2u
///
/// The curvatures `a` differ per coordinate so that adaptive methods scale
/// each coordinate differently; u has an entry at 0, where sign(u) = 0.
private let quadratic = """
    model quadratic {
        input t: f64[B, 3]
        input a: f64[B, 3]
        param w: f64[3] = [1.0, -2.0, 0.5]
        param u: f64[2, 2] = [[0.3, -0.7], [1.5, 0.0]]
        minimize 0.5 * sum(a * square(w - t)) + sum(square(u))
    }
    """

private let target: [Double] = [0.5, 1.0, -1.0]
private let curvature: [Double] = [1.0, 4.0, 0.25]
private let w0: [Double] = [1.0, -2.0, 0.5]
private let u0: [Double] = [0.3, -0.7, 1.5, 0.0]

/// The optimizer's update written out plainly, one formula per line.
private struct ReferenceOptimizer {
    var spec: OptimizerSpec
    var p: [String: [Double]] = ["w": w0, "u": u0]
    /// Optimizer state by its checkpoint name, "optimizer.w.velocity", …
    var state: [String: [Double]] = [:]
    var t = 0.0

    init(_ spec: OptimizerSpec) { self.spec = spec }

    func gradient(_ name: String) -> [Double] {
        let x = p[name]!
        if name == "w" { return (0..<3).map { curvature[$0] * (x[$0] - target[$0]) } }  // a ⊙ (w − t)
        return x.map { 2 * $0 }                                                           // 2u
    }

    func slot(_ name: String, _ suffix: String) -> [Double] {
        state["optimizer.\(name).\(suffix)"] ?? Array(repeating: 0, count: p[name]!.count)
    }

    mutating func step() {
        let lr = spec.lr
        var grads: [String: [Double]] = [:]
        for name in ["u", "w"] {
            var g = gradient(name)
            let x = p[name]!
            for i in g.indices {
                g[i] += spec.l2 * x[i]                                        // L2: g + λ·p
                g[i] += spec.l1 * (x[i] > 0 ? 1 : x[i] < 0 ? -1 : 0)          // L1: g + λ·sign(p)
                if let c = spec.clipValue { g[i] = min(max(g[i], -c), c) }    // clip to [−c, c]
            }
            grads[name] = g
        }
        if let c = spec.clipNorm {
            // One norm over every gradient: g ← g · min(1, c / (‖g‖ + 1e-6)).
            var sumSquares = 0.0
            for g in grads.values { for x in g { sumSquares += x * x } }
            let scale = min(1, c / (sumSquares.squareRoot() + 1e-6))
            for k in grads.keys { grads[k] = grads[k]!.map { $0 * scale } }
        }
        t += 1
        for name in ["u", "w"] {
            let g = grads[name]!
            let x = p[name]!
            var new = x
            switch spec.kind {
            case .sgd:
                for i in x.indices { new[i] = x[i] - lr * g[i] }                      // p ← p − α·g
            case .momentum, .nesterov:
                let b = spec.momentum
                var v = slot(name, "velocity")
                for i in x.indices {
                    v[i] = spec.momentumForm == .ewma ? b * v[i] + (1 - b) * g[i]      // v ← βv + (1−β)g
                                                      : b * v[i] + g[i]                // v ← βv + g
                    if spec.kind == .momentum {
                        new[i] = x[i] - lr * v[i]                                      // p ← p − α·v
                    } else if spec.momentumForm == .pytorch {
                        new[i] = x[i] - lr * (g[i] + b * v[i])                         // p ← p − α(g + βv)
                    } else {
                        new[i] = x[i] - lr * ((1 - b) * g[i] + b * v[i])               // p ← p − α((1−β)g + βv)
                    }
                }
                state["optimizer.\(name).velocity"] = v
            case .adagrad:
                var s = slot(name, "sum_sq")
                for i in x.indices {
                    s[i] += g[i] * g[i]                                                // s ← s + g²
                    new[i] = x[i] - lr * g[i] / (s[i].squareRoot() + spec.eps)         // p ← p − α·g/(√s + ε)
                }
                state["optimizer.\(name).sum_sq"] = s
            case .rmsprop:
                var s = slot(name, "mean_sq")
                for i in x.indices {
                    s[i] = spec.rho * s[i] + (1 - spec.rho) * g[i] * g[i]              // s ← ρs + (1−ρ)g²
                    new[i] = x[i] - lr * g[i] / (s[i].squareRoot() + spec.eps)         // p ← p − α·g/(√s + ε)
                }
                state["optimizer.\(name).mean_sq"] = s
            case .adadelta:
                var eg = slot(name, "mean_sq_grad"), ed = slot(name, "mean_sq_delta")
                let r = spec.rho, e = spec.eps
                for i in x.indices {
                    eg[i] = r * eg[i] + (1 - r) * g[i] * g[i]                          // E[g²] ← ρE[g²] + (1−ρ)g²
                    let delta = (ed[i] + e).squareRoot() / (eg[i] + e).squareRoot() * g[i]  // Δ = √(E[Δ²]+ε)/√(E[g²]+ε)·g
                    ed[i] = r * ed[i] + (1 - r) * delta * delta                        // E[Δ²] ← ρE[Δ²] + (1−ρ)Δ²
                    new[i] = x[i] - lr * delta                                         // p ← p − α·Δ
                }
                state["optimizer.\(name).mean_sq_grad"] = eg
                state["optimizer.\(name).mean_sq_delta"] = ed
            case .adam:
                var m = slot(name, "m"), v = slot(name, "v")
                let b1 = spec.beta1, b2 = spec.beta2
                for i in x.indices {
                    m[i] = b1 * m[i] + (1 - b1) * g[i]                                 // m ← β₁m + (1−β₁)g
                    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]                          // v ← β₂v + (1−β₂)g²
                    let mHat = m[i] / (1 - Foundation.pow(b1, t))                      // m̂ = m/(1 − β₁ᵗ)
                    let vHat = v[i] / (1 - Foundation.pow(b2, t))                      // v̂ = v/(1 − β₂ᵗ)
                    new[i] = x[i] - lr * mHat / (vHat.squareRoot() + spec.eps)         // p ← p − α·m̂/(√v̂ + ε)
                }
                state["optimizer.\(name).m"] = m
                state["optimizer.\(name).v"] = v
            }
            // Decoupled weight decay: p ← p − α·wd·p (with p before this step).
            for i in x.indices { new[i] -= lr * spec.weightDecay * x[i] }
            p[name] = new
        }
        if spec.kind == .adam { state["optimizer.t"] = [t] }
    }
}

/// A named optimizer configuration, for parameterized tests.
struct OptimizerCase: CustomTestStringConvertible, Sendable {
    var name: String
    var spec: OptimizerSpec
    var testDescription: String { name }

    static func make(_ name: String, _ kind: OptimizerSpec.Kind, lr: Double,
                     _ adjust: (inout OptimizerSpec) -> Void = { _ in }) -> OptimizerCase {
        var s = OptimizerSpec(kind: kind, lr: lr)
        adjust(&s)
        return OptimizerCase(name: name, spec: s)
    }

    static let all: [OptimizerCase] = [
        make("sgd", .sgd, lr: 0.1),
        make("momentum ewma", .momentum, lr: 0.1) { $0.momentum = 0.9; $0.momentumForm = .ewma },
        make("momentum pytorch", .momentum, lr: 0.05) { $0.momentum = 0.8; $0.momentumForm = .pytorch },
        make("nesterov pytorch", .nesterov, lr: 0.05) { $0.momentum = 0.9 },
        make("nesterov ewma", .nesterov, lr: 0.1) { $0.momentum = 0.9; $0.momentumForm = .ewma },
        make("adagrad", .adagrad, lr: 0.3),
        make("rmsprop", .rmsprop, lr: 0.01) { $0.rho = 0.8 },
        make("adadelta", .adadelta, lr: 1.0),
        make("adadelta lr 0.5 rho 0.95", .adadelta, lr: 0.5) { $0.rho = 0.95; $0.eps = 1e-4 },
        make("adam", .adam, lr: 0.1),
        make("adam betas", .adam, lr: 0.01) { $0.beta1 = 0.5; $0.beta2 = 0.9; $0.eps = 1e-3 },
        make("sgd + l2", .sgd, lr: 0.1) { $0.l2 = 0.3 },
        make("sgd + l1", .sgd, lr: 0.1) { $0.l1 = 0.2 },
        make("sgd + weight decay", .sgd, lr: 0.1) { $0.weightDecay = 0.5 },
        make("adam + weight decay (AdamW)", .adam, lr: 0.1) { $0.weightDecay = 0.1 },
        make("sgd + clip value", .sgd, lr: 0.1) { $0.clipValue = 1.0 },
        // ‖g‖ at the start is about 13.6, so the norm is clipped to 2 in every step.
        make("sgd + clip norm", .sgd, lr: 0.1) { $0.clipNorm = 2 },
        // A bound above every gradient norm of the run: no scaling.
        make("sgd + clip norm above the norm", .sgd, lr: 0.01) { $0.clipNorm = 100 },
        make("momentum + l2 + l1 + clip value + clip norm", .momentum, lr: 0.1) {
            $0.l2 = 0.1; $0.l1 = 0.05; $0.clipValue = 3; $0.clipNorm = 4
        },
    ]
}

@Suite("Optimizers against their update formulas")
struct OptimizerTests {
    /// Three steps of the compiled training step against the reference, with state.
    @Test(arguments: OptimizerCase.all)
    func threeStepsMatchTheFormulas(_ c: OptimizerCase) throws {
        var config = TrainConfig()
        config.optimizer = c.spec
        let session = try makeSession(quadratic, config: config)
        let e = try session.trainExecutor(batch: 1)
        try e.setInput(try #require(e.program.inputIndex(named: "t")), NDArray(target, shape: [1, 3]))
        try e.setInput(try #require(e.program.inputIndex(named: "a")), NDArray(curvature, shape: [1, 3]))
        var reference = ReferenceOptimizer(c.spec)
        #expect(session.state.values("optimizer.lr") == [c.spec.lr])
        for step in 1...3 {
            try e.run()
            reference.step()
            for name in ["w", "u"] {
                expectClose(try #require(session.state.values(name)), reference.p[name]!, tolerance: 1e-12,
                            "\(c.name): \(name) after step \(step)")
            }
            for (name, expected) in reference.state {
                let actual = try #require(session.state.values(name), "\(c.name): no state entry \(name)")
                expectClose(actual, expected, tolerance: 1e-12, "\(c.name): \(name) after step \(step)")
            }
        }
        // The program keeps exactly the state the formulas need, besides the parameters and the rate.
        let names = Set(session.state.entries.map(\.name)).subtracting(["w", "u", "optimizer.lr"])
        #expect(names == Set(reference.state.keys), "\(c.name)")
    }

    // The hand-worked cases below: one weight, L = ½w², so g = w, from w = 1, lr α = 0.1.
    static let oneWeight = """
        model one {
            input t: f64[B, 1]
            param w: f64[1] = [1.0]
            minimize 0.5 * sum(square(w - t))
        }
        """

    func steps(_ spec: OptimizerSpec, _ n: Int = 3, state names: [String]) throws -> [[Double]] {
        var config = TrainConfig()
        config.optimizer = spec
        let session = try makeSession(Self.oneWeight, config: config)
        let e = try session.trainExecutor(batch: 1)
        try e.setInput(0, NDArray([0.0], shape: [1, 1]))
        var out: [[Double]] = []
        for _ in 0..<n {
            try e.run()
            out.append(try names.map { try #require(session.state.values($0)?.first, "\($0)") })
        }
        return out
    }

    @Test func ewmaMomentumSequenceByHand() throws {
        var spec = OptimizerSpec(kind: .momentum, lr: 0.1)
        spec.momentum = 0.9
        spec.momentumForm = .ewma
        // v ← 0.9v + 0.1g, w ← w − 0.1v:
        //   step 1: g = 1,      v = 0.1,                    w = 1 − 0.01 = 0.99
        //   step 2: g = 0.99,   v = 0.09 + 0.099 = 0.189,   w = 0.99 − 0.0189 = 0.9711
        //   step 3: g = 0.9711, v = 0.1701 + 0.09711 = 0.26721, w = 0.9711 − 0.026721 = 0.944379
        let s = try steps(spec, state: ["optimizer.w.velocity", "w"])
        expectClose(s.map { $0[0] }, [0.1, 0.189, 0.26721], tolerance: 1e-14, "velocity")
        expectClose(s.map { $0[1] }, [0.99, 0.9711, 0.944379], tolerance: 1e-14, "w")
    }

    @Test func pytorchMomentumSequenceByHand() throws {
        var spec = OptimizerSpec(kind: .momentum, lr: 0.1)
        spec.momentum = 0.9
        spec.momentumForm = .pytorch
        // v ← 0.9v + g, w ← w − 0.1v:
        //   step 1: g = 1,    v = 1,               w = 0.9
        //   step 2: g = 0.9,  v = 0.9 + 0.9 = 1.8,  w = 0.9 − 0.18 = 0.72
        //   step 3: g = 0.72, v = 1.62 + 0.72 = 2.34, w = 0.72 − 0.234 = 0.486
        let s = try steps(spec, state: ["optimizer.w.velocity", "w"])
        expectClose(s.map { $0[0] }, [1, 1.8, 2.34], tolerance: 1e-14, "velocity")
        expectClose(s.map { $0[1] }, [0.9, 0.72, 0.486], tolerance: 1e-14, "w")
    }

    @Test func adamBiasCorrectionByHand() throws {
        let spec = OptimizerSpec(kind: .adam, lr: 0.1)   // β₁ = 0.9, β₂ = 0.999, ε = 1e-8
        // Step 1: g = 1, m = 0.1, v = 0.001; m̂ = 0.1/(1 − 0.9) = 1, v̂ = 0.001/(1 − 0.999) = 1:
        //   the corrected step is the full α: w = 1 − 0.1·1/(1 + 1e-8) = 0.900000001.
        //   Without the correction it would be 0.1·0.1/√0.001 ≈ 0.316.
        // Step 2: g = 0.900000001, m = 0.09 + 0.0900000001 = 0.1800000001,
        //   v = 0.000999 + 0.001·0.81000000018 = 0.0018090000018;
        //   m̂ = m/0.19 = 0.947368421578…, v̂ = v/0.001999 = 0.904952477138…,
        //   w = 0.900000001 − 0.1·m̂/(√v̂ + 1e-8) = 0.800412229712…
        // Step 3 likewise: m = 0.242041223061…, v = 0.002447850739…, w = 0.701586274504…
        let s = try steps(spec, state: ["optimizer.t", "optimizer.w.m", "optimizer.w.v", "w"])
        #expect(s.map { $0[0] } == [1, 2, 3])
        expectClose(s.map { $0[1] }, [0.1, 0.1800000001, 0.24204122306123382], tolerance: 1e-13, "m")
        expectClose(s.map { $0[2] }, [0.001, 0.0018090000018, 0.0024478507392712763], tolerance: 1e-13, "v")
        expectClose(s.map { $0[3] }, [0.9000000009999999, 0.8004122297123379, 0.7015862745044147], tolerance: 1e-13, "w")
    }

    /// The same three Adam steps in f32, against the formulas in Double: m and v round to f32 at
    /// every step, a few parts in 1e8 of w.
    @Test func adamInSinglePrecision() throws {
        let spec = OptimizerSpec(kind: .adam, lr: 0.1)
        var config = TrainConfig()
        config.optimizer = spec
        let session = try makeSession(quadratic.replacingOccurrences(of: "f64", with: "f32"), config: config)
        let e = try session.trainExecutor(batch: 1)
        #expect(e.program.floatType == .f32)
        try e.setInput(try #require(e.program.inputIndex(named: "t")), NDArray(target.map(Float.init), shape: [1, 3]))
        try e.setInput(try #require(e.program.inputIndex(named: "a")), NDArray(curvature.map(Float.init), shape: [1, 3]))
        var reference = ReferenceOptimizer(spec)
        for step in 1...3 {
            try e.run()
            reference.step()
            for name in ["w", "u"] {
                expectClose(try #require(session.state.values(name)), reference.p[name]!, tolerance: 1e-6,
                            "\(name) after step \(step)")
            }
        }
    }

    /// Adam's bias corrections in an f32 model are as exact as PyTorch's, which computes
    /// 1 − β₁ᵗ and 1 − β₂ᵗ in double precision: over 1000 steps, each step s = α·m̂/(√v̂ + ε) is
    /// compared with the formula evaluated in Double on the m and v the step stored (so only the
    /// step's last few f32 roundings, a few parts in 1e7, separate them). Computed in f32 as
    /// 1 − pow(β₂, t), the correction is off by about 1.3e-5 relatively for the first thousand
    /// steps (β₂ = 0.999 rounds to 0.99900001), and the step by about 6.4e-6.
    @Test func adamBiasCorrectionInSinglePrecisionAgreesWithDoubleOverAThousandSteps() throws {
        let source = """
            model linear {
                input g: f32[B, 3]
                param w: f32[3] = zeros
                minimize sum(w * g)
            }
            """
        let spec = OptimizerSpec(kind: .adam, lr: 0.001)   // β₁ = 0.9, β₂ = 0.999, ε = 1e-8
        var config = TrainConfig()
        config.optimizer = spec
        let session = try makeSession(source, config: config)
        let e = try session.trainExecutor(batch: 1)
        #expect(e.program.floatType == .f32)
        let input = try #require(e.program.inputIndex(named: "g"))
        var worst = 0.0
        for t in 1...1000 {
            // The gradient of Σ w·g is g: three coordinates of different sizes and signs.
            let x = Double(t)
            let g = [Foundation.sin(0.7 * x), 0.01 * Foundation.cos(0.3 * x) + 0.02, -2 - Foundation.sin(0.05 * x)]
            try e.setInput(input, NDArray(g.map(Float.init), shape: [1, 3]))
            // From w = 0 the new w is −s exactly.
            try session.state.set("w", values: [0, 0, 0])
            try e.run()
            let w = try #require(session.state.values("w"))
            let m = try #require(session.state.values("optimizer.w.m"))
            let v = try #require(session.state.values("optimizer.w.v"))
            #expect(session.state.values("optimizer.t") == [x])
            let bc1 = 1 - Foundation.pow(spec.beta1, x), bc2 = 1 - Foundation.pow(spec.beta2, x)
            for i in 0..<3 {
                let expected = spec.lr * (m[i] / bc1) / ((v[i] / bc2).squareRoot() + spec.eps)
                let relative = abs(-w[i] - expected) / abs(expected)
                worst = max(worst, relative)
                if relative > 1e-6 {
                    Issue.record("step \(t), w[\(i)]: step \(-w[i]), expected \(expected), relative error \(relative)")
                    return
                }
            }
        }
        #expect(worst < 1e-6, "largest relative error \(worst)")
    }

    /// The mean gradient over a batch: two examples with the targets of one give the same step.
    @Test func miniBatchStepUsesTheMeanGradient() throws {
        // L = mean over the batch of ½(w − tₙ)²: with t₁ = 0 and t₂ = 2 the mean gradient is w − 1.
        let source = """
            model batchmean {
                input t: f64[2, 1]
                param w: f64[1] = [3.0]
                minimize sse(broadcast_to(w, [2, 1]), t)
            }
            """
        var config = TrainConfig()
        config.optimizer = OptimizerSpec(kind: .sgd, lr: 0.5)
        let session = try makeSession(source, config: config)
        let e = try session.trainExecutor(batch: 2)
        try e.setInput(0, NDArray([0.0, 2.0], shape: [2, 1]))
        try e.run()
        // sse = ½·mean((w − 0)² + (w − 2)²) per batch ⇒ g = ½((w) + (w − 2)) = w − 1 = 2; w = 3 − 0.5·2 = 2.
        #expect(session.state.values("w") == [2.0])
        try e.run()
        // g = 2 − 1 = 1; w = 2 − 0.5 = 1.5.
        #expect(session.state.values("w") == [1.5])
    }

    @Test func optimizerSettingsParse() throws {
        func parse(_ text: String) throws -> OptimizerSpec {
            let v = try #require(Setting.parse(text))
            switch OptimizerSpec.parse(v, keeping: OptimizerSpec(kind: .sgd, lr: 0.01)) {
            case .success(let o): return o
            case .failure(let e):
                Issue.record("\(text): \(e.message)")
                throw e
            }
        }
        let m = try parse("sgd(lr: 0.1, momentum: 0.9)")
        #expect(m.kind == .momentum && m.lr == 0.1 && m.momentum == 0.9 && m.momentumForm == .ewma)
        let p = try parse("sgd(lr: 0.1, momentum: 0.8, form: pytorch)")
        #expect(p.kind == .momentum && p.momentumForm == .pytorch && p.momentum == 0.8)
        let n = try parse("sgd(lr: 0.1, momentum: 0.9, nesterov: true)")
        #expect(n.kind == .nesterov && n.momentumForm == .pytorch)
        let a = try parse("adam(lr: 0.002, beta1: 0.8, beta2: 0.99, eps: 1e-7)")
        #expect(a.kind == .adam && a.lr == 0.002 && a.beta1 == 0.8 && a.beta2 == 0.99 && a.eps == 1e-7)
        #expect(try parse("adam").lr == 0.001)
        #expect(try parse("adadelta").lr == 1.0)
        let r = try parse("rmsprop(lr: 0.01, rho: 0.95)")
        #expect(r.kind == .rmsprop && r.rho == 0.95)
        #expect(try parse("0.3").lr == 0.3)
        if case .success = OptimizerSpec.parse(try #require(Setting.parse("sgd(lr: 0.1, momentum: 1.5)")),
                                               keeping: OptimizerSpec(kind: .sgd, lr: 0.01)) {
            Issue.record("momentum 1.5 accepted")
        }
        if case .success = OptimizerSpec.parse(try #require(Setting.parse("adam(lr: 0.1, betas: 0.9)")),
                                               keeping: OptimizerSpec(kind: .sgd, lr: 0.01)) {
            Issue.record("unknown argument accepted")
        }
        // Penalties and clipping from a train block reach the optimizer.
        var c = TrainConfig()
        #expect(c.apply(key: "optimizer", try #require(Setting.parse("sgd(lr: 0.1)"))) == nil)
        #expect(c.apply(key: "l2", .float(0.01)) == nil)
        #expect(c.apply(key: "clip_norm", .int(5)) == nil)
        #expect(c.apply(key: "weight_decay", .float(0.1)) == nil)
        #expect(c.optimizer.l2 == 0.01 && c.optimizer.clipNorm == 5 && c.optimizer.weightDecay == 0.1)
        // A later optimizer setting keeps them.
        #expect(c.apply(key: "optimizer", try #require(Setting.parse("adam(lr: 0.01)"))) == nil)
        #expect(c.optimizer.kind == .adam && c.optimizer.l2 == 0.01 && c.optimizer.clipNorm == 5)
        #expect(c.apply(key: "l1", .float(-1)) != nil)
    }
}

@Suite("Learning-rate schedules")
struct ScheduleTests {
    @Test func formulas() {
        let a0 = 0.2
        for epoch in 0..<12 {
            let e = Double(epoch)
            // Time-based: α₀/(1 + k·epoch).
            #expect(ScheduleSpec.timeBased(k: 0.5).rate(a0, epoch: epoch) == a0 / (1 + 0.5 * e))
            // Its stepped form: α₀/(1 + k·⌊epoch/T⌋).
            #expect(ScheduleSpec.steppedTimeBased(k: 0.5, every: 4).rate(a0, epoch: epoch)
                    == a0 / (1 + 0.5 * (e / 4).rounded(.down)))
            // Exponential: α₀·γ^epoch.
            expectClose([ScheduleSpec.exponential(gamma: 0.9).rate(a0, epoch: epoch)], [a0 * Foundation.pow(0.9, e)],
                        tolerance: 1e-15, "exponential at \(epoch)")
            // Step decay: α₀·f^⌊epoch/T⌋.
            expectClose([ScheduleSpec.step(every: 3, factor: 0.5).rate(a0, epoch: epoch)],
                        [a0 * Foundation.pow(0.5, (e / 3).rounded(.down))], tolerance: 1e-15, "step at \(epoch)")
            #expect(ScheduleSpec.constant.rate(a0, epoch: epoch) == a0)
        }
        // A few values by hand.
        #expect(ScheduleSpec.timeBased(k: 0.5).rate(1, epoch: 2) == 0.5)                  // 1/(1 + 1)
        #expect(ScheduleSpec.steppedTimeBased(k: 1, every: 10).rate(1, epoch: 9) == 1)     // ⌊9/10⌋ = 0
        #expect(ScheduleSpec.steppedTimeBased(k: 1, every: 10).rate(1, epoch: 10) == 0.5)  // ⌊10/10⌋ = 1
        #expect(ScheduleSpec.step(every: 10, factor: 0.1).rate(1, epoch: 25) == 0.1 * 0.1) // ⌊25/10⌋ = 2
        #expect(ScheduleSpec.exponential(gamma: 0.5).rate(8, epoch: 3) == 1)               // 8·0.5³
    }

    @Test func settingsParse() throws {
        func parse(_ text: String) throws -> ScheduleSpec {
            switch ScheduleSpec.parse(try #require(Setting.parse(text))) {
            case .success(let s): return s
            case .failure(let e):
                Issue.record("\(text): \(e.message)")
                throw e
            }
        }
        #expect(try parse("time_based(k: 0.01)") == .timeBased(k: 0.01))
        #expect(try parse("stepped_time_based(k: 0.5, every: 10)") == .steppedTimeBased(k: 0.5, every: 10))
        #expect(try parse("exponential(gamma: 0.95)") == .exponential(gamma: 0.95))
        #expect(try parse("step(every: 10, factor: 0.5)") == .step(every: 10, factor: 0.5))
        #expect(try parse("constant") == .constant)
        if case .success = ScheduleSpec.parse(try #require(Setting.parse("step(every: 0, factor: 0.5)"))) {
            Issue.record("step every 0 accepted")
        }
    }

    /// The trainer sets 'optimizer.lr' at the start of every epoch: with L = w·x on one
    /// example x = 1 (one step per epoch, gradient 1), SGD moves w by exactly −α(epoch).
    @Test(arguments: [ScheduleSpec.timeBased(k: 0.5), .steppedTimeBased(k: 1, every: 2), .exponential(gamma: 0.8),
                      .step(every: 2, factor: 0.5), .constant])
    func trainerSetsTheRateEveryEpoch(_ schedule: ScheduleSpec) throws {
        let source = """
            model line {
                input x: f64[B, 1]
                param w: f64[1] = [0.0]
                output y = w * x
                minimize sum(y)
            }
            """
        var config = TrainConfig()
        config.optimizer = OptimizerSpec(kind: .sgd, lr: 0.4)
        config.schedule = schedule
        config.epochs = 6
        config.batch = 1
        let session = try makeSession(source, config: config)
        let trainer = try Trainer(session: session)
        let recorder = StateRecorder(session, names: ["w", "optimizer.lr"])
        trainer.progress = recorder
        let data = try Dataset(name: "one", features: NDArray([1.0], shape: [1, 1]))
        let result = try trainer.run(train: data, validation: nil)
        #expect(result.history.count == 6)
        var w = 0.0
        for epoch in 0..<6 {
            let e = Double(epoch)
            let rate: Double = switch schedule {
            case .timeBased: 0.4 / (1 + 0.5 * e)
            case .steppedTimeBased: 0.4 / (1 + (e / 2).rounded(.down))
            case .exponential: 0.4 * Foundation.pow(0.8, e)
            case .step: 0.4 * Foundation.pow(0.5, (e / 2).rounded(.down))
            case .constant: 0.4
            }
            w -= rate
            let v = recorder.values[epoch]
            expectClose(v["optimizer.lr"] ?? [], [rate], tolerance: 1e-15, "optimizer.lr in epoch \(epoch)")
            expectClose(v["w"] ?? [], [w], tolerance: 1e-14, "w after epoch \(epoch)")
            expectClose([recorder.records[epoch].learningRate], [rate], tolerance: 1e-15, "logged rate of epoch \(epoch)")
        }
    }
}
