import DLGCompiler
import DLGData
import DLGRuntime

extension Trainer {
    /// Whether a program output is the penalty the optimizer pass adds (not a model output).
    static func isPenalty(_ output: String) -> Bool { output == OptimizerUpdate.penaltyOutput }

    /// The L1/L2 penalty a training step reported, when its optimizer has one.
    func penalty(_ e: Executor) -> Double? {
        guard let out = e.program.outputs.first(where: { $0.name == OptimizerUpdate.penaltyOutput }) else { return nil }
        return e.element(out.buffer, 0)
    }

    /// The penalty at the current weights, (λ₂/2)·Σp² + λ₁·Σ|p| over the parameters the
    /// training step updates, or nil without one. Held-out losses include it, as Keras's
    /// `val_loss` includes the regularization losses, so that they compare with `loss`.
    public func currentPenalty() -> Double? {
        let o = session.config.optimizer
        guard o.l1 > 0 || o.l2 > 0, let e = session.trainingExecutors.first else { return nil }
        var squares = 0.0, magnitudes = 0.0
        for slot in e.program.state where slot.trainable {
            guard let v = session.state.values(slot.name) else { continue }
            for x in v {
                squares += x * x
                magnitudes += abs(x)
            }
        }
        return o.l2 / 2 * squares + o.l1 * magnitudes
    }

    /// Loss and scores over held-out data as the run reports them: the model's loss plus
    /// the penalty at the current weights.
    public func evaluateHeldOut(_ d: Dataset, batch: Int? = nil) throws -> (tally: Tally, scoring: Scoring) {
        var (tally, scoring) = try evaluate(d, batch: batch)
        if let p = currentPenalty() {
            tally.lossSum += p * Double(tally.examples)
            tally.penaltySum = p * Double(tally.examples)
        }
        return (tally, scoring)
    }
}

/// A run's augmentation: the transforms, the training features as floats, one example's shape.
public struct Augmentation: Sendable {
    public var augmenter: ImageAugmenter
    public var source: [Float]
    public var exampleShape: [Int]

    public func batches(order: [Int], batch: Int, epoch: Int) -> AugmentedBatches {
        AugmentedBatches(source: source, augmenter: augmenter, order: order, batch: batch, epoch: epoch, shape: exampleShape)
    }
}

extension Trainer {
    /// The image geometry of the features input: `[B, C, H, W]` or `[B, H, W]`; nil otherwise.
    public func imageGeometry() -> ImageGeometry? {
        guard let input = session.inputs.first(where: { $0.name == featureInput }), let dims = input.type.shape.dims else { return nil }
        let sizes = dims.dropFirst().map(\.value)
        guard sizes.allSatisfy({ $0 != nil }) else { return nil }
        let s = sizes.map { $0! }
        switch s.count {
        case 3: return ImageGeometry(channels: s[0], height: s[1], width: s[2])
        case 2: return ImageGeometry(channels: 1, height: s[0], width: s[1])
        default: return nil
        }
    }

    /// The configured augmentation for this data, or nil without one. Geometric transforms
    /// need image-shaped input; the others (noise, brightness, contrast) take any features.
    public func augmentation(for train: Dataset) throws -> Augmentation? {
        let specs = session.config.augment
        guard !specs.isEmpty else { return nil }
        let input = session.inputs.first { $0.name == featureInput }!
        let perExample = train.features.count / max(train.count, 1)
        var geometry = imageGeometry()
        if geometry == nil {
            if let moving = specs.first(where: \.isGeometric) {
                throw TrainError("augment: \(moving.name) moves pixels, so it needs images, but input '\(featureInput)' is \(input.type) "
                                 + "and the data \(train.features); images come as [B, C, H, W] or [B, H, W]")
            }
            geometry = ImageGeometry(channels: 1, height: 1, width: perExample)
        }
        guard let geometry, geometry.count == perExample else {
            throw TrainError("augment: the data \(train.features) has \(perExample) values per example, but input '\(featureInput)' is \(input.type)")
        }
        guard input.type.dtype.isFloat else {
            throw TrainError("augment: input '\(featureInput)' is \(input.type); augmentation makes floating-point features")
        }
        let shape = input.type.shape.dims!.dropFirst().compactMap(\.value)
        return Augmentation(augmenter: ImageAugmenter(specs: specs, geometry: geometry, seed: session.config.seed),
                            source: train.features.toFloats(), exampleShape: shape)
    }

    /// Feeds a batch whose features were made elsewhere (augmented), with the labels of its rows.
    /// `featureRows` are the rows of `features` this step takes (a replica's share of a global batch).
    func feed(_ e: Executor, _ d: Dataset, _ rows: ArraySlice<Int>, features: NDArray, featureRows: Range<Int>) throws {
        do {
            if let i = e.program.inputIndex(named: featureInput) {
                if featureRows.count == features.shape.first { try e.setInput(i, features) } else {
                    try e.setInput(i, rowsOf: features, Array(featureRows)[...])
                }
            }
            if let l = labelInput, let i = e.program.inputIndex(named: l), let labels = d.labels {
                try e.setInput(i, rowsOf: labels, rows)
            }
        } catch {
            throw TrainError("\(error)")
        }
    }
}
