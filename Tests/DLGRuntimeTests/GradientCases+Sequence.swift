/// Gradient-check cases for the sequence ops and layers: gather (embeddings)
/// and the recurrent layers (T ≥ 4; stacked, bidirectional, initial states,
/// every step's output or the final states).
extension GradientCases {
    static let sequence: [GradientCase] = [
        .dlg("embedding over token ids") { d in
            let (t, v, e) = (d.int(2...5), d.int(2...6), d.int(1...4))
            d.bind("B", 1...3)
            return """
                model m {
                    input tokens: i32[B, \(t)]
                    input y: f32[B, \(t), 2]
                    e = embedding(tokens, vocab: \(v), dim: \(e))
                    minimize mse(dense(e, 2), y)
                }
                """
        },
        .dlg("gather on a parameter table") { d in
            let (n, v, e) = (d.int(1...6), d.int(2...5), d.int(1...4))
            return """
                model m {
                    input ids: i32[\(n)]
                    param table: f32[\(v), \(e)] = normal(0, 1)
                    input y: f32[\(n), \(e)]
                    minimize mse(tanh(gather(table, ids)), y)
                }
                """
        },
    ] + recurrent + featureNorms

    /// Each cell in several forms, over 4–5 steps.
    static let recurrent: [GradientCase] = ["rnn", "lstm", "gru"].flatMap { cell in
        [
            (layers: 1, bidirectional: false, sequences: true, initial: false),
            (layers: 2, bidirectional: false, sequences: false, initial: true),
            (layers: 1, bidirectional: true, sequences: false, initial: false),
            (layers: 2, bidirectional: true, sequences: true, initial: true),
        ].map { f in
            GradientCase.dlg("\(cell), layers \(f.layers), bidirectional \(f.bidirectional), return_sequences \(f.sequences)"
                             + (f.initial ? ", initial state" : ""), seeds: [1, 2]) { d in
                let (t, i, h) = (d.int(4...5), d.int(1...3), d.int(1...3))
                d.bind("B", 1...2)
                let dirs = f.bidirectional ? 2 : 1
                let states = f.initial ? (cell == "lstm" ? ["h0", "c0"] : ["h0"]) : []
                let stateInputs = states.map { "input \($0): f32[\(f.layers * dirs), B, \(h)]" }.joined(separator: "\n    ")
                let stateArgs = states.map { ", \($0): \($0)" }.joined()
                let target = f.sequences ? "[B, \(t), \(dirs * h)]" : "[B, \(dirs * h)]"
                return """
                    model m {
                        input x: f32[B, \(t), \(i)]
                        \(stateInputs)
                        input y: f32\(target)
                        r = \(cell)(x, units: \(h), layers: \(f.layers), bidirectional: \(f.bidirectional), return_sequences: \(f.sequences)\(stateArgs))
                        minimize mse(r, y)
                    }
                    """
            }
        }
    }
}

extension GradientCases {
    /// layer_norm and rms_norm over the last axis of rank-2 and rank-3 inputs.
    static let featureNorms: [GradientCase] = ["layer_norm", "rms_norm"].flatMap { kind in
        [2, 3].map { rank in
            GradientCase.dlg("\(kind) on rank \(rank)") { d in
                // At least 3 features: over 2 a layer norm is ±1 whatever x is (a gradient at rounding noise).
                let (t, f) = (d.int(1...3), d.int(3...6))
                d.bind("B", 1...3)
                let shape = rank == 2 ? "[B, \(f)]" : "[B, \(t), \(f)]"
                return """
                    model m {
                        input x: f32\(shape)
                        input y: f32\(shape)
                        param w: f32\(shape.replacingOccurrences(of: "B", with: "1")) = normal(0, 1)
                        minimize mse(\(kind)(x) * w, y)
                    }
                    """
            }
        }
    }
}
