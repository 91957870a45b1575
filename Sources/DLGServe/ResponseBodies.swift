import DLGGraph
import Foundation

/// Dynamic JSON keys (input and output names).
struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Flat values written as nested arrays of shape `dims` (a bare number for no dims).
struct NestedValues: Encodable {
    var values: ExampleValues
    var dims: [Int]

    func encode(to encoder: any Encoder) throws {
        var offset = 0
        if dims.isEmpty {
            var c = encoder.singleValueContainer()
            switch values {
            case .f32(let v): try c.encode(v[0])
            case .f64(let v): try c.encode(v[0])
            case .i32(let v): try c.encode(v[0])
            }
            return
        }
        var c = encoder.unkeyedContainer()
        try level(&c, 0, &offset)
    }

    func level(_ c: inout any UnkeyedEncodingContainer, _ d: Int, _ offset: inout Int) throws {
        let n = dims[d]
        if d == dims.count - 1 {
            switch values {
            case .f32(let v): try c.encode(contentsOf: v[offset ..< offset + n])
            case .f64(let v): try c.encode(contentsOf: v[offset ..< offset + n])
            case .i32(let v): try c.encode(contentsOf: v[offset ..< offset + n])
            }
            offset += n
            return
        }
        for _ in 0 ..< n {
            var sub = c.nestedUnkeyedContainer()
            try level(&sub, d + 1, &offset)
        }
    }
}

/// The answer to a predict request:
///
///     {"model": "lenet5", "outputs": {"logits": [[…], …]}, "classes": [7, 2], "probabilities": [0.99, 0.98]}
///
/// for a batch, or for one example sent without a batch axis
///
///     {"model": "lenet5", "outputs": {"logits": […]}, "class": 7, "probability": 0.99}
///
/// with `labels`/`label` when the classes have names.
struct PredictResponse: Encodable {
    var model: ServedModel
    var inputs: PredictInputs
    var outputs: [ExampleValues]

    enum Keys: String, CodingKey {
        case model, outputs, classes, probabilities, labels
        case oneClass = "class", probability, label
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(model.name, forKey: .model)
        var o = c.nestedContainer(keyedBy: NameKey.self, forKey: .outputs)
        for (spec, v) in zip(model.outputs, outputs) {
            let dims = inputs.single ? spec.example : [inputs.rows] + spec.example
            try o.encode(NestedValues(values: v, dims: dims), forKey: NameKey(spec.name))
        }
        guard let classifier = model.classifier else { return }
        let (classes, probabilities) = Self.classify(outputs[classifier.output], classifier, rows: inputs.rows)
        let names = classifier.names.map { n in classes.map { n[$0] } }
        if inputs.single {
            try c.encode(classes[0], forKey: .oneClass)
            try c.encode(probabilities[0], forKey: .probability)
            if let names { try c.encode(names[0], forKey: .label) }
        } else {
            try c.encode(classes, forKey: .classes)
            try c.encode(probabilities, forKey: .probabilities)
            if let names { try c.encode(names, forKey: .labels) }
        }
    }

    /// Each row's class and its probability (see `Classifier.Kind`).
    static func classify(_ values: ExampleValues, _ classifier: Classifier, rows: Int) -> ([Int], [Double]) {
        let v: [Double]
        switch values {
        case .f32(let a): v = a.map(Double.init)
        case .f64(let a): v = a
        case .i32(let a): v = a.map(Double.init)
        }
        let width = classifier.kind == .sigmoid ? 1 : classifier.classes
        var classes: [Int] = [], probabilities: [Double] = []
        for r in 0 ..< rows {
            let row = v[r * width ..< (r + 1) * width]
            switch classifier.kind {
            case .sigmoid:
                let p = row.first!
                classes.append(p >= 0.5 ? 1 : 0)
                probabilities.append(p >= 0.5 ? p : 1 - p)
            case .probabilities, .logits:
                var best = row.startIndex
                for i in row.indices where row[i] > row[best] { best = i }
                classes.append(best - row.startIndex)
                if classifier.kind == .probabilities {
                    probabilities.append(row[best])
                } else {
                    // softmax(z)[best] = 1 / Σ exp(z_j − z_best)
                    probabilities.append(1 / row.reduce(0) { $0 + Foundation.exp($1 - row[best]) })
                }
            }
        }
        return (classes, probabilities)
    }
}

/// `GET /v1/model`.
struct ModelDescription: Encodable {
    var model: ServedModel
    var maxDelayMilliseconds: Double

    struct Tensor: Encodable {
        var spec: TensorSpec
        enum Keys: String, CodingKey { case name, dtype, shape }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(spec.name, forKey: .name)
            try c.encode(spec.dtype.rawValue, forKey: .dtype)
            var s = c.nestedUnkeyedContainer(forKey: .shape)
            for d in spec.shape {
                switch d {
                case .known(let n): try s.encode(n)
                case .symbol(let name): try s.encode(name)
                }
            }
        }
    }

    enum Keys: String, CodingKey {
        case model, source, sha256, inputs, outputs, parameters, classifier, batching
    }
    enum ClassifierKeys: String, CodingKey { case output, kind, classes, classNames = "class_names" }
    enum BatchingKeys: String, CodingKey {
        case maxBatch = "max_batch", buckets, maxDelayMilliseconds = "max_delay_ms", batchInvariant = "batch_invariant"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(model.name, forKey: .model)
        try c.encode(model.path, forKey: .source)
        try c.encode(model.sha256, forKey: .sha256)
        try c.encode(model.inputs.map(Tensor.init), forKey: .inputs)
        try c.encode(model.outputs.map(Tensor.init), forKey: .outputs)
        try c.encode(model.parameterCount, forKey: .parameters)
        if let k = model.classifier {
            var cc = c.nestedContainer(keyedBy: ClassifierKeys.self, forKey: .classifier)
            try cc.encode(model.outputs[k.output].name, forKey: .output)
            try cc.encode(k.kind.rawValue, forKey: .kind)
            try cc.encode(k.classes, forKey: .classes)
            try cc.encode(k.names, forKey: .classNames)
        } else {
            try c.encodeNil(forKey: .classifier)
        }
        var b = c.nestedContainer(keyedBy: BatchingKeys.self, forKey: .batching)
        try b.encode(model.maxBatch, forKey: .maxBatch)
        try b.encode(model.buckets, forKey: .buckets)
        try b.encode(maxDelayMilliseconds, forKey: .maxDelayMilliseconds)
        try b.encode(true, forKey: .batchInvariant)
    }
}

/// `{"error": {"kind": "wrong_shape", "input": "image", "message": "…"}}`.
struct ErrorBody: Encodable {
    var error: RequestError
    enum Keys: String, CodingKey { case error }
    enum ErrorKeys: String, CodingKey { case kind, input, message }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        var e = c.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
        try e.encode(error.kind.rawValue, forKey: .kind)
        try e.encode(error.input, forKey: .input)
        try e.encode(error.message, forKey: .message)
    }
}
