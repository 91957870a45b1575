import DLGData
import Foundation
import Testing

/// The MNIST sample (the 10,000-image test set) through the CLI. Skipped, saying
/// so, where the sample is absent; the training runs need a release binary
/// (DLG_BIN, as `make test` sets it) and are skipped without one.
@Suite("MNIST through the CLI")
struct MNISTTests {
    /// The first `n` images of the sample as a .npy file (u8 [n, 28, 28]).
    static func firstImages(_ n: Int, into dir: Scratch) throws -> String {
        let d = try #require(CLI.mnistDirectory)
        let images = try IDX.read(d + "/t10k-images-idx3-ubyte.gz")
        #expect(images.shape == [10000, 28, 28])
        let path = dir.file("images.npy")
        try NPY.write(try images.rows(0..<n), to: path)
        return path
    }

    @Test(.enabled(if: CLI.mnistDirectory != nil, "the MNIST sample is absent (set DLG_MNIST_DIR to its directory)"))
    func leNetLogitsAgreeAcrossThreadCounts() throws {
        let dir = try Scratch()
        let images = try Self.firstImages(64, into: dir)
        var logits: [[Double]] = []
        for threads in ["1", "2"] {
            let r = try CLI.run(["run", CLI.graph("lenet5.dlg"), "--input", "image=\(images)", "--threads", threads,
                                 "--seed", "3", "--output", "logits\(threads).npy"], in: dir.path)
            expectSuccess(r)
            #expect(r.stderr.contains("logits: f32[64, 10]"))
            let a = try NPY.read(dir.file("logits\(threads).npy"))
            #expect(a.shape == [64, 10])
            logits.append(a.toDoubles())
        }
        #expect(logits[0].allSatisfy { $0.isFinite })
        // Not all alike: the images differ, so do their logits.
        #expect(Set(logits[0]).count > 100)
        let worst = zip(logits[0], logits[1]).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "largest difference between 1 and 2 threads: \(worst)")
    }

    static var trainingEnabled: Bool { CLI.releaseBinary != nil && CLI.mnistDirectory != nil }
    static let trainingSkipReason: Comment = "MNIST training runs need DLG_BIN (a release dlg, as `make test` builds) and the MNIST sample (DLG_MNIST_DIR)"

    /// Trains a model of Graphs/ with its train block and returns the --json summary.
    func train(_ graph: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let dir = try Scratch()
        let r = try CLI.run(["train", CLI.graph(graph), "--json", "--threads", "2"], in: dir.path)
        expectSuccess(r, sourceLocation: sourceLocation)
        return try jsonObject(r, sourceLocation: sourceLocation)
    }

    /// 8,000 images train, the last 2,000 are held out (validation = 2000 in the train blocks).
    @Test(.enabled(if: trainingEnabled, trainingSkipReason))
    func mlpReaches95Percent() throws {
        let j = try train("mnist_mlp.dlg")
        #expect(j["epochs"] as? Int == 10)
        #expect(j["steps"] as? Int == 10 * 63)   // ⌈8000/128⌉ = 63 batches per epoch
        let acc = try #require(j["val_accuracy"] as? Double)
        #expect(acc >= 0.95, "held-out accuracy \(acc)")
    }

    @Test(.enabled(if: trainingEnabled, trainingSkipReason))
    func leNetReaches97Percent() throws {
        let j = try train("lenet5.dlg")
        #expect(j["epochs"] as? Int == 10)
        #expect(j["steps"] as? Int == 10 * 125)   // 8000/64 = 125 batches per epoch
        let acc = try #require(j["val_accuracy"] as? Double)
        #expect(acc >= 0.97, "held-out accuracy \(acc)")
    }

    /// Zeros against ones: one sigmoid unit with binary cross-entropy, and two logits
    /// with softmax cross-entropy; the last 20% of the 2,115 zeros and ones held out.
    @Test(.enabled(if: trainingEnabled, trainingSkipReason), arguments: ["mnist_binary_bce.dlg", "mnist_binary_ce.dlg"])
    func binaryZeroVersusOneReaches99Percent(_ graph: String) throws {
        let j = try train(graph)
        let acc = try #require(j["val_accuracy"] as? Double)
        #expect(acc >= 0.99, "\(graph): held-out accuracy \(acc)")
    }
}
