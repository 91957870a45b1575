import DLGCompiler
import DLGData
import DLGKernels
import DLGSyntax
import DLGTrain
import Foundation
import Testing

/// Each transform against a plain reference written here: flips reverse rows, a shift moves
/// every pixel, a quarter turn is a transpose and a flip, a zoom of a ramp is a ramp.
@Suite("Augmentation")
struct AugmentationTests {
    /// An image whose every value differs: v(c, y, x) = 1 + c·1000 + y·W + x.
    static func image(_ g: ImageGeometry) -> [Float] {
        var out = [Float]()
        for c in 0..<g.channels { for y in 0..<g.height { for x in 0..<g.width { out.append(Float(1 + c * 1000 + y * g.width + x)) } } }
        return out
    }

    static func warp(_ input: [Float], _ g: ImageGeometry, _ map: AffineMap, fill: AugmentSpec.Fill = .zeros) -> [Float] {
        var out = [Float](repeating: .nan, count: g.count)
        input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in ImageAugmenter.warp(i.baseAddress!, o.baseAddress!, g, map, fill: fill) }
        }
        return out
    }

    /// out[c][y][x] = in[c][sy][sx] for the source position `source` gives, 0 outside.
    static func reference(_ input: [Float], _ g: ImageGeometry, _ source: (Int, Int) -> (y: Int, x: Int)) -> [Float] {
        var out = [Float]()
        for c in 0..<g.channels {
            for y in 0..<g.height {
                for x in 0..<g.width {
                    let (sy, sx) = source(y, x)
                    let inside = sy >= 0 && sy < g.height && sx >= 0 && sx < g.width
                    out.append(inside ? input[c * g.height * g.width + sy * g.width + sx] : 0)
                }
            }
        }
        return out
    }

    let g = ImageGeometry(channels: 2, height: 5, width: 7)
    let square = ImageGeometry(channels: 3, height: 6, width: 6)

    @Test func flipsReverseRowsAndColumns() {
        let x = Self.image(g)
        #expect(Self.warp(x, g, .flip(horizontal: true, vertical: false)) == Self.reference(x, g) { ($0, g.width - 1 - $1) })
        #expect(Self.warp(x, g, .flip(horizontal: false, vertical: true)) == Self.reference(x, g) { (g.height - 1 - $0, $1) })
        #expect(Self.warp(x, g, .flip(horizontal: true, vertical: true)) == Self.reference(x, g) { (g.height - 1 - $0, g.width - 1 - $1) })
    }

    @Test func aShiftByOnePixelMovesEveryPixelByOne() {
        let x = Self.image(g)
        // Content moves right by one and up by two: out(y, x) = in(y + 2, x − 1).
        #expect(Self.warp(x, g, .translation(dx: 1, dy: -2)) == Self.reference(x, g) { ($0 + 2, $1 - 1) })
        #expect(Self.warp(x, g, .translation(dx: -3, dy: 0)) == Self.reference(x, g) { ($0, $1 + 3) })
    }

    /// Counter-clockwise by 90°: the transpose flipped top to bottom (NumPy's rot90),
    /// out(y, x) = in(x, W − 1 − y); by −90° the other way; by 180° both flips.
    @Test func aQuarterTurnIsATransposeAndAFlip() {
        let x = Self.image(square), n = square.width
        #expect(Self.warp(x, square, .rotation(degrees: 90)) == Self.reference(x, square) { ($1, n - 1 - $0) })
        #expect(Self.warp(x, square, .rotation(degrees: -90)) == Self.reference(x, square) { (n - 1 - $1, $0) })
        #expect(Self.warp(x, square, .rotation(degrees: 180)) == Self.warp(x, square, .flip(horizontal: true, vertical: true)))
        // 30° three times is 90°, to rounding.
        let thrice = AffineMap.rotation(degrees: 30).then(.rotation(degrees: 30)).then(.rotation(degrees: 30))
        let near = Self.warp(x, square, thrice), exact = Self.warp(x, square, .rotation(degrees: 90))
        #expect(zip(near, exact).allSatisfy { abs($0 - $1) < 1e-3 })
    }

    /// Bilinear interpolation of a linear function is exact: zooming the ramp v = x by s about the
    /// centre gives v = cx + (x − cx)/s wherever the source is inside the image.
    @Test func zoomScalesAboutTheCentre() {
        let g1 = ImageGeometry(channels: 1, height: 9, width: 9)
        let ramp = (0..<81).map { Float($0 % 9) }
        for s in [2.0, 1.25] {
            let out = Self.warp(ramp, g1, .scale(s))
            for y in 0..<9 {
                for xx in 0..<9 {
                    let expected = 4 + (Double(xx) - 4) / s
                    let sy = 4 + (Double(y) - 4) / s
                    guard sy >= 0, sy <= 8 else { continue }
                    #expect(abs(Double(out[y * 9 + xx]) - expected) < 1e-5, "zoom \(s) at (\(y), \(xx)): \(out[y * 9 + xx])")
                }
            }
        }
        // Zooming out by 2 leaves a border of zeros: the corner reads from outside the image.
        #expect(Self.warp(ramp, g1, .scale(0.5))[0] == 0)
    }

    /// Fill modes along an axis of 4 (a b c d): nearest repeats the edge; reflect mirrors about it,
    /// d c b a | a b c d | d c b a.
    @Test func fillModes() {
        let g1 = ImageGeometry(channels: 1, height: 1, width: 4)
        let row: [Float] = [1, 2, 3, 4]
        #expect(Self.warp(row, g1, .translation(dx: 2, dy: 0), fill: .zeros) == [0, 0, 1, 2])
        #expect(Self.warp(row, g1, .translation(dx: 2, dy: 0), fill: .nearest) == [1, 1, 1, 2])
        #expect(Self.warp(row, g1, .translation(dx: 2, dy: 0), fill: .reflect) == [2, 1, 1, 2])
        #expect(Self.warp(row, g1, .translation(dx: -3, dy: 0), fill: .reflect) == [4, 4, 3, 2])
    }

    /// crop(pad: p) is RandomCrop with padding p: every draw moves the image by whole pixels,
    /// at most p each way, and over many draws reaches both extremes.
    @Test func cropMovesByWholePixelsWithinThePadding() {
        let x = Self.image(g)
        let a = ImageAugmenter(specs: [.crop(pad: 2, fill: .zeros)], geometry: g, seed: 3)
        var seen = Set<[Int]>()
        for e in 0..<200 {
            var out = [Float](repeating: 0, count: g.count)
            x.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { a.augment(epoch: 0, example: e, i.baseAddress!, $0.baseAddress!) } }
            let moves = (-2...2).flatMap { dy in (-2...2).map { dx in [dy, dx] } }
            let found = moves.first { m in out == Self.reference(x, g) { ($0 - m[0], $1 - m[1]) } }
            #expect(found != nil, "draw \(e) is not a whole-pixel move within the padding")
            if let found { seen.insert(found) }
        }
        #expect(seen.contains([-2, -2]) || seen.contains([2, 2]) || seen.count >= 20, "\(seen)")
    }

    /// Gaussian noise of deviation 0.5 on 20,000 values: mean within 0.02 of 0, deviation within 0.02 of 0.5.
    @Test func noiseHasTheStatedDeviation() {
        let g1 = ImageGeometry(channels: 1, height: 100, width: 200)
        let a = ImageAugmenter(specs: [.noise(std: 0.5)], geometry: g1, seed: 1)
        let zeros = [Float](repeating: 0, count: g1.count)
        var out = zeros
        zeros.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { a.augment(epoch: 0, example: 0, i.baseAddress!, $0.baseAddress!) } }
        let mean = out.reduce(0) { $0 + Double($1) } / Double(out.count)
        let sd = (out.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(out.count)).squareRoot()
        #expect(abs(mean) < 0.02 && abs(sd - 0.5) < 0.02, "mean \(mean), deviation \(sd)")
    }

    /// Brightness adds one δ to every value; contrast scales each channel's deviation from its mean.
    @Test func brightnessAndContrastFollowTheirFormulas() {
        let x = Self.image(g)
        let a = ImageAugmenter(specs: [.brightness(0.5), .contrast(0.5)], geometry: g, seed: 9)
        var rng = a.stream(epoch: 2, example: 5)
        let t = a.draw(&rng)
        guard case .add(let delta) = t.photometric[0], case .contrast(let factor) = t.photometric[1] else {
            Issue.record("draw: \(t)")
            return
        }
        #expect(abs(delta) <= 0.5 && abs(factor - 1) <= 0.5)
        var out = [Float](repeating: 0, count: g.count)
        x.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { a.augment(epoch: 2, example: 5, i.baseAddress!, $0.baseAddress!) } }
        let plane = g.height * g.width
        for c in 0..<g.channels {
            let shifted = x[(c * plane)..<((c + 1) * plane)].map { Double($0) + delta }
            let mean = shifted.reduce(0, +) / Double(plane)
            for (i, v) in shifted.enumerated() {
                #expect(abs(Double(out[c * plane + i]) - ((v - mean) * factor + mean)) < 1e-3)
            }
        }
    }

    /// The batches an epoch's worker thread makes are the batches made one by one, whatever the
    /// order; each example's draw depends only on (seed, epoch, example), so a batch is the same
    /// at any thread count and however the epoch is cut into batches.
    @Test func batchesDependOnlyOnSeedEpochAndExample() throws {
        let g1 = ImageGeometry(channels: 1, height: 8, width: 8)
        var source = [Float]()
        for e in 0..<20 { source += Self.image(g1).map { $0 + Float(e) } }
        let specs: [AugmentSpec] = [.rotate(low: -20, high: 20, fill: .zeros), .shift(height: 0.2, width: 0.2, fill: .zeros), .noise(std: 0.1)]
        let a = ImageAugmenter(specs: specs, geometry: g1, seed: 42)
        let order = Array((0..<20).reversed())
        let threaded = AugmentedBatches(source: source, augmenter: a, order: order, batch: 6, epoch: 3, shape: [1, 8, 8])
        var fromThread: [Float] = []
        for k in 0..<4 { fromThread += try threaded.take(k).toFloats() }
        threaded.finish()
        let direct = AugmentedBatches(source: source, augmenter: a, order: order, batch: 6, epoch: 3, shape: [1, 8, 8])
        direct.finish()
        var oneByOne: [Float] = []
        for k in 0..<4 { oneByOne += direct.make(k) }
        #expect(fromThread == oneByOne)
        // Cut into batches of 4 instead: the same example gets the same draw.
        let other = AugmentedBatches(source: source, augmenter: a, order: order, batch: 4, epoch: 3, shape: [1, 8, 8])
        var cut: [Float] = []
        for k in 0..<5 { cut += try other.take(k).toFloats() }
        other.finish()
        #expect(cut == oneByOne)
        // Another epoch draws differently.
        let next = AugmentedBatches(source: source, augmenter: a, order: order, batch: 6, epoch: 4, shape: [1, 8, 8])
        next.finish()
        #expect(next.make(0) != direct.make(0))
    }

    /// Training batches are augmented, held-out data is not: with noise of deviation 100 and a
    /// learning rate too small to move the weights, the training loss explodes while the held-out
    /// loss is the one of the same run without augmentation.
    @Test func onlyTrainingBatchesAreAugmented() throws {
        let source = """
            model m {
                input image: f32[B, 1, 4, 4]
                input label: i32[B]
                output logits = dense(flatten(image), 3)
                minimize cross_entropy(logits, label)
            }
            """
        var features = [Float](), labels = [Int32]()
        for i in 0..<24 {
            for j in 0..<16 { features.append(Float((i * 7 + j * 3) % 11) / 10) }
            labels.append(Int32(i % 3))
        }
        let data = try Dataset(name: "d", features: try NDArray(features, shape: [24, 1, 4, 4]), labels: NDArray(labels))
        let (train, held) = try data.split(last: 8)
        func run(_ augment: [AugmentSpec], threads: Int) throws -> EpochRecord {
            var c = TrainConfig()
            c.optimizer.lr = 1e-30
            c.batch = 4
            c.epochs = 1
            c.seed = 5
            c.augment = augment
            let session = try makeSession(source, config: c, threads: threads)
            let r = try Trainer(session: session).run(train: train, validation: held)
            return try #require(r.history.last)
        }
        let plain = try run([], threads: 1)
        let noisy = try run([.noise(std: 100)], threads: 1)
        #expect(noisy.loss > 10 * plain.loss, "training loss \(noisy.loss) against \(plain.loss)")
        #expect(noisy.valLoss == plain.valLoss)
        #expect(noisy.augmentSeconds != nil && plain.augmentSeconds == nil)
        // The same seed gives the same run at 1 and 2 threads (this model's sums do not split).
        let two = try run([.noise(std: 100)], threads: 2)
        #expect(two.loss == noisy.loss && two.valLoss == noisy.valLoss)
        // Geometric transforms too: the batches, hence the training loss, are the same at 1 and 2 threads.
        let moving: [AugmentSpec] = [.rotate(low: -30, high: 30, fill: .zeros), .shift(height: 0.25, width: 0.25, fill: .nearest), .noise(std: 1)]
        let one = try run(moving, threads: 1), both = try run(moving, threads: 2)
        #expect(one.loss == both.loss, "1 thread \(one.loss), 2 threads \(both.loss)")
        #expect(one.loss != plain.loss && one.loss != noisy.loss)
    }

    @Test func settingsReadTheIssuesExampleAndRefuseUnknownTransforms() throws {
        let v = try #require(Setting.parse("[flip(horizontal), shift(0.1), zoom(0.9, 1.1), rotate(15), crop(pad: 4), noise(0.05)]"))
        let specs = try AugmentSpec.parseList(v).get()
        #expect(specs == [.flip(horizontal: true, vertical: false, p: 0.5, fill: .zeros), .shift(height: 0.1, width: 0.1, fill: .zeros),
                          .zoom(low: 0.9, high: 1.1, fill: .zeros), .rotate(low: -15, high: 15, fill: .zeros),
                          .crop(pad: 4, fill: .zeros), .noise(std: 0.05)])
        #expect(specs.map(\.description).joined(separator: ", ")
                == "flip(horizontal), shift(0.1), zoom(0.9, 1.1), rotate(15), crop(pad: 4), noise(0.05)")
        func error(_ text: String) -> String? {
            guard let s = Setting.parse(text) else { return "unreadable" }
            if case .failure(let e) = AugmentSpec.parseList(s) { return e.message }
            return nil
        }
        #expect(error("[blur(3)]")?.contains("unknown transform 'blur'; known: flip, shift, zoom, rotate, crop, noise") == true)
        #expect(error("shift(2)")?.contains("fractions of the height and width") == true)
        #expect(error("[rotate(10, fill: reflect), shift(0.1)]")?.contains("one fill") == true)
        #expect(error("flip(diagonal)")?.contains("horizontal, vertical or horizontal_and_vertical") == true)
        #expect(error("[]") == nil)
    }
}
