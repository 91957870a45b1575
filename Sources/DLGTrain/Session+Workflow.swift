import DLGCompiler
import DLGGraph

extension Session {
    /// The kind of the layer record that computes the minimized value (`bce`, `mse`, …).
    static func lossKind(_ g: Graph) -> String? {
        guard let loss = g.loss else { return nil }
        func find(_ records: [LayerRecord]) -> String? {
            for r in records {
                if r.output == loss { return r.kind }
                if let k = find(r.children) { return k }
            }
            return nil
        }
        return find(g.layers)
    }

    /// A `freeze` pattern that matches no trainable parameter is almost always a typo:
    /// refuse it, listing what the model has.
    func checkFreezePatterns(_ graph: Graph) throws {
        guard !config.freeze.isEmpty else { return }
        var g = graph
        let (_, unmatched) = Freezing.apply(config.freeze, to: &g)
        guard let bad = unmatched.first else { return }
        let names = graph.trainableParams.compactMap(\.name)
        throw TrainError("freeze pattern '\(bad)' matches no trainable parameter of \(name); its trainable parameters are "
                         + names.joined(separator: ", "))
    }
}
