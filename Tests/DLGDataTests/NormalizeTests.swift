import Testing
@testable import DLGData

@Suite struct NormalizeTests {
    @Test func unitRangeDividesBytesBy255() throws {
        let x = try NDArray([UInt8(0), 51, 255, 102], shape: [2, 2])
        let n = try Normalization.unitRange(fittedOn: x, perFeature: true)
        #expect(n.shift == [0] && n.scale == [255])
        #expect(try n.apply(x).toFloats() == [0, Float(51.0 / 255), 1, Float(102.0 / 255)])
    }

    @Test func unitRangePerFeatureOnFloats() throws {
        // Column minima (1, −4), maxima (3, 4): ranges 2 and 8.
        let x = try NDArray([1.0, -4, 3, 4, 2, 0], shape: [3, 2])
        let n = try Normalization.unitRange(fittedOn: x, perFeature: true)
        #expect(n.shift == [1, -4] && n.scale == [2, 8])
        let y = try n.apply(x)
        #expect(y.elementType == .f64)
        #expect(y.toDoubles() == [0, 0, 1, 1, 0.5, 0.5])
    }

    @Test func standardizeGlobalAndPerFeature() throws {
        // 1, 2, 3, 4: mean 2.5, population variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
        let x = try NDArray([Float(1), 2, 3, 4], shape: [2, 2])
        let g = try Normalization.standardize(fittedOn: x)
        #expect(g.shift == [2.5])
        #expect(abs(g.scale[0] - 1.25.squareRoot()) < 1e-12)
        // Columns (1, 3) and (10, 30): means 2 and 20, deviations 1 and 10.
        let z = try NDArray([Float(1), 10, 3, 30], shape: [2, 2])
        let p = try Normalization.standardize(fittedOn: z, perFeature: true)
        #expect(p.shift == [2, 20] && p.scale == [1, 10])
        #expect(try p.apply(z).toFloats() == [-1, -1, 1, 1])
        // Statistics from one set applied to another.
        let other = try NDArray([Float(4), 0], shape: [1, 2])
        #expect(try p.apply(other).toFloats() == [2, -2])
        let d = try Dataset(name: "o", features: other, labels: NDArray([Int32(1)]))
        #expect(try p.apply(to: d).features.toFloats() == [2, -2])
        // A constant feature gets scale 1.
        let c = try Normalization.standardize(fittedOn: try NDArray([Float(5), 5], shape: [2, 1]), perFeature: true)
        #expect(c.scale == [1])
    }

    @Test func errors() throws {
        let p = try Normalization.standardize(fittedOn: try NDArray.zeros(.f32, shape: [2, 3]), perFeature: true)
        expectDataError(["shape mismatch for features per sample", "expected [3], found [2]"]) {
            _ = try p.apply(try NDArray.zeros(.f32, shape: [4, 2]))
        }
        expectDataError(["empty dataset"]) { _ = try Normalization.standardize(fittedOn: try NDArray.zeros(.f32, shape: [0, 3])) }
    }
}
