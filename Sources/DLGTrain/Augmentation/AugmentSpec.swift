import DLGCompiler

/// One transform of the `augment` setting, in the conventions of Keras's preprocessing
/// layers and torchvision's transforms (training.md, *Augmentation*). Each is drawn anew
/// for every example of every training batch.
public enum AugmentSpec: Sendable, Equatable, CustomStringConvertible {
    /// Mirror left–right and/or top–bottom, each with probability `p` (RandomFlip, RandomHorizontalFlip).
    case flip(horizontal: Bool, vertical: Bool, p: Double, fill: Fill)
    /// Translate by up to these fractions of the height and width, uniformly (RandomTranslation).
    case shift(height: Double, width: Double, fill: Fill)
    /// Scale about the centre by a factor uniform in [low, high]; > 1 enlarges (RandomAffine's scale).
    case zoom(low: Double, high: Double, fill: Fill)
    /// Rotate about the centre by an angle uniform in [low, high] degrees, counter-clockwise positive (RandomRotation).
    case rotate(low: Double, high: Double, fill: Fill)
    /// Pad every side by `pad` pixels, then cut out the original size at a random place (RandomCrop(padding:)).
    case crop(pad: Int, fill: Fill)
    /// Add N(0, std²) to every value (GaussianNoise).
    case noise(std: Double)
    /// Add one δ uniform in [−f, f] to every value of the image (RandomBrightness on [0, 1] values).
    case brightness(Double)
    /// Scale each channel's deviation from its mean by a factor uniform in [1 − f, 1 + f] (RandomContrast).
    case contrast(Double)

    /// What a geometric transform shows where it reaches outside the image.
    public enum Fill: String, Sendable, Equatable, CaseIterable {
        /// Zero (torchvision's fill = 0; the default).
        case zeros
        /// The nearest edge pixel (Keras's "nearest").
        case nearest
        /// The image mirrored about its edge, d c b a | a b c d | d c b a (Keras's "reflect").
        case reflect
    }

    public static let names = ["flip", "shift", "zoom", "rotate", "crop", "noise", "brightness", "contrast"]

    /// Whether the transform moves pixels (and so needs image-shaped data).
    public var isGeometric: Bool {
        switch self {
        case .flip, .shift, .zoom, .rotate, .crop: return true
        case .noise, .brightness, .contrast: return false
        }
    }

    public var fill: Fill? {
        switch self {
        case .flip(_, _, _, let f), .shift(_, _, let f), .zoom(_, _, let f), .rotate(_, _, let f), .crop(_, let f): return f
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .flip: "flip"
        case .shift: "shift"
        case .zoom: "zoom"
        case .rotate: "rotate"
        case .crop: "crop"
        case .noise: "noise"
        case .brightness: "brightness"
        case .contrast: "contrast"
        }
    }

    public var description: String {
        func n(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(v) }
        switch self {
        case .flip(let h, let v, let p, _):
            return "flip(\(h && v ? "horizontal_and_vertical" : h ? "horizontal" : "vertical")\(p == 0.5 ? "" : ", p: \(n(p))"))"
        case .shift(let h, let w, _): return h == w ? "shift(\(n(h)))" : "shift(\(n(h)), \(n(w)))"
        case .zoom(let a, let b, _): return "zoom(\(n(a)), \(n(b)))"
        case .rotate(let a, let b, _): return a == -b ? "rotate(\(n(b)))" : "rotate(\(n(a)), \(n(b)))"
        case .crop(let p, _): return "crop(pad: \(p))"
        case .noise(let s): return "noise(\(n(s)))"
        case .brightness(let f): return "brightness(\(n(f)))"
        case .contrast(let f): return "contrast(\(n(f)))"
        }
    }

    /// Reads `[flip(horizontal), shift(0.1), …]` (or one transform alone); `[]`, `none` and
    /// `false` mean no augmentation. The geometric transforms are applied as one map, so
    /// they must agree on `fill`.
    public static func parseList(_ v: Setting) -> Result<[AugmentSpec], TrainSettingDiagnostic> {
        var out: [AugmentSpec] = []
        for item in listItems(v) {
            switch parse(item) {
            case .success(let a): out.append(a)
            case .failure(let e): return .failure(e)
            }
        }
        let fills = out.compactMap { a in a.fill.map { (a, $0) } }
        if let first = fills.first, let other = fills.first(where: { $0.1 != first.1 }) {
            return .failure(.badTransform(.fillConflict(first: first.0.name, firstFill: first.1.rawValue,
                                                        other: other.0.name, otherFill: other.1.rawValue)))
        }
        return .success(out)
    }

    public static func parse(_ v: Setting) -> Result<AugmentSpec, TrainSettingDiagnostic> {
        guard let c = SettingCall(v) else { return .failure(.expected(.transform, got: v.description)) }
        func fail(_ p: TrainSettingDiagnostic.TransformProblem) -> Result<AugmentSpec, TrainSettingDiagnostic> { .failure(.badTransform(p)) }
        let allowed: [String: [String]] = [
            "flip": ["mode", "p", "fill"], "shift": ["height", "width", "fill"], "zoom": ["low", "high", "fill"],
            "rotate": ["degrees", "low", "high", "fill"], "crop": ["pad", "fill"], "noise": ["std"],
            "brightness": ["factor"], "contrast": ["factor"],
        ]
        guard let names = allowed[c.name] else {
            return .failure(.unknownTransform(name: c.name, known: AugmentSpec.names))
        }
        if let bad = c.unknownNames(names).first {
            return fail(.unknownArgument(transform: c.name, argument: bad, known: names))
        }
        var fill = Fill.zeros
        if let f = c.arg("fill") {
            guard let w = f.text, let m = Fill(rawValue: w == "constant" ? "zeros" : w) else {
                return fail(.fill(got: f.description))
            }
            fill = m
        }
        func number(_ key: String, _ position: Int?) -> Double? { c.arg(key, position)?.number }
        switch c.name {
        case "flip":
            let mode = c.arg("mode", 0)?.text ?? "horizontal_and_vertical"
            let p = number("p", nil) ?? 0.5
            guard (0...1).contains(p) else { return fail(.flipProbability(got: String(p))) }
            switch mode {
            case "horizontal": return .success(.flip(horizontal: true, vertical: false, p: p, fill: fill))
            case "vertical": return .success(.flip(horizontal: false, vertical: true, p: p, fill: fill))
            case "horizontal_and_vertical", "both": return .success(.flip(horizontal: true, vertical: true, p: p, fill: fill))
            default: return fail(.flipMode(got: mode))
            }
        case "shift":
            guard let h = number("height", 0) else { return fail(.shiftMissing) }
            let w = number("width", 1) ?? h
            guard (0..<1).contains(h), (0..<1).contains(w) else {
                return fail(.shiftRange(got: v.description))
            }
            return .success(.shift(height: h, width: w, fill: fill))
        case "zoom":
            guard let a = number("low", 0) else { return fail(.zoomMissing) }
            let (low, high) = number("high", 1).map { (a, $0) } ?? (1 - a, 1 + a)
            guard low > 0, low <= high, high < 100 else {
                return fail(.zoomRange)
            }
            return .success(.zoom(low: low, high: high, fill: fill))
        case "rotate":
            guard let d = number("degrees", 0) ?? number("low", nil) else { return fail(.rotateMissing) }
            let (low, high) = number("high", 1).map { (d, $0) } ?? (-abs(d), abs(d))
            guard low <= high, abs(low) <= 360, abs(high) <= 360 else {
                return fail(.rotateRange)
            }
            return .success(.rotate(low: low, high: high, fill: fill))
        case "crop":
            guard let p = c.arg("pad", 0)?.integer, p >= 1, p <= 1024 else {
                return fail(.cropPad)
            }
            return .success(.crop(pad: p, fill: fill))
        case "noise":
            guard let s = number("std", 0), s >= 0, s.isFinite else { return fail(.noiseStd) }
            return .success(.noise(std: s))
        default:
            guard let f = number("factor", 0), f >= 0, f.isFinite else { return fail(.factor(transform: c.name)) }
            if c.name == "contrast", f > 1 { return fail(.contrastFactor(got: String(f))) }
            return .success(c.name == "brightness" ? .brightness(f) : .contrast(f))
        }
    }
}

/// The `freeze` setting: a pattern or a list of patterns over parameter names.
public enum FreezePatterns {
    public static func parse(_ v: Setting) -> Result<[String], TrainSettingDiagnostic> {
        var out: [String] = []
        for i in listItems(v) {
            guard let t = i.text, !t.isEmpty else {
                return .failure(.expected(.freezePatterns, got: i.description))
            }
            out.append(t)
        }
        return .success(out)
    }
}

/// The items of a setting that takes a list or one item; `none` and `false` are no items.
func listItems(_ v: Setting) -> [Setting] {
    switch v {
    case .list(let l): return l
    case .word("none"), .bool(false): return []
    default: return [v]
    }
}
