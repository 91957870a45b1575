import Testing
@testable import DLGData
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SyntheticTests {
    @Test func truthTablesAreExact() {
        let inputs: [Float] = [0, 0, 0, 1, 1, 0, 1, 1]
        for (d, y) in [(Synthetic.and(), [Float(0), 0, 0, 1]), (Synthetic.or(), [0, 1, 1, 1]), (Synthetic.xor(), [0, 1, 1, 0])] {
            #expect(d.features.description == "f32[4, 2]")
            #expect(d.labels?.description == "f32[4, 1]")
            #expect(d.features.toFloats() == inputs)
            #expect(d.labels?.toFloats() == y)
        }
    }

    @Test func sineSatisfiesTheFormula() throws {
        let d = try Synthetic.sine(count: 500, seed: 11)
        #expect(d.features.description == "f32[500, 1]")
        #expect(d.labels?.description == "f32[500, 1]")
        let x = d.features.toFloats(), y = d.labels?.toFloats() ?? []
        for (a, b) in zip(x, y) {
            #expect(a >= 0 && a < 1)
            #expect(abs(Double(b) - (1 + sin(2 * Double.pi * Double(a)))) < 1e-6)
        }
        // Uniform on [0, 1): the mean of 500 draws is within 0.05 of 1/2
        // (about 4 standard errors of 0.0129).
        #expect(abs(x.reduce(0, +) / 500 - 0.5) < 0.05)
        #expect(try Synthetic.sine(count: 500, seed: 11) == d)
        #expect(try Synthetic.sine(count: 500, seed: 12) != d)
    }

    @Test func spiralsAreTwoInterleavedHalfTurnedArms() throws {
        let d = try Synthetic.spirals(perClass: 50, noise: 0, seed: 1)
        #expect(d.features.description == "f32[100, 2]")
        #expect(d.labels?.values(as: Int32.self) == [Int32](repeating: 0, count: 50) + [Int32](repeating: 1, count: 50))
        let p = d.features.toFloats()
        for i in 0..<50 {
            // Without noise, point i of class 1 is point i of class 0 negated,
            // at radius t = (i + 0.5) / 50 and angle 3πt.
            #expect(p[2 * (50 + i)] == -p[2 * i])
            #expect(p[2 * (50 + i) + 1] == -p[2 * i + 1])
            let t = (Double(i) + 0.5) / 50
            #expect(abs(Double(p[2 * i]) - t * cos(3 * Double.pi * t)) < 1e-6)
            #expect(abs(Double(p[2 * i + 1]) - t * sin(3 * Double.pi * t)) < 1e-6)
        }
        let noisy = try Synthetic.spirals(perClass: 50, noise: 0.1, seed: 1)
        #expect(noisy != d)
        #expect(try Synthetic.spirals(perClass: 50, noise: 0.1, seed: 1) == noisy)
    }

    @Test func shapesHaveShapeRangeAndEveryClass() throws {
        let d = try Synthetic.shapes(count: 40, seed: 3)
        #expect(d.features.description == "f32[40, 1, 28, 28]")
        #expect(d.labels?.description == "i32[40]")
        #expect(d.classCount == 4)
        let labels = d.labels?.values(as: Int32.self) ?? []
        #expect(Set(labels) == [0, 1, 2, 3])
        let px = d.features.toFloats()
        #expect(px.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Every image has a shape in it: some pixel at least 0.5.
        for i in 0..<40 {
            #expect(px[(i * 784)..<((i + 1) * 784)].max()! >= 0.5)
        }
        #expect(try Synthetic.shapes(count: 40, seed: 3) == d)
        #expect(try Synthetic.shapes(count: 40, seed: 4) != d)
        expectDataError(["count 0 must be positive"]) { _ = try Synthetic.shapes(count: 0, seed: 1) }
    }

    @Test func renderedShapesHaveTheirGeometricAreas() {
        // Total coverage approximates the area in pixels (3×3 supersampling:
        // the error is about perimeter × 1/6 px at most).
        let disc = Synthetic.renderShape(kind: 0, centerX: 14, centerY: 14, size: 6, angle: 0, side: 28)
        let discCoverage: Double = disc.reduce(0, +)
        #expect(abs(discCoverage - Double.pi * 36) < 4)
        #expect(disc[14 * 28 + 14] == 1)
        #expect(disc[0] == 0)
        // Square outline, half-width 6, 2 px wide: 12² − 8² = 80 px; empty centre.
        let square = Synthetic.renderShape(kind: 1, centerX: 14, centerY: 14, size: 6, angle: 0, side: 28)
        #expect(abs(square.reduce(0, +) - 80) < 4)
        #expect(square[14 * 28 + 14] == 0)
        #expect(square[(14 - 5) * 28 + 14] == 1)   // row 9 lies in the top edge band [8, 10)
        // Equilateral triangle with circumradius 6: area (3√3/4)·36 ≈ 46.8.
        let triangle = Synthetic.renderShape(kind: 2, centerX: 14, centerY: 14, size: 6, angle: 0, side: 28)
        let triangleArea: Double = 3 * 3.0.squareRoot() / 4 * 36
        let triangleCoverage: Double = triangle.reduce(0, +)
        #expect(abs(triangleCoverage - triangleArea) < 4)
        #expect(triangle[14 * 28 + 14] == 1)
        // Cross, arm half-length 6, half-width 1.25: 2·(12·2.5) − 2.5² = 53.75.
        let cross = Synthetic.renderShape(kind: 3, centerX: 14, centerY: 14, size: 6, angle: 0, side: 28)
        #expect(abs(cross.reduce(0, +) - 53.75) < 4)
        #expect(cross[(14 - 4) * 28 + (14 - 4)] == 0)
        // Turned by 45° (centre off the sampling lattice, so that the
        // diagonal edges do not line up with it) the outline keeps its area,
        // its centre stays empty, and a corner now points straight up: pixel
        // (14, 6) lies 7–8 px above the centre, inside the edge band that
        // runs from 0.67·6·√2 ≈ 5.7 to 6·√2 ≈ 8.5 px along the diagonal.
        let turned = Synthetic.renderShape(kind: 1, centerX: 14.25, centerY: 13.75, size: 6, angle: .pi / 4, side: 28)
        let turnedCoverage: Double = turned.reduce(0, +)
        #expect(abs(turnedCoverage - 80) < 4)
        #expect(turned[14 * 28 + 14] == 0)
        #expect(turned[6 * 28 + 14] == 1)
    }
}
