/// Gradient-check cases for reductions and the layout ops.
extension GradientCases {
    /// A reduction over a random non-empty set of axes of a rank-4 tensor (or
    /// over all of them), with or without keepdims, axes written positive or
    /// negative. Max and min send the gradient to one element per group, so
    /// every coordinate is checked (`samples: 0`) on small tensors.
    static func reduction(_ function: String) -> GradientCase {
        .dlg("reduce \(function) over random axes", seeds: Array(1...8), samples: 0) { d in
            d.bind("B", 1...2)
            let dims = [d.int(1...3), d.int(2...3), d.int(2...3)]
            var axes = (0..<4).filter { _ in d.bool() }
            var call: String
            if axes.isEmpty {
                call = "\(function)(x)"
            } else {
                if d.bool() { axes = axes.map { $0 - 4 } }
                call = "\(function)(x, axis: \(axes), keepdims: \(d.bool()))"
            }
            return """
                model m {
                    input x: f32[B, \(dims[0]), \(dims[1]), \(dims[2])]
                    r = \(call)
                    minimize mean(square(r + 0.5))
                }
                """
        }
    }

    static let reductionsAndLayout: [GradientCase] = [
        reduction("sum"), reduction("mean"), reduction("max"), reduction("min"),
        // The mean over the symbolic batch axis: its backward divides by axis_size(B) at run time.
        .dlg("mean over the symbolic batch axis", seeds: [1, 2, 3, 4]) { d in
            d.symbolic = true
            d.bind("B", 2...4)
            let k = d.int(2...4)
            return """
                model m {
                    input x: f32[B, \(k)]
                    param w: f32[\(k)] = uniform(0.5, 1.5)
                    m0 = mean(x * w, axis: 0)
                    minimize mean(square(m0 - 0.3)) + mean(square(x * w))
                }
                """
        },
        .dlg("global average and max pooling", samples: 0) { d in
            d.bind("B", 1...2)
            let (c, h, w) = (d.int(1...3), d.int(2...3), d.int(2...4))
            return """
                model m {
                    input x: f32[B, \(c), \(h), \(w)]
                    minimize mean(square(global_avgpool(x) + 0.3)) + mean(square(global_maxpool(x) - 0.2))
                }
                """
        },
        .dlg("reshape and flatten") { d in
            d.bind("B", 1...3)
            let (a, b, c) = (d.int(1...3), d.int(2...4), d.int(1...3))
            return """
                model m {
                    input x: f32[B, \(a), \(b), \(c)]
                    param s: f32[\(c)] = uniform(0.5, 1.5)
                    r = reshape(x * s, [shape(x)[0], \(c), \(a * b)])
                    f = flatten(r)
                    minimize mean(square(f + 0.2)) + mean(square(r - 0.1))
                }
                """
        },
        .dlg("transpose with a random permutation") { d in
            d.bind("B", 1...3)
            let dims = [d.int(1...3), d.int(2...4), d.int(2...3)]
            var perm = [0, 1, 2, 3]
            for i in stride(from: 3, to: 0, by: -1) { perm.swapAt(i, d.int(0...i)) }
            let out = perm.map { $0 == 0 ? "B" : String(dims[$0 - 1]) }
            return """
                model m {
                    input x: f32[B, \(dims[0]), \(dims[1]), \(dims[2])]
                    input t: f32[\(out.joined(separator: ", "))]
                    minimize mse(transpose(x, \(perm)), t)
                }
                """
        },
        .dlg("concat along a random axis, an operand twice") { d in
            d.bind("B", 1...3)
            let (a, b, c) = (d.int(1...3), d.int(2...3), d.int(1...3))
            // Axis 1 or 2 joins x [B, a, b] with y, which differs from x in that axis only.
            let axis = d.int(1...2)
            let y = axis == 1 ? "[B, \(c), \(b)]" : "[B, \(a), \(c)]"
            return """
                model m {
                    input x: f32[B, \(a), \(b)]
                    input y: f32\(y)
                    param s: f32[\(b)] = uniform(0.5, 1.5)
                    j = concat([x, y, x * s], axis: \(d.bool() ? axis : axis - 3))
                    minimize mean(square(j - 0.2))
                }
                """
        },
        .dlg("slice with random start, end and step") { d in
            d.bind("B", 1...3)
            let n = d.int(4...7), k = d.int(2...4)
            let start = d.int(0...(n - 2))
            let end = d.int((start + 1)...n)
            let step = d.int(1...3)
            let startText = d.bool() ? "\(start)" : "\(start - n)"
            return """
                model m {
                    input x: f32[B, \(n), \(k)]
                    s = slice(x, axis: 1, start: \(startText), end: \(end), step: \(step))
                    e = slice(x, axis: -1, start: 1)
                    minimize mean(square(s + 0.3)) + mean(square(e - 0.1))
                }
                """
        },
        .dlg("broadcast_to new and size-1 axes") { d in
            let (n, k, m) = (d.int(1...3), d.int(2...4), d.int(2...3))
            return """
                model m {
                    input x: f32[\(n), 1, \(k)]
                    input v: f32[\(k)]
                    a = broadcast_to(x, [\(m), \(n), 3, \(k)])
                    b = broadcast_to(v, [\(n), \(k)])
                    minimize mean(square(a + 0.3)) + mean(square(b * b - 0.5))
                }
                """
        },
    ]

    /// Padding of the two spatial axes with random asymmetric amounts, in one mode.
    static func padding(_ mode: String) -> GradientCase {
        .dlg("pad, mode \(mode), asymmetric") { d in
            d.bind("B", 1...2)
            let (h, w) = (d.int(3...5), d.int(3...5))
            // reflect needs amounts smaller than the axis.
            let limit = mode == "reflect" ? 2 : 3
            let pads = [d.int(0...limit), d.int(0...limit), d.int(0...limit), d.int(1...limit)]
            let extra = mode == "constant" ? ", value: 0.7" : ""
            return """
                model m {
                    input x: f32[B, 2, \(h), \(w)]
                    p = pad(x, \(pads), mode: \(mode)\(extra))
                    minimize mean(square(p - 0.2))
                }
                """
        }
    }

    static let paddings: [GradientCase] = ["zero", "constant", "replicate", "reflect"].map(padding)
}
