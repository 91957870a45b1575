import Testing
@testable import DLGData
#if canImport(Glibc)
import Glibc
#endif

/// The directory holding the real MNIST test set, from DLG_MNIST_DIR or the
/// shared development location; nil when neither has the files.
let mnistDirectory: String? = {
    var candidates = ["/work/shared/data/mnist"]
    if let env = getenv("DLG_MNIST_DIR") { candidates.insert(String(cString: env), at: 0) }
    return candidates.first { (try? MNIST.files(in: $0, split: .test)) != nil }
}()

@Suite struct MNISTTests {
    @Test func loadsASmallHandWrittenDirectory() throws {
        let dir = TemporaryDirectory()
        // Two 2×3 images; labels 4 and 9.
        let images = try NDArray([UInt8(0), 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 255], shape: [2, 2, 3])
        try IDX.write(images, to: dir.file("t10k-images-idx3-ubyte.gz"), gzip: true)
        try IDX.write(NDArray([UInt8(4), 9]), to: dir.file("t10k-labels-idx1-ubyte"))
        let d = try MNIST.load(directory: dir.path, split: .test)
        #expect(d.name == "mnist-t10k")
        #expect(d.features.description == "f32[2, 1, 2, 3]")
        #expect(d.features.toFloats() == [0, 0.2, 0.4, 0.6, 0.8, 1, 1, 0, 0, 0, 0, 1])
        #expect(d.labels?.values(as: Int32.self) == [4, 9])
        #expect(d.classCount == 10)
    }

    @Test func missingFilesAreListed() {
        let dir = TemporaryDirectory()
        expectDataError(["cannot find the MNIST train images", "train-images-idx3-ubyte.gz"]) {
            _ = try MNIST.load(directory: dir.path, split: .train)
        }
    }

    @Test func mismatchedCountsAreAnError() throws {
        let dir = TemporaryDirectory()
        try IDX.write(try NDArray.zeros(.u8, shape: [3, 28, 28]), to: dir.file("train-images-idx3-ubyte"))
        try IDX.write(NDArray([UInt8(1), 2]), to: dir.file("train-labels-idx1-ubyte"))
        expectDataError(["shape mismatch for the label count", "expected [3], found [2]"]) {
            _ = try MNIST.load(directory: dir.path, split: .train)
        }
    }

    /// The real 10,000-image test set. Skipped (not failed) where the data
    /// is absent: set DLG_MNIST_DIR or provide /work/shared/data/mnist.
    @Test(.enabled(if: mnistDirectory != nil, "MNIST test set not found (set DLG_MNIST_DIR or provide /work/shared/data/mnist)"))
    func realTestSet() throws {
        let d = try MNIST.load(directory: try #require(mnistDirectory), split: .test)
        #expect(d.features.description == "f32[10000, 1, 28, 28]")
        #expect(d.count == 10_000)
        let labels = try #require(d.labels?.values(as: Int32.self))
        // The first test image is the well-known 7; the published class
        // counts of the test set are 980, 1135, 1032, 1010, 982, 892, 958,
        // 1028, 974, 1009.
        #expect(labels[0] == 7)
        var counts = [Int](repeating: 0, count: 10)
        for l in labels { counts[Int(l)] += 1 }
        #expect(counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        let first = try d.features.rows(0..<1).toFloats()
        #expect(first.count == 784)
        #expect(first.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(first.max() == 1)    // MNIST digits reach full intensity 255
    }
}
