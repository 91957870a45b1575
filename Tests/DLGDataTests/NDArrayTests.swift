import Testing
@testable import DLGData

@Suite struct NDArrayTests {
    @Test func elementTypesHaveNamesAndSizes() {
        #expect(ElementType.allCases.map(\.name) == ["f32", "f64", "i32", "i64", "u8"])
        #expect(ElementType.allCases.map(\.byteSize) == [4, 8, 4, 8, 1])
        #expect(ElementType(name: "i64") == .i64)
        #expect(ElementType(name: "f16") == nil)
    }

    @Test func descriptionCountAndRows() throws {
        let a = try NDArray.zeros(.f32, shape: [8000, 784])
        #expect(a.description == "f32[8000, 784]")
        #expect(a.count == 8000 * 784)
        #expect(a.rowCount == 8000)
        #expect(a.rowSize == 784)
        let s = try NDArray([Int32(5)], shape: [])
        #expect(s.description == "i32[]")
        #expect(s.count == 1)
    }

    @Test func initRejectsCountMismatchAndNegativeDims() {
        expectDataError(["f32[2, 3]", "holds 6 elements but 5 values"]) {
            _ = try NDArray([Float](repeating: 0, count: 5), shape: [2, 3])
        }
        expectDataError(["negative dimension -1"]) { _ = try NDArray.zeros(.u8, shape: [2, -1]) }
    }

    @Test func conversions() throws {
        let a = try NDArray([UInt8(0), 7, 255], shape: [3])
        #expect(a.toFloats() == [0, 7, 255])
        #expect(a.toDoubles() == [0, 7, 255])
        #expect(try a.toInt32() == [0, 7, 255])
        let f = NDArray([Float(1.5), 2])
        expectDataError(["element 0 = 1.5 is not an integer"]) { _ = try f.toInt32() }
        let big = NDArray([Int64(1) << 40])
        expectDataError(["element 0 = 1099511627776 does not fit in i32"]) { _ = try big.toInt32() }
        expectDataError(["element 0 = 300.0 does not fit in u8"]) { _ = try NDArray([300.0]).converted(to: .u8) }
        #expect(try NDArray([Double(-3), 4]).converted(to: .i64).values(as: Int64.self) == [-3, 4])
    }

    @Test func reshapeValidatesAndInfers() throws {
        let a = try NDArray((0..<12).map { Float($0) }, shape: [3, 4])
        #expect(try a.reshaped([2, 6]).shape == [2, 6])
        #expect(try a.reshaped([-1, 3]).shape == [4, 3])
        #expect(try a.reshaped([2, -1, 2]).shape == [2, 3, 2])
        expectDataError(["f32[3, 4]", "cannot reshape 12 elements to [5, 2] (10 elements)"]) { _ = try a.reshaped([5, 2]) }
        expectDataError(["at most one dimension may be -1"]) { _ = try a.reshaped([-1, -1]) }
        expectDataError(["cannot reshape 12 elements to [5, -1]"]) { _ = try a.reshaped([5, -1]) }
    }

    @Test func sliceAndGatherRows() throws {
        // 4 rows of 2: row r holds (10r, 10r + 1).
        let a = try NDArray([Int32(0), 1, 10, 11, 20, 21, 30, 31], shape: [4, 2])
        let mid = try a.rows(1..<3)
        #expect(mid.shape == [2, 2])
        #expect(mid.values(as: Int32.self) == [10, 11, 20, 21])
        let g = try a.gatherRows([3, 0, 3])
        #expect(g.shape == [3, 2])
        #expect(g.values(as: Int32.self) == [30, 31, 0, 1, 30, 31])
        expectDataError(["row index 4 (position 1 of the index list) is outside 0..<4"]) { _ = try a.gatherRows([0, 4]) }
        expectDataError(["rows 2..<5 are outside 0..<4"]) { _ = try a.rows(2..<5) }
        #expect(try a.gatherRows([]).shape == [0, 2])
    }

    @Test func permuteTransposesLikeTheDefinition() throws {
        // 2×3×4 with value = 100i + 10j + k; permute axes (2, 0, 1) gives
        // shape [4, 2, 3] with result[k, i, j] = 100i + 10j + k.
        var values = [Int32]()
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { values.append(Int32(100 * i + 10 * j + k)) } } }
        let a = try NDArray(values, shape: [2, 3, 4])
        let p = try a.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        var expected = [Int32]()
        for k in 0..<4 { for i in 0..<2 { for j in 0..<3 { expected.append(Int32(100 * i + 10 * j + k)) } } }
        #expect(p.values(as: Int32.self) == expected)
        expectDataError(["not a permutation"]) { _ = try a.permuted([0, 0, 1]) }
    }

    @Test func concatenateRows() throws {
        let a = try NDArray([Float(1), 2], shape: [1, 2])
        let b = try NDArray([Float(3), 4, 5, 6], shape: [2, 2])
        let c = try NDArray.concatenateRows([a, b])
        #expect(c.shape == [3, 2])
        #expect(c.toFloats() == [1, 2, 3, 4, 5, 6])
        expectDataError(["shape mismatch", "expected [2], found [3]"]) {
            _ = try NDArray.concatenateRows([a, try NDArray.zeros(.f32, shape: [1, 3])])
        }
    }

    @Test func littleEndianBytesRoundTrip() throws {
        // 1.0f is 0x3F800000, stored little-endian as 00 00 80 3F.
        let a = NDArray([Float(1), -2])
        #expect(a.littleEndianBytes() == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        let b = try NDArray(.f32, shape: [2], littleEndianBytes: a.littleEndianBytes())
        #expect(b == a)
        expectDataError(["needs 8 bytes of data, found 7"]) {
            _ = try NDArray(.f32, shape: [2], littleEndianBytes: [0, 0, 0, 0, 0, 0, 0])
        }
    }
}
