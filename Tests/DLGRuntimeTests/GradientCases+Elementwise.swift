/// Gradient-check cases for the elementwise ops: every unary function and
/// activation, and the binary ops under every kind of broadcasting.
///
/// Inputs are N(0, 1) (GradientCheck draws them); a parameter `s` scales them
/// so that parameters are checked too. Functions defined only for positive
/// arguments get square(x)·s + 0.5 ≥ 0.5. The loss is mse against a random
/// target: smooth, with gradients of order 1/(number of elements), far above
/// the 1e-9·|J| rounding floor of the finite differences.
extension GradientCases {
    static func unary(_ name: String, positive: Bool = false,
                      _ expression: @escaping @Sendable (inout ShapeDraw, String) -> String) -> GradientCase {
        .dlg("unary \(name)") { d in
            d.bind("B", 1...3)
            let n = d.int(1...4), k = d.int(2...5)
            let u = positive ? "(square(x) * s + 0.5)" : "(x * s)"
            return """
                model m {
                    input x: f32[B, \(n), \(k)]
                    input t: f32[B, \(n), \(k)]
                    param s: f32[\(k)] = uniform(0.5, 1.5)
                    h = \(expression(&d, u))
                    minimize mse(h, t)
                }
                """
        }
    }

    static let elementwise: [GradientCase] = [
        unary("neg") { _, u in "-\(u)" },
        unary("exp") { _, u in "exp(\(u))" },
        unary("log", positive: true) { _, u in "log(\(u))" },
        unary("sqrt", positive: true) { _, u in "sqrt(\(u))" },
        unary("rsqrt", positive: true) { _, u in "rsqrt(\(u))" },
        unary("reciprocal", positive: true) { _, u in "reciprocal(\(u))" },
        unary("abs") { _, u in "abs(\(u))" },
        unary("square") { _, u in "square(\(u))" },
        // sign and step have slope 0; the product makes the rest of the gradient visible.
        unary("sign") { _, u in "sign(\(u)) * \(u) + 0.5 * sign(\(u))" },
        unary("step") { _, u in "step(\(u)) * \(u) + step(\(u))" },
        unary("sigmoid") { d, u in "sigmoid(\(u), \(d.pick(["1", "2.5", "0.5"])))" },
        unary("tanh") { d, u in d.bool() ? "tanh(\(u))" : "tanh(\(u), 1.7159, 2 / 3)" },
        unary("relu") { _, u in "relu(\(u))" },
        unary("leaky_relu") { d, u in "leaky_relu(\(u), \(d.pick(["0.01", "0.2", "0.5"])))" },
        unary("elu") { d, u in "elu(\(u), alpha: \(d.pick(["1", "0.7", "1.5"])))" },
        unary("selu") { _, u in "selu(\(u))" },
        unary("gelu") { _, u in "gelu(\(u))" },
        unary("swish") { _, u in "swish(\(u))" },
        unary("softplus") { _, u in "softplus(\(u) * 2)" },
        unary("softsign") { _, u in "softsign(\(u) * 2)" },
        unary("mish") { _, u in "mish(\(u) * 2)" },
        unary("hard_sigmoid") { _, u in "hard_sigmoid(\(u) * 4)" },
        unary("hard_swish") { _, u in "hard_swish(\(u) * 4)" },
        unary("log_sigmoid") { _, u in "log_sigmoid(\(u) * 2)" },
        // Inputs spread over the linear piece and both saturated ones.
        unary("satlin") { _, u in "satlin(\(u) + 0.5)" },
        unary("satlins") { _, u in "satlins(\(u) * 1.5)" },
        unary("cast") { _, u in "cast(\(u), f32) * \(u)" },
        unary("clip") { _, u in "clip(\(u), -0.5, 0.8)" },
        unary("pow by a number") { d, u in "pow(\(u), \(d.pick(["2", "3"])))" },
        unary("pow of a number") { _, u in "pow(2, \(u))" },
        unary("maximum with a number") { _, u in "maximum(\(u), 0.25)" },
        unary("minimum with a number") { _, u in "minimum(\(u), -0.25)" },
    ]

    /// Operand shapes for broadcasting: same shape, trailing vector, column
    /// against a rank-3 tensor (both orders), two partial broadcasts, a
    /// one-element tensor. Every pair broadcasts to [B, n, k].
    static func broadcastPair(_ d: inout ShapeDraw, n: Int, k: Int) -> (String, String) {
        let pairs = [
            ("[B, \(n), \(k)]", "[B, \(n), \(k)]"),
            ("[B, \(n), \(k)]", "[\(k)]"),
            ("[\(n), 1]", "[B, \(n), \(k)]"),
            ("[B, 1, \(k)]", "[B, \(n), 1]"),
            ("[1, \(k)]", "[B, \(n), 1]"),
            ("[B, \(n), \(k)]", "[1]"),
            ("[B, \(n), 1]", "[B, 1, \(k)]"),
        ]
        return d.pick(pairs)
    }

    /// A binary op on two inputs whose shapes broadcast to [B, n, k]; `a` and
    /// `b` in the expression may be rewritten to stay in the op's domain.
    static func binary(_ name: String, seeds: [UInt64] = Array(1...8),
                       _ expression: @escaping @Sendable (String, String) -> String) -> GradientCase {
        .dlg("binary \(name) with broadcasting", seeds: seeds) { d in
            d.bind("B", 1...3)
            let n = d.int(2...4), k = d.int(2...5)
            let (sa, sb) = broadcastPair(&d, n: n, k: k)
            return """
                model m {
                    input a: f32\(sa)
                    input b: f32\(sb)
                    input t: f32[B, \(n), \(k)]
                    h = \(expression("a", "b"))
                    minimize mse(h, t)
                }
                """
        }
    }

    static let binaryOps: [GradientCase] = [
        binary("add") { a, b in "\(a) + \(b)" },
        binary("sub") { a, b in "\(a) - \(b)" },
        binary("mul") { a, b in "\(a) * \(b)" },
        binary("div") { a, b in "\(a) / (square(\(b)) + 0.5)" },
        // A positive base so that both aᵇ and its log are defined.
        binary("pow") { a, b in "pow(exp(0.4 * \(a)), \(b))" },
        binary("maximum") { a, b in "maximum(\(a), \(b))" },
        binary("minimum") { a, b in "minimum(\(a), \(b))" },
        // h·stop_gradient(h): the derived gradient counts only the first factor, and the finite
        // differences hold the stopped value at its base-point value, so both see ∂/∂h = h.
        .dlg("stop_gradient beside a direct path") { d in
            d.bind("B", 1...3)
            let k = d.int(2...5)
            return """
                model m {
                    input x: f32[B, \(k)]
                    input t: f32[B, \(k)]
                    param w: f32[\(k)] = uniform(0.5, 1.5)
                    h = x * w
                    minimize mean(h * stop_gradient(h)) + mse(h, t)
                }
                """
        },
        // One value as both operands of one op, and used again: its gradient is the sum of three contributions.
        .dlg("fan-out: a value used by several operands") { d in
            d.bind("B", 1...3)
            let k = d.int(2...5)
            return """
                model m {
                    input a: f32[B, \(k)]
                    input b: f32[\(k)]
                    input t: f32[B, \(k)]
                    v = a * b
                    minimize mse(v * v + v, t)
                }
                """
        },
    ]
}
