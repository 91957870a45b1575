import DLGKernels
import Foundation

/// The geometry of the images a transform works on: `channels` planes of `height × width`
/// values, stored one plane after the other (NCHW), one image per example.
public struct ImageGeometry: Sendable, Equatable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }
    public var count: Int { channels * height * width }
}

/// An affine map of the image plane in coordinates centred on the image,
/// u = x − (W − 1)/2, v = y − (H − 1)/2 (x to the right, y down), taking a point of the
/// input to where it appears in the output: p ↦ A·p + t.
public struct AffineMap: Sendable, Equatable {
    public var a, b, c, d: Double   // A = [[a, b], [c, d]]
    public var tx, ty: Double

    public static let identity = AffineMap(a: 1, b: 0, c: 0, d: 1, tx: 0, ty: 0)

    public init(a: Double, b: Double, c: Double, d: Double, tx: Double, ty: Double) {
        (self.a, self.b, self.c, self.d, self.tx, self.ty) = (a, b, c, d, tx, ty)
    }

    /// This map followed by `next`.
    public func then(_ next: AffineMap) -> AffineMap {
        AffineMap(a: next.a * a + next.b * c, b: next.a * b + next.b * d,
                  c: next.c * a + next.d * c, d: next.c * b + next.d * d,
                  tx: next.a * tx + next.b * ty + next.tx, ty: next.c * tx + next.d * ty + next.ty)
    }

    /// The inverse map (A is never singular here: flips, rotations and positive scales).
    public var inverse: AffineMap {
        let det = a * d - b * c
        let ia = d / det, ib = -b / det, ic = -c / det, id = a / det
        return AffineMap(a: ia, b: ib, c: ic, d: id, tx: -(ia * tx + ib * ty), ty: -(ic * tx + id * ty))
    }

    public static func translation(dx: Double, dy: Double) -> AffineMap { AffineMap(a: 1, b: 0, c: 0, d: 1, tx: dx, ty: dy) }
    public static func scale(_ s: Double) -> AffineMap { AffineMap(a: s, b: 0, c: 0, d: s, tx: 0, ty: 0) }
    public static func flip(horizontal: Bool, vertical: Bool) -> AffineMap {
        AffineMap(a: horizontal ? -1 : 1, b: 0, c: 0, d: vertical ? -1 : 1, tx: 0, ty: 0)
    }
    /// Counter-clockwise as seen on the screen (y points down): a point to the right of the
    /// centre moves up for 90°.
    public static func rotation(degrees: Double) -> AffineMap {
        let r = degrees * .pi / 180
        // Exact values at multiples of 90°, so that such rotations move whole pixels.
        let quarter = degrees / 90
        let (cs, sn): (Double, Double) = quarter == quarter.rounded()
            ? [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][((Int(quarter) % 4) + 4) % 4]
            : (cos(r), sin(r))
        return AffineMap(a: cs, b: sn, c: -sn, d: cs, tx: 0, ty: 0)
    }
}


/// One example's draw of the transforms: a geometric map and the value changes after it.
public struct ImageTransform: Sendable, Equatable {
    public var map: AffineMap = .identity
    public var fill: AugmentSpec.Fill = .zeros
    /// Brightness deltas, then contrast factors, then noise deviations, in the order listed.
    public var photometric: [Photometric] = []

    public enum Photometric: Sendable, Equatable {
        case add(Double)
        case contrast(Double)
        case noise(std: Double)
    }

    public init(map: AffineMap = .identity, fill: AugmentSpec.Fill = .zeros, photometric: [Photometric] = []) {
        self.map = map
        self.fill = fill
        self.photometric = photometric
    }
}

/// Draws and applies the `augment` transforms to images, one example at a time. Each
/// example's draw comes from its own random stream, seeded by (seed, epoch, example),
/// so a batch is the same whatever threads produce it and however the epoch is cut.
public struct ImageAugmenter: Sendable {
    public var specs: [AugmentSpec]
    public var geometry: ImageGeometry
    public var seed: UInt64

    public init(specs: [AugmentSpec], geometry: ImageGeometry, seed: UInt64) {
        self.specs = specs
        self.geometry = geometry
        self.seed = seed
    }

    /// The random stream of one example in one epoch.
    public func stream(epoch: Int, example: Int) -> RandomStream {
        let key = splitMix64(seed ^ 0x4155_474D_454E_5421) &+ splitMix64(UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        return RandomStream(seed: splitMix64(key ^ UInt64(example)))
    }

    /// One draw of every transform, in the list's order: the geometric ones compose into one
    /// map (sampled once, so the image is interpolated once), the others follow in order.
    public func draw(_ rng: inout RandomStream) -> ImageTransform {
        var t = ImageTransform()
        let w = Double(geometry.width), h = Double(geometry.height)
        for s in specs {
            if let f = s.fill { t.fill = f }
            switch s {
            case .flip(let horizontal, let vertical, let p, _):
                let fh = horizontal && rng.uniform(Double.self) < p
                let fv = vertical && rng.uniform(Double.self) < p
                if fh || fv { t.map = t.map.then(.flip(horizontal: fh, vertical: fv)) }
            case .shift(let fy, let fx, _):
                let dy = fy > 0 ? rng.uniform(-fy * h, fy * h) : 0
                let dx = fx > 0 ? rng.uniform(-fx * w, fx * w) : 0
                t.map = t.map.then(.translation(dx: dx, dy: dy))
            case .zoom(let low, let high, _):
                t.map = t.map.then(.scale(low == high ? low : rng.uniform(low, high)))
            case .rotate(let low, let high, _):
                t.map = t.map.then(.rotation(degrees: low == high ? low : rng.uniform(low, high)))
            case .crop(let pad, _):
                // RandomCrop(padding: p): the crop's corner is uniform over 0…2p in each axis.
                let top = rng.below(2 * pad + 1), left = rng.below(2 * pad + 1)
                t.map = t.map.then(.translation(dx: Double(pad - left), dy: Double(pad - top)))
            case .noise(let std):
                if std > 0 { t.photometric.append(.noise(std: std)) }
            case .brightness(let f):
                if f > 0 { t.photometric.append(.add(rng.uniform(-f, f))) }
            case .contrast(let f):
                if f > 0 { t.photometric.append(.contrast(rng.uniform(1 - f, 1 + f))) }
            }
        }
        return t
    }

    /// Augments one example: reads `geometry.count` values at `input`, writes as many at `output`.
    /// `rng` continues from `draw` (the noise comes from it).
    public func apply(_ t: ImageTransform, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                      rng: inout RandomStream) {
        Self.warp(input, output, geometry, t.map, fill: t.fill)
        let plane = geometry.height * geometry.width
        let n = geometry.count
        for p in t.photometric {
            switch p {
            case .add(let delta):
                let dl = Float(delta)
                for i in 0..<n { output[i] += dl }
            case .contrast(let factor):
                let f = Float(factor)
                for ch in 0..<geometry.channels {
                    let base = output + ch * plane
                    var sum: Float = 0
                    for i in 0..<plane { sum += base[i] }
                    let mean = sum / Float(plane)
                    for i in 0..<plane { base[i] = (base[i] - mean) * f + mean }
                }
            case .noise(let std):
                // Box–Muller, both values of each pair used.
                let s = Float(std)
                var i = 0
                while i < n {
                    let u1 = max(rng.uniform(Float.self), .leastNormalMagnitude), u2 = rng.uniform(Float.self)
                    let r = s * (-2 * log(u1)).squareRoot(), angle = 2 * Float.pi * u2
                    output[i] += r * cos(angle)
                    if i + 1 < n { output[i + 1] += r * sin(angle) }
                    i += 2
                }
            }
        }
    }

    /// Draws and applies the transforms for example `example` of epoch `epoch`.
    public func augment(epoch: Int, example: Int, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        var rng = stream(epoch: epoch, example: example)
        let t = draw(&rng)
        apply(t, input, output, rng: &rng)
    }

    /// Resamples every plane through the inverse of `map` with bilinear interpolation; positions
    /// outside the image take the fill. A map that moves whole pixels (flips, quarter turns,
    /// integer shifts) copies values exactly.
    public static func warp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ g: ImageGeometry,
                            _ map: AffineMap, fill: AugmentSpec.Fill) {
        let plane = g.height * g.width
        if map == .identity {
            output.update(from: input, count: g.count)
            return
        }
        let inv = map.inverse
        let cx = Double(g.width - 1) / 2, cy = Double(g.height - 1) / 2
        let w = g.width, h = g.height, channels = g.channels
        for y in 0..<h {
            let v = Double(y) - cy
            for x in 0..<w {
                let u = Double(x) - cx
                var sx = inv.a * u + inv.b * v + inv.tx + cx
                var sy = inv.c * u + inv.d * v + inv.ty + cy
                // Positions within rounding of a pixel centre are that pixel (exact moves stay exact).
                let rx = sx.rounded(), ry = sy.rounded()
                if abs(sx - rx) < 1e-9 { sx = rx }
                if abs(sy - ry) < 1e-9 { sy = ry }
                let fx = sx.rounded(.down), fy = sy.rounded(.down)
                let x0 = Int(fx), y0 = Int(fy)
                let ax = Float(sx - fx), ay = Float(sy - fy)
                let xs = (index(x0, w, fill), index(x0 + 1, w, fill))
                let ys = (index(y0, h, fill), index(y0 + 1, h, fill))
                let weights = ((1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay)
                let o = y * w + x
                for ch in 0..<channels {
                    let src = input + ch * plane
                    var acc: Float = 0
                    if weights.0 != 0, xs.0 >= 0, ys.0 >= 0 { acc += weights.0 * src[ys.0 * w + xs.0] }
                    if weights.1 != 0, xs.1 >= 0, ys.0 >= 0 { acc += weights.1 * src[ys.0 * w + xs.1] }
                    if weights.2 != 0, xs.0 >= 0, ys.1 >= 0 { acc += weights.2 * src[ys.1 * w + xs.0] }
                    if weights.3 != 0, xs.1 >= 0, ys.1 >= 0 { acc += weights.3 * src[ys.1 * w + xs.1] }
                    output[ch * plane + o] = acc
                }
            }
        }
    }

    /// The pixel a position reads along an axis of `n`: itself inside; outside, −1 (zeros),
    /// the edge (nearest) or the mirror image about the edge, d c b a | a b c d | d c b a (reflect).
    @inline(__always) static func index(_ i: Int, _ n: Int, _ fill: AugmentSpec.Fill) -> Int {
        if i >= 0 && i < n { return i }
        switch fill {
        case .zeros: return -1
        case .nearest: return i < 0 ? 0 : n - 1
        case .reflect:
            let period = 2 * n
            let m = ((i % period) + period) % period
            return m < n ? m : period - 1 - m
        }
    }
}
