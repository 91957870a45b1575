import DLGData
import DLGKernels
import DLGRuntime
import Testing

/// A batch-invariant program (what `dlg run` and `dlg serve` execute) gives
/// each example the same outputs, bit for bit, whatever batch it is in and
/// however many threads run it.
@Suite struct BatchInvarianceTests {
    static let lenet = """
        model lenet {
            input image: f32[B, 1, 28, 28]
            c1 = relu(conv2d(image, filters: 6, kernel: 5, pad: 2))
            s2 = maxpool(c1, kernel: 2, stride: 2)
            c3 = relu(conv2d(s2, filters: 16, kernel: 5))
            s4 = avgpool(c3, kernel: 2, stride: 2)
            f5 = tanh(dense(flatten(s4), 120))
            f6 = sigmoid(dense(f5, 84))
            output logits = dense(f6, 10)
            output p = softmax(logits)
        }
        """

    static func outputs(batch: Int, images: [Float], threads: Int) throws -> [String: [Float]] {
        var p = try lowered(Self.lenet, bind: ["B": batch], stage: .planned)
        p.batchInvariant = true
        let x = try NDArray(Array(images[0 ..< batch * 784]), shape: [batch, 1, 28, 28])
        var result: [String: [Float]] = [:]
        for (name, a) in try run(p, ["image": x], seed: 5, threads: threads) {
            guard case .f32(let v) = a.storage else { throw ExecutionError("\(name) is not f32") }
            result[name] = v
        }
        return result
    }

    @Test func everyExampleIsTheSameInAnyBatch() throws {
        var rng = RandomStream(seed: 9)
        let images = (0 ..< 33 * 784).map { _ in rng.uniform(Float(0), Float(1)) }
        let reference = try (0 ..< 33).map { i -> [String: [Float]] in
            try Self.outputs(batch: 1, images: Array(images[i * 784 ..< (i + 1) * 784]), threads: 1)
        }
        for batch in [2, 7, 16, 33] {
            for threads in [1, 2] {
                let got = try Self.outputs(batch: batch, images: images, threads: threads)
                for (name, width) in [("logits", 10), ("p", 10)] {
                    let v = try #require(got[name])
                    for i in 0 ..< batch {
                        let same = Array(v[i * width ..< (i + 1) * width]).map(\.bitPattern) == reference[i][name]!.map(\.bitPattern)
                        #expect(same, "\(name) of example \(i) in a batch of \(batch) on \(threads) threads")
                    }
                }
            }
        }
    }

    /// A bidirectional LSTM over embeddings (an `lstm_scan` per direction, the input projection
    /// folded into the table): each sequence's outputs are the same in any batch.
    static let lstm = """
        model tagger {
            input tokens: i32[B, 12]
            h = lstm(embedding(tokens, vocab: 20, dim: 8), units: 24, bidirectional: true, return_sequences: true)
            output logits = dense(h, 5)
        }
        """

    @Test func everySequenceIsTheSameInAnyBatch() throws {
        var rng = RandomStream(seed: 4)
        let tokens = (0 ..< 19 * 12).map { _ in Int32(rng.below(20)) }
        func logits(_ batch: Int, _ ids: ArraySlice<Int32>, threads: Int) throws -> [Float] {
            var p = try lowered(Self.lstm, bind: ["B": batch], stage: .planned)
            p.batchInvariant = true
            let x = try NDArray(Array(ids), shape: [batch, 12])
            guard case .f32(let v)? = try run(p, ["tokens": x], seed: 5, threads: threads)["logits"]?.storage else {
                throw ExecutionError("no f32 logits")
            }
            return v
        }
        let width = 12 * 5
        let reference = try (0 ..< 19).map { try logits(1, tokens[$0 * 12 ..< ($0 + 1) * 12], threads: 1) }
        for batch in [3, 19] {
            for threads in [1, 2] {
                let v = try logits(batch, tokens[0 ..< batch * 12], threads: threads)
                for i in 0 ..< batch {
                    #expect(v[i * width ..< (i + 1) * width].map(\.bitPattern) == reference[i].map(\.bitPattern),
                            "logits of sequence \(i) in a batch of \(batch) on \(threads) threads")
                }
            }
        }
    }
}
