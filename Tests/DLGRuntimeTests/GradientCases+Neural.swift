/// Gradient-check cases for matmul, convolution, pooling, softmax and its
/// losses, dropout, batchnorm, prelu and dense layers, and every loss.
extension GradientCases {
    /// matmul in one batching form with the given transposes, random sizes.
    /// Forms: both matrices; `a` batched with a shared `b`; both batched.
    static func matmul(_ form: String, transposeA: Bool, transposeB: Bool) -> GradientCase {
        .dlg("matmul \(form), transpose_a \(transposeA), transpose_b \(transposeB)", seeds: [1, 2, 3, 4]) { d in
            let (m, k, n) = (d.int(1...4), d.int(1...4), d.int(1...4))
            let batch: String
            switch form {
            case "2-D": batch = ""
            default:
                d.bind("B", 1...3)
                batch = "B, \(d.int(1...2)), "
            }
            let aBatch = batch, bBatch = form == "batched by batched" ? batch : ""
            let a = transposeA ? "[\(aBatch)\(k), \(m)]" : "[\(aBatch)\(m), \(k)]"
            let b = transposeB ? "[\(bBatch)\(n), \(k)]" : "[\(bBatch)\(k), \(n)]"
            return """
                model m {
                    input a: f32\(a)
                    input b: f32\(b)
                    input t: f32[\(aBatch)\(m), \(n)]
                    minimize mse(matmul(a, b, transpose_a: \(transposeA), transpose_b: \(transposeB)), t)
                }
                """
        }
    }

    static let matmuls: [GradientCase] = ["2-D", "batched by shared", "batched by batched"].flatMap { form in
        [(false, false), (false, true), (true, false), (true, true)].map { matmul(form, transposeA: $0.0, transposeB: $0.1) }
    }

    /// One convolution with random geometry. `fixed` pins settings; the rest
    /// are drawn: kernel 1–3 per axis, stride 1–2, dilation 1–2, padding 0–2 on
    /// each side independently, groups 1–3 with 1–2 channels and filters per group.
    static func convolution(_ name: String, seeds: [UInt64] = Array(1...6), stride: [Int]? = nil, groups: Int? = nil,
                            depthwise: Bool = false, dilation: [Int]? = nil, padMode: String? = nil) -> GradientCase {
        .dlg("conv2d \(name)", seeds: seeds) { d in
            d.bind("B", 1...2)
            let g = depthwise ? d.int(2...3) : groups ?? d.int(1...3)
            let cin = g * (depthwise ? 1 : d.int(1...2))
            let filters = g * d.int(1...2)
            let kernel = [d.int(1...3), d.int(1...3)]
            let s = stride ?? [d.int(1...2), d.int(1...2)]
            let dil = dilation ?? [d.int(1...2), d.int(1...2)]
            // reflect padding needs amounts below the input size; sizes ≥ the dilated kernel keep outputs positive.
            let pads = [d.int(0...2), d.int(0...2), d.int(0...2), d.int(0...2)]
            let h = max(dil[0] * (kernel[0] - 1) + 1, 3) + d.int(0...3)
            let w = max(dil[1] * (kernel[1] - 1) + 1, 3) + d.int(0...3)
            var args = "kernel: \(kernel), stride: \(s), dilation: \(dil), pad: \(pads)"
            if let padMode { args += ", pad_mode: \(padMode)" + (padMode == "constant" ? ", pad_value: 0.4" : "") }
            let call = depthwise
                ? "depthwise_conv2d(x, \(args), multiplier: \(filters / g))"
                : "conv2d(x, filters: \(filters), \(args), groups: \(g))"
            return """
                model m {
                    input x: f32[B, \(cin), \(h), \(w)]
                    c = \(call)
                    minimize mean(square(c - 0.2))
                }
                """
        }
    }

    /// One pooling layer with random geometry: window 1–3 (2–3 for max and
    /// min), stride 1–3, padding at most half the window, floor or ceil rounding.
    /// Max and min route the gradient to one cell per window: every coordinate is checked.
    static func pooling(_ kind: String) -> GradientCase {
        .dlg("\(kind)pool, random window, stride, padding and rounding", seeds: Array(1...8), samples: 0) { d in
            d.bind("B", 1...2)
            let k = [d.int(kind == "avg" ? 1...3 : 2...3), d.int(2...3)]
            let s = [d.int(1...3), d.int(1...3)]
            let pads = [d.int(0...(k[0] / 2)), d.int(0...(k[0] / 2)), d.int(0...(k[1] / 2)), d.int(0...(k[1] / 2))]
            let h = k[0] + d.int(0...3), w = k[1] + d.int(0...3)
            var args = "\(k), stride: \(s), pad: \(pads), round: \(d.pick(["floor", "ceil"]))"
            if kind == "avg" { args += ", count_include_pad: \(d.bool())" }
            return """
                model m {
                    input x: f32[B, 2, \(h), \(w)]
                    p = \(kind)pool(x, \(args))
                    minimize mean(square(p + 0.3))
                }
                """
        }
    }

    static let convolutionsAndPooling: [GradientCase] = [
        convolution("random geometry", seeds: Array(1...12)),
        convolution("stride 2, asymmetric padding", stride: [2, 2], groups: 1, dilation: [1, 1]),
        convolution("dilation 2", groups: 1, dilation: [2, 2]),
        convolution("groups 2, stride 2", stride: [2, 2], groups: 2),
        convolution("depthwise", depthwise: true),
        convolution("replicate padding", padMode: "replicate"),
        convolution("reflect padding", groups: 1, dilation: [1, 1], padMode: "reflect"),
        convolution("constant padding", padMode: "constant"),
        .dlg("conv2d pad same, stride 2; separable", seeds: [1, 2, 3, 4]) { d in
            d.bind("B", 1...2)
            let (h, w) = (d.int(4...7), d.int(4...7))
            return """
                model m {
                    input x: f32[B, 2, \(h), \(w)]
                    a = conv2d(x, filters: 3, kernel: 3, stride: 2, pad: same)
                    b = separable_conv2d(x, filters: 3, kernel: 3, multiplier: 2, pad: same, activation: tanh)
                    minimize mean(square(a - 0.2)) + mean(square(b + 0.1))
                }
                """
        },
        pooling("max"), pooling("avg"), pooling("min"),
        // Big enough that the convolution, pooling and padding kernels split their loops over two
        // threads (pooling and padding split planes when a plane has ≥ 8192/planes elements).
        {
            var c = GradientCase.dlg("conv2d, pooling and padding split over 2 threads", seeds: [1], samples: 8) { d in
                d.bind("B", 4...4)
                return """
                    model m {
                        input x: f32[B, 4, 32, 32]
                        c = conv2d(x, filters: 8, kernel: 3, stride: 2, pad: [1, 0, 0, 1], groups: 2)
                        p = maxpool(x, 3, stride: 2, pad: 1, round: ceil)
                        a = avgpool(x, 3, stride: 2, pad: 1, count_include_pad: false)
                        q = pad(x, [2, 1, 1, 2], mode: \(d.pick(["reflect", "replicate"])))
                        minimize mean(square(c - 0.2)) + mean(square(p)) + mean(square(a + 0.1)) + mean(square(q - 0.3))
                    }
                    """
            }
            c.parallel = true
            return c
        }(),
    ]

    static let softmaxAndLosses: [GradientCase] = [
        .dlg("softmax and log_softmax along a random axis") { d in
            d.bind("B", 1...3)
            let (a, b) = (d.int(2...4), d.int(2...4))
            let axis = d.pick([0, 1, 2, -1, -2])
            return """
                model m {
                    input x: f32[B, \(a), \(b)]
                    input t: f32[B, \(a), \(b)]
                    p = softmax(x, axis: \(axis))
                    l = log_softmax(x * 1.5, axis: \(axis))
                    minimize mse(p, t) + mean(l * t)
                }
                """
        },
        .dlg("sparse softmax cross-entropy") { d in
            d.bind("B", 1...4)
            let (f, c) = (d.int(2...4), d.int(2...5))
            return """
                model m {
                    input x: f32[B, \(f)]
                    input label: i32[B]
                    minimize cross_entropy(dense(x, \(c)) * 2, label)
                }
                """
        },
        .dlg("dense softmax cross-entropy, probabilities and one-hot targets") { d in
            d.bind("B", 1...4)
            let (f, c) = (d.int(2...4), d.int(2...5))
            return """
                model m {
                    input x: f32[B, \(f)]
                    input t: f32[B, \(c)]
                    input label: i32[B]
                    z = dense(x, \(c)) * 2
                    minimize cross_entropy(z, softmax(t)) + cross_entropy(z, one_hot(label, \(c))) + 0.1 * cross_entropy(z, t)
                }
                """
        },
        .dlg("regression losses: mse, sse, mae, huber") { d in
            d.bind("B", 1...3)
            let k = d.int(1...4)
            return """
                model m {
                    input x: f32[B, \(k)]
                    input y: f32[B, \(k)]
                    p = dense(x, \(k))
                    minimize mse(p, y) + sse(p, y) + mae(p, y) + huber(p, y, delta: \(d.pick(["0.5", "1"])))
                }
                """
        },
        .dlg("classification losses: bce, bce_logits, hinge") { d in
            d.bind("B", 1...3)
            let k = d.int(1...3)
            return """
                model m {
                    input x: f32[B, \(k)]
                    input y: f32[B, \(k)]
                    input label: i32[B, \(k)]
                    z = dense(x, \(k))
                    t = cast(label, f32)
                    minimize bce(sigmoid(z), t) + bce_logits(z, sigmoid(y)) + hinge(z, 2 * t - 1)
                }
                """
        },
    ]

    static let layers: [GradientCase] = [
        .dlg("dense on rank 2 and rank 3 (bias_add on the last axis)") { d in
            d.bind("B", 1...3)
            let (f, u, n) = (d.int(1...4), d.int(1...4), d.int(1...3))
            return """
                model m {
                    input x: f32[B, \(f)]
                    input s: f32[B, \(n), \(f)]
                    a = dense(x, \(u), activation: \(d.pick(["tanh", "sigmoid", "softplus", "gelu"])))
                    b = dense(s, \(u))
                    minimize mean(square(a - 0.3)) + mean(square(b + 0.1))
                }
                """
        },
        // Training form: normalized with the batch's own mean and variance, which depend on every sample.
        // Batches of at least 3: with two samples per channel the normalized values are ±1 whatever x is.
        .dlg("batchnorm on images, batch statistics") { d in
            d.bind("B", 3...4)
            let (c, h, w) = (d.int(1...3), d.int(1...3), d.int(2...3))
            return """
                model m {
                    input x: f32[B, \(c), \(h), \(w)]
                    input t: f32[B, \(c), \(h), \(w)]
                    n = batchnorm(x * 2 + 1, name: "bn")
                    minimize mse(n, t)
                }
                """
        },
        // At least 2 input features: batchnorm(x·W) does not change when a column of W is scaled, so
        // with one feature the weight's gradient would be zero up to the eps of the variance.
        .dlg("batchnorm on features after dense, batch statistics") { d in
            d.bind("B", 3...5)
            let (f, u) = (d.int(2...3), d.int(1...3))
            return """
                model m {
                    input x: f32[B, \(f)]
                    input t: f32[B, \(u)]
                    minimize mse(tanh(batchnorm(dense(x, \(u), bias: false))), t)
                }
                """
        },
        // With β = 0 and γ > 0 (their initial values), relu(γ·x̂) = γ·relu(x̂); a depthwise convolution
        // keeps channels apart, so the second batchnorm sees its input channel c scaled by γ_c and
        // normalizes it away except through its eps: (γz − γμ)/√(γ²σ² + eps) = (z − μ)/√(σ² + eps/γ²).
        // The first γ's gradient exists only through that eps. With eps = 1e-2 it is large enough to
        // check to 1e-7; with the default 1e-5 it is about 1e-5 of the other gradients, at the rounding
        // noise of the finite differences (MobileNet's gradient check shows this).
        .dlg("batchnorm γ acting only through the next batchnorm's eps", seeds: [1, 2, 3, 4]) { d in
            d.bind("B", 2...3)
            let c = d.int(2...3)
            return """
                model m {
                    input x: f32[B, \(c), 4, 4]
                    input label: i32[B]
                    a = relu(batchnorm(conv2d(x, filters: \(c), kernel: 1, bias: false)))
                    b = relu(batchnorm(depthwise_conv2d(a, kernel: 3, pad: same, bias: false), eps: 0.01))
                    minimize cross_entropy(dense(global_avgpool(b), 3), label)
                }
                """
        },
        // The mask is drawn from the seed and the step, both fixed during the check.
        .dlg("dropout (fixed mask)") { d in
            d.bind("B", 1...3)
            let k = d.int(3...6)
            return """
                model m {
                    input x: f32[B, \(k)]
                    input t: f32[B, \(k)]
                    param s: f32[\(k)] = uniform(0.5, 1.5)
                    minimize mse(dropout(x * s, \(d.pick(["0.2", "0.5"]))), t)
                }
                """
        },
        .dlg("prelu on images and on features") { d in
            d.bind("B", 1...3)
            let (c, k) = (d.int(1...3), d.int(3...5))
            return """
                model m {
                    input x: f32[B, \(c), 2, 3]
                    input v: f32[B, \(k)]
                    a = prelu(x, init: uniform(0.1, 0.5))
                    b = prelu(v - 0.5)
                    minimize mean(square(a - 0.2)) + mean(square(b + 0.1))
                }
                """
        },
    ]
}
