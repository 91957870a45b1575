/// Gradient-check cases for attention and its pieces: matmul with broadcast batch
/// axes, the causal and masked softmax, where, reverse, chunk, scaled dot-product and
/// multi-head attention (several heads, causal, masks), position embeddings and the
/// transformer blocks of the bundled library (T ≥ 4).
extension GradientCases {
    static let attention: [GradientCase] = [
        .dlg("matmul with broadcast batch axes") { d in
            let (b, h, m, k, n) = (d.int(1...2), d.int(2...3), d.int(1...3), d.int(1...3), d.int(1...3))
            let (ta, tb) = (d.bool(), d.bool())
            let sa = ta ? "[\(b), 1, \(k), \(m)]" : "[\(b), 1, \(m), \(k)]"
            let sb = tb ? "[\(h), \(n), \(k)]" : "[\(h), \(k), \(n)]"
            return """
                model m {
                    input a: f32\(sa)
                    param w: f32\(sb) = normal(0, 1)
                    input y: f32[\(b), \(h), \(m), \(n)]
                    minimize mse(matmul(tanh(a), w, transpose_a: \(ta), transpose_b: \(tb)), y)
                }
                """
        },
        .dlg("matmul of a shared matrix by a batch") { d in
            let (b, m, k, n) = (d.int(1...3), d.int(1...3), d.int(1...3), d.int(1...3))
            return """
                model m {
                    param a: f32[\(m), \(k)] = normal(0, 1)
                    input x: f32[\(b), \(k), \(n)]
                    input y: f32[\(b), \(m), \(n)]
                    minimize mse(matmul(a, tanh(x)), y)
                }
                """
        },
        .dlg("causal softmax") { d in
            let (q, k) = (d.int(4...5), d.int(4...6))
            d.bind("B", 1...2)
            return """
                model m {
                    input x: f32[B, 2, \(q), \(k)]
                    input y: f32[B, 2, \(q), \(k)]
                    minimize mse(softmax(x * 2, causal: true), y)
                }
                """
        },
        .dlg("softmax with a mask, where") { d in
            let t = d.int(4...5)
            let mask = "[" + (0..<t).map { i in "[" + (0..<t).map { j in (i + 2 * j) % 3 == 0 && j != i ? "0" : "1" }.joined(separator: ", ") + "]" }
                .joined(separator: ", ") + "]"
            return """
                model m {
                    input x: f32[2, \(t), \(t)]
                    input y: f32[2, \(t), \(t)]
                    s = softmax(x * 2, mask: \(mask))
                    minimize mse(where(\(mask), s, tanh(x)), y)
                }
                """
        },
        .dlg("reverse and chunk along an axis") { d in
            let (t, f) = (d.int(4...5), d.int(1...3))
            d.bind("B", 1...2)
            return """
                model m {
                    input x: f32[B, \(t), \(2 * f)]
                    input y: f32[B, \(t), \(f)]
                    r = reverse(tanh(x), axis: 1)
                    minimize mse(chunk(r, 2, 0) * chunk(x, 2, 1), y)
                }
                """
        },
        .dlg("attention with several heads", seeds: [1, 2, 3]) { d in
            let (tq, tk, h, dh) = (d.int(4...5), d.int(4...5), d.int(2...3), d.int(1...2))
            let causal = d.bool()
            d.bind("B", 1...2)
            return """
                model m {
                    input q: f32[B, \(tq), \(h * dh)]
                    input k: f32[B, \(tk), \(h * dh)]
                    input v: f32[B, \(tk), \(h * 2)]
                    input y: f32[B, \(tq), \(h * 2)]
                    minimize mse(attention(q * 2, k, v, heads: \(h), causal: \(causal)), y)
                }
                """
        },
        .dlg("multi_head_attention, causal, with a mask", seeds: [1, 2, 3]) { d in
            let (t, h, dh) = (d.int(4...5), d.int(2...3), d.int(1...2))
            let masked = d.bool()
            let mask = masked ? ", mask: [" + (0..<t).map { i in "[" + (0..<t).map { j in j == 1 && i != 1 ? "0" : "1" }.joined(separator: ", ") + "]" }
                .joined(separator: ", ") + "]" : ""
            d.bind("B", 1...2)
            return """
                model m {
                    input x: f32[B, \(t), \(h * dh)]
                    input y: f32[B, \(t), \(h * dh)]
                    minimize mse(multi_head_attention(x * 2, heads: \(h), causal: \(!masked)\(mask)), y)
                }
                """
        },
        .dlg("position embeddings, learned and sinusoidal") { d in
            let (t, f) = (d.int(4...5), d.int(2...4))
            d.bind("B", 1...2)
            return """
                model m {
                    input x: f32[B, \(t), \(f)]
                    input y: f32[B, \(t), \(f)]
                    minimize mse(tanh(position_embedding(position_embedding(x, kind: sinusoidal), init: normal(0, 1))), y)
                }
                """
        },
        .dlg("transformer blocks of nn: pre-norm, post-norm, decoder", seeds: [1, 2]) { d in
            let (t, h) = (d.int(4...5), d.int(2...2))
            d.bind("B", 1...2)
            return """
                use nn
                model m {
                    input x: f32[B, \(t), 4]
                    input y: f32[B, \(t), 4]
                    a = encoder_block(x, \(h), 6)
                    b = encoder_block_post(a, \(h), 5)
                    minimize mse(decoder_block(b, \(h), 3), y)
                }
                """
        },
    ]
}
