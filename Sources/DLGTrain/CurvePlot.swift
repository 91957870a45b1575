import Foundation

/// Draws training curves as a standalone SVG: loss on the left, accuracy on
/// the right (when there is one), train and validation series against the
/// epoch, with axes, ticks, grid and a legend. Readable in any browser.
public enum CurvePlot {
    public struct Series {
        public var name: String
        public var color: String
        public var dashed: Bool
        public var points: [(x: Double, y: Double)]
        public init(name: String, color: String, dashed: Bool = false, points: [(x: Double, y: Double)]) {
            self.name = name
            self.color = color
            self.dashed = dashed
            self.points = points
        }
    }

    public struct Panel {
        public var title: String
        public var yLabel: String
        public var series: [Series]
        /// Legend in the lower right (curves that rise) instead of the upper right.
        public var legendBelow: Bool
        public init(title: String, yLabel: String, series: [Series], legendBelow: Bool = false) {
            self.title = title
            self.yLabel = yLabel
            self.series = series
            self.legendBelow = legendBelow
        }
    }

    /// Curves from per-epoch records.
    public static func svg(model: String, history: [EpochRecord]) -> String {
        func pts(_ f: (EpochRecord) -> Double?) -> [(x: Double, y: Double)] {
            history.compactMap { r in f(r).flatMap { $0.isFinite ? (Double(r.epoch + 1), $0) : nil } }
        }
        var panels = [Panel(title: "Loss", yLabel: "loss", series: [
            Series(name: "train", color: "#1f77b4", points: pts { $0.loss }),
            Series(name: "validation", color: "#d62728", dashed: true, points: pts { $0.valLoss }),
        ].filter { !$0.points.isEmpty })]
        let acc = [
            Series(name: "train", color: "#1f77b4", points: pts { $0.accuracy.map { $0 * 100 } }),
            Series(name: "validation", color: "#d62728", dashed: true, points: pts { $0.valAccuracy.map { $0 * 100 } }),
        ].filter { !$0.points.isEmpty }
        if !acc.isEmpty { panels.append(Panel(title: "Accuracy", yLabel: "accuracy (%)", series: acc, legendBelow: true)) }
        return svg(title: "\(model): training curves", panels: panels)
    }

    public static func svg(title: String, panels: [Panel]) -> String {
        let pw = 420.0, ph = 300.0, margin = (l: 62.0, r: 16.0, t: 40.0, b: 46.0)
        let width = Double(panels.count) * (pw + margin.l + margin.r), height = ph + margin.t + margin.b + 24
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="20" text-anchor="middle" font-size="15" font-weight="bold">\(escape(title))</text>

            """
        for (i, p) in panels.enumerated() {
            let ox = Double(i) * (pw + margin.l + margin.r) + margin.l, oy = margin.t
            let xs = p.series.flatMap { $0.points.map(\.x) }, ys = p.series.flatMap { $0.points.map(\.y) }
            guard let xmin0 = xs.min(), let xmax0 = xs.max(), let ymin0 = ys.min(), let ymax0 = ys.max() else { continue }
            let (xmin, xmax) = xmin0 == xmax0 ? (xmin0 - 1, xmax0 + 1) : (xmin0, xmax0)
            let yTicks = niceTicks(ymin0, ymax0 == ymin0 ? ymin0 + 1 : ymax0)
            let (ymin, ymax) = (yTicks.first!, yTicks.last!)
            func X(_ x: Double) -> Double { ox + (x - xmin) / (xmax - xmin) * pw }
            func Y(_ y: Double) -> Double { oy + ph - (y - ymin) / (ymax - ymin) * ph }
            s += "<text x=\"\(f(ox + pw / 2))\" y=\"\(f(oy - 8))\" text-anchor=\"middle\" font-size=\"13\">\(escape(p.title))</text>\n"
            for t in yTicks {
                s += "<line x1=\"\(f(ox))\" y1=\"\(f(Y(t)))\" x2=\"\(f(ox + pw))\" y2=\"\(f(Y(t)))\" stroke=\"#e5e5e5\"/>\n"
                s += "<text x=\"\(f(ox - 6))\" y=\"\(f(Y(t) + 4))\" text-anchor=\"end\">\(label(t))</text>\n"
            }
            for t in niceTicks(xmin, xmax, integers: true) where t >= xmin && t <= xmax {
                s += "<line x1=\"\(f(X(t)))\" y1=\"\(f(oy + ph))\" x2=\"\(f(X(t)))\" y2=\"\(f(oy + ph + 4))\" stroke=\"black\"/>\n"
                s += "<text x=\"\(f(X(t)))\" y=\"\(f(oy + ph + 17))\" text-anchor=\"middle\">\(label(t))</text>\n"
            }
            s += "<rect x=\"\(f(ox))\" y=\"\(f(oy))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"black\"/>\n"
            s += "<text x=\"\(f(ox + pw / 2))\" y=\"\(f(oy + ph + 36))\" text-anchor=\"middle\">epoch</text>\n"
            s += "<text transform=\"translate(\(f(ox - 46)),\(f(oy + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(p.yLabel))</text>\n"
            for (k, series) in p.series.enumerated() {
                let path = series.points.map { "\(f(X($0.x))),\(f(Y($0.y)))" }.joined(separator: " ")
                let dash = series.dashed ? " stroke-dasharray=\"6 4\"" : ""
                s += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(series.color)\" stroke-width=\"2\"\(dash)/>\n"
                if series.points.count <= 60 {
                    for pt in series.points {
                        s += "<circle cx=\"\(f(X(pt.x)))\" cy=\"\(f(Y(pt.y)))\" r=\"2.5\" fill=\"\(series.color)\"/>\n"
                    }
                }
                let ly = p.legendBelow ? oy + ph - 10 - Double(p.series.count - 1 - k) * 16 : oy + 14 + Double(k) * 16
                s += "<line x1=\"\(f(ox + pw - 110))\" y1=\"\(f(ly - 4))\" x2=\"\(f(ox + pw - 86))\" y2=\"\(f(ly - 4))\" stroke=\"\(series.color)\" stroke-width=\"2\"\(dash)/>\n"
                s += "<text x=\"\(f(ox + pw - 80))\" y=\"\(f(ly))\">\(escape(series.name))</text>\n"
            }
        }
        return s + "</svg>\n"
    }

    /// Round tick values covering [lo, hi] (1, 2 or 5 × 10ⁿ steps).
    static func niceTicks(_ lo: Double, _ hi: Double, integers: Bool = false) -> [Double] {
        let span = max(hi - lo, 1e-12)
        let raw = span / 5
        let mag = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        if integers { step = max(1, step.rounded()) }
        let start = floor(lo / step) * step, end = ceil(hi / step) * step
        var ticks: [Double] = []
        var t = start
        while t <= end + step / 2, ticks.count < 40 {
            ticks.append(t)
            t += step
        }
        return ticks.count >= 2 ? ticks : [start, start + step]
    }

    static func label(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e9 { return String(Int(v)) }
        return String(format: abs(v) < 0.01 ? "%.2g" : "%.3g", v)
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// One epoch's figures.
public struct EpochRecord: Sendable, Equatable {
    public var epoch: Int
    public var loss: Double
    public var accuracy: Double?
    public var valLoss: Double?
    public var valAccuracy: Double?
    public var learningRate: Double
    public var seconds: Double
    public var samplesPerSecond: Double
    /// The L1/L2 penalty part of `loss` (its mean over the epoch's steps), when the run has one.
    public var penalty: Double?
    /// With augmentation: the worker's time making the epoch's batches, and the steps' time waiting for them.
    public var augmentSeconds: Double?
    public var augmentWaitSeconds: Double?

    public init(epoch: Int, loss: Double, accuracy: Double?, valLoss: Double?, valAccuracy: Double?,
                learningRate: Double, seconds: Double, samplesPerSecond: Double) {
        self.epoch = epoch
        self.loss = loss
        self.accuracy = accuracy
        self.valLoss = valLoss
        self.valAccuracy = valAccuracy
        self.learningRate = learningRate
        self.seconds = seconds
        self.samplesPerSecond = samplesPerSecond
    }
}
