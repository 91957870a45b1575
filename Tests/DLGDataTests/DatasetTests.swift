import Testing
@testable import DLGData
import DLGKernels

@Suite struct DatasetTests {
    /// Six samples: features row i = (i, 10i), label i mod 3.
    func sample() throws -> Dataset {
        let x = try NDArray((0..<6).flatMap { [Float($0), Float(10 * $0)] }, shape: [6, 2])
        let y = NDArray((0..<6).map { Int32($0 % 3) })
        return try Dataset(name: "six", features: x, labels: y, classCount: 3)
    }

    @Test func initValidates() throws {
        let x = try NDArray.zeros(.f32, shape: [3, 2])
        expectDataError(["dataset 'd'", "3 feature rows (f32[3, 2]) but 2 labels (i32[2])"]) {
            _ = try Dataset(name: "d", features: x, labels: NDArray([Int32(0), 1]))
        }
        expectDataError(["label 5.0 of sample 1 is not a class index in 0..<3"]) {
            _ = try Dataset(name: "d", features: x, labels: NDArray([Int32(0), 5, 1]), classCount: 3)
        }
    }

    @Test func splitFirstAndLast() throws {
        let d = try sample()
        let (head, rest) = try d.split(first: 2)
        #expect(head.count == 2 && rest.count == 4)
        #expect(head.features.toFloats() == [0, 0, 1, 10])
        #expect(rest.labels?.values(as: Int32.self) == [2, 0, 1, 2])
        let (train, validation) = try d.split(last: 1)
        #expect(train.count == 5)
        #expect(validation.features.toFloats() == [5, 50])
        #expect(validation.classCount == 3)
        expectDataError(["cannot split off 7 of 6 samples"]) { _ = try d.split(first: 7) }
    }

    @Test func subsetAndShuffle() throws {
        let d = try sample()
        let s = try d.subset([4, 1])
        #expect(s.features.toFloats() == [4, 40, 1, 10])
        #expect(s.labels?.values(as: Int32.self) == [1, 1])
        // The shuffle is the subset at RandomStream(seed: 5)'s permutation.
        var rng = RandomStream(seed: 5)
        let p = rng.permutation(6)
        let shuffled = try d.shuffled(seed: 5)
        #expect(shuffled.features.toFloats() == p.flatMap { [Float($0), Float(10 * $0)] })
        #expect(try d.shuffled(seed: 5) == shuffled)
    }

    @Test func filterByLabelAndRelabel() throws {
        let d = try sample()
        let f = try d.filter(classes: [0, 2])
        #expect(f.features.toFloats() == [0, 0, 2, 20, 3, 30, 5, 50])
        #expect(f.labels?.values(as: Int32.self) == [0, 2, 0, 2])
        #expect(f.classCount == 3)
        let r = try d.filter(classes: [2, 1], relabel: true)
        // Samples 1, 2, 4, 5 with labels 1, 2, 1, 2 → 2 maps to 0, 1 to 1.
        #expect(r.features.toFloats() == [1, 10, 2, 20, 4, 40, 5, 50])
        #expect(r.labels?.values(as: Int32.self) == [1, 0, 1, 0])
        #expect(r.classCount == 2)
        expectDataError(["empty dataset: no sample has a label in [7]"]) { _ = try d.filter(classes: [7]) }
        // Float truth-table labels [4, 1] filter too.
        let and = try Synthetic.and().filter(classes: [1])
        #expect(and.features.toFloats() == [1, 1])
    }
}
