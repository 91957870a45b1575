import DLGKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Built-in datasets for the classic exercises. Random ones are a pure
/// function of their arguments and `seed` (through `RandomStream`).
public enum Synthetic {
    /// Truth-table inputs in the order (0,0), (0,1), (1,0), (1,1).
    static let truthInputs: [Float] = [0, 0, 0, 1, 1, 0, 1, 1]

    private static func truthTable(_ name: String, _ outputs: [Float]) -> Dataset {
        Dataset(unchecked: name, features: NDArray(unchecked: [4, 2], .f32(truthInputs)),
                labels: NDArray(unchecked: [4, 1], .f32(outputs)), classCount: 2)
    }

    /// Logical AND: features f32 `[4, 2]` = (0,0), (0,1), (1,0), (1,1);
    /// labels f32 `[4, 1]` = 0, 0, 0, 1.
    public static func and() -> Dataset { truthTable("and", [0, 0, 0, 1]) }

    /// Logical OR: the same inputs; labels 0, 1, 1, 1.
    public static func or() -> Dataset { truthTable("or", [0, 1, 1, 1]) }

    /// Exclusive OR: the same inputs; labels 0, 1, 1, 0.
    public static func xor() -> Dataset { truthTable("xor", [0, 1, 1, 0]) }

    /// Sine regression: `count` samples with x uniform in [0, 1) and target
    /// y = 1 + sin(2πx) (computed in Double from the stored f32 x, then
    /// rounded to f32). Features f32 `[count, 1]`, labels f32 `[count, 1]`.
    public static func sine(count: Int, seed: UInt64) throws -> Dataset {
        guard count > 0 else {
            throw DataError(file: "dataset 'sine'", .emptyDataset(detail: "count \(count) must be positive"))
        }
        var rng = RandomStream(seed: seed)
        var xs = [Float](), ys = [Float]()
        xs.reserveCapacity(count)
        ys.reserveCapacity(count)
        for _ in 0..<count {
            let x: Float = rng.uniform()
            xs.append(x)
            ys.append(Float(1 + sin(2 * Double.pi * Double(x))))
        }
        return Dataset(unchecked: "sine", features: NDArray(unchecked: [count, 1], .f32(xs)),
                       labels: NDArray(unchecked: [count, 1], .f32(ys)), classCount: nil)
    }

    /// Two interleaved spirals, `perClass` points each. Point i of class c
    /// (t = (i + 0.5) / perClass) lies at radius t and angle 3πt + cπ, so
    /// class 1 is class 0 turned by half a circle; each coordinate then gets
    /// independent normal noise of standard deviation `noise`. Features f32
    /// `[2·perClass, 2]` (x, y), class 0's points first; labels i32
    /// `[2·perClass]`; `classCount` 2.
    public static func spirals(perClass: Int, noise: Double = 0.05, seed: UInt64) throws -> Dataset {
        guard perClass > 0 else {
            throw DataError(file: "dataset 'spirals'", .emptyDataset(detail: "perClass \(perClass) must be positive"))
        }
        guard noise >= 0, noise.isFinite else {
            throw DataError(file: "dataset 'spirals'", .invalid("noise \(noise) must be a finite non-negative number"))
        }
        var rng = RandomStream(seed: seed)
        var points = [Float](), labels = [Int32]()
        points.reserveCapacity(4 * perClass)
        for c in 0..<2 {
            for i in 0..<perClass {
                let t = (Double(i) + 0.5) / Double(perClass)
                let angle = 3 * Double.pi * t + Double(c) * Double.pi
                let nx: Double = rng.normal(), ny: Double = rng.normal()
                points.append(Float(t * cos(angle) + noise * nx))
                points.append(Float(t * sin(angle) + noise * ny))
                labels.append(Int32(c))
            }
        }
        return Dataset(unchecked: "spirals", features: NDArray(unchecked: [2 * perClass, 2], .f32(points)),
                       labels: NDArray(unchecked: [2 * perClass], .i32(labels)), classCount: 2)
    }

    /// The classes of `shapes`, by label.
    public static let shapeClassNames = ["disc", "square outline", "triangle", "cross"]

    /// Procedurally drawn 28×28 grayscale shapes: label 0 a filled disc,
    /// 1 a square outline (2 px wide), 2 a filled equilateral triangle,
    /// 3 a cross (plus sign, arms 2.5 px wide). Each image has a random
    /// size (half-extent 5–10 px; squares 4.5–8.5 px), rotation (not for the disc), position
    /// (the shape stays inside the frame) and brightness (0.6–1), is
    /// anti-aliased (3×3 samples per pixel), gets additive normal noise of
    /// standard deviation `noise`, and is clamped to [0, 1]. Sample i has
    /// label i mod 4, so every class occurs once `count` ≥ 4. Features f32
    /// `[count, 1, 28, 28]`, labels i32 `[count]`, `classCount` 4.
    public static func shapes(count: Int, seed: UInt64, noise: Double = 0.05) throws -> Dataset {
        guard count > 0 else {
            throw DataError(file: "dataset 'shapes'", .emptyDataset(detail: "count \(count) must be positive"))
        }
        guard noise >= 0, noise.isFinite else {
            throw DataError(file: "dataset 'shapes'", .invalid("noise \(noise) must be a finite non-negative number"))
        }
        var rng = RandomStream(seed: seed)
        let side = 28
        var pixels = [Float]()
        pixels.reserveCapacity(count * side * side)
        var labels = [Int32]()
        labels.reserveCapacity(count)
        for i in 0..<count {
            let kind = i % 4
            // A square's corners reach √2 times its half-width, so squares
            // are drawn a little smaller to leave room to move.
            let size: Double = kind == 1 ? rng.uniform(4.5, 8.5) : rng.uniform(5, 10)
            let angle: Double = rng.uniform(0, 2 * Double.pi)
            // Radius of the circle that holds the shape whatever its rotation.
            let reach = kind == 1 ? size * 2.0.squareRoot() : kind == 3 ? size * 1.03 : size
            let cx: Double = rng.uniform(reach, Double(side) - reach)
            let cy: Double = rng.uniform(reach, Double(side) - reach)
            let brightness: Double = rng.uniform(0.6, 1)
            let image = renderShape(kind: kind, centerX: cx, centerY: cy, size: size, angle: angle, side: side)
            for v in image {
                let noisy = brightness * v + noise * rng.normal(Double.self)
                pixels.append(Float(min(1, max(0, noisy))))
            }
            labels.append(Int32(kind))
        }
        return Dataset(unchecked: "shapes", features: NDArray(unchecked: [count, 1, side, side], .f32(pixels)),
                       labels: NDArray(unchecked: [count], .i32(labels)), classCount: 4)
    }

    /// Coverage in [0, 1] of each pixel of a `side`×`side` image by one
    /// shape (3×3 samples per pixel, row-major, pixel (x, y) covering
    /// [x, x+1) × [y, y+1)). `size` is the disc's radius, the square's and
    /// the cross's half-width and the triangle's circumradius.
    static func renderShape(kind: Int, centerX: Double, centerY: Double, size: Double, angle: Double,
                            side: Int) -> [Double] {
        let c = cos(angle), s = sin(angle)
        let squareInner = 1 - 2 / size
        let armHalf = 1.25 / size
        // Triangle vertices on the unit circle, and its edges as half-planes.
        let vertices = [-Double.pi / 2, Double.pi / 6, 5 * Double.pi / 6].map { (cos($0), sin($0)) }

        func inside(_ u: Double, _ v: Double) -> Bool {
            switch kind {
            case 0:
                return u * u + v * v <= 1
            case 1:
                let m = max(abs(u), abs(v))
                return m <= 1 && m > squareInner
            case 2:
                for k in 0..<3 {
                    let (ax, ay) = vertices[k], (bx, by) = vertices[(k + 1) % 3]
                    // The vertices run clockwise in (u, v) with v down, so the
                    // interior is where the cross product is non-negative.
                    if (bx - ax) * (v - ay) - (by - ay) * (u - ax) < 0 { return false }
                }
                return true
            default:
                return (abs(u) <= armHalf && abs(v) <= 1) || (abs(v) <= armHalf && abs(u) <= 1)
            }
        }

        var image = [Double](repeating: 0, count: side * side)
        let reach = size * 1.5 + 1
        let x0 = max(0, Int(centerX - reach)), x1 = min(side - 1, Int(centerX + reach))
        let y0 = max(0, Int(centerY - reach)), y1 = min(side - 1, Int(centerY + reach))
        guard x0 <= x1, y0 <= y1 else { return image }
        for y in y0...y1 {
            for x in x0...x1 {
                var hits = 0
                for sy in 0..<3 {
                    for sx in 0..<3 {
                        let px = Double(x) + (Double(sx) + 0.5) / 3 - centerX
                        let py = Double(y) + (Double(sy) + 0.5) / 3 - centerY
                        // Rotate by −angle into the shape's frame, unit size.
                        let u = (c * px + s * py) / size
                        let v = (-s * px + c * py) / size
                        if inside(u, v) { hits += 1 }
                    }
                }
                image[y * side + x] = Double(hits) / 9
            }
        }
        return image
    }
}
