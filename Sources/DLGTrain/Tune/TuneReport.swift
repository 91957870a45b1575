import DLGCompiler
import Foundation

/// The tables, the picture and the best configuration of a search.
public struct TuneReport {
    public var search: TuneSearch

    public init(search: TuneSearch) { self.search = search }

    var columns: [String] {
        ["trial"] + search.params.map(\.name) + ["epochs", search.objective.name]
            + ["loss", "val_loss", "accuracy", "val_accuracy"].filter { $0 != search.objective.name } + ["seconds", "status"]
    }

    var widths: [Int] { columns.map { max($0.count, 9) } }

    public func header() -> String {
        zip(columns, widths).map { pad($0, $1) }.joined(separator: "  ")
    }

    public func row(_ r: TrialResult) -> String {
        var cells = [r.job.round > 0 ? "\(r.job.trial).\(r.job.round)" : String(r.job.trial)]
        cells += r.job.config.values.map(\.description)
        cells.append(String(r.epochsTotal))
        cells.append(number(r.metric))
        for k in ["loss", "val_loss", "accuracy", "val_accuracy"] where k != search.objective.name { cells.append(number(r.figures[k])) }
        cells.append(String(format: "%.1f", r.seconds))
        cells.append(r.ok ? "ok" : "failed")
        return zip(cells, widths).map { pad($0, $1) }.joined(separator: "  ")
    }

    func number(_ v: Double?) -> String {
        guard let v else { return "—" }
        if !v.isFinite { return v.isNaN ? "nan" : "inf" }
        return String(format: "%.4f", v)
    }

    func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }

    /// The last round of each configuration: what the search knows of it.
    public func finalResults(_ results: [TrialResult]) -> [TrialResult] {
        var last: [Int: TrialResult] = [:]
        for r in results where (last[r.job.trial]?.job.round ?? -1) < r.job.round { last[r.job.trial] = r }
        return last.values.sorted { search.better($0, $1) }
    }

    /// Every result, best first.
    public func table(_ results: [TrialResult]) -> String {
        ([header()] + results.sorted { search.better($0, $1) }.map(row)).joined(separator: "\n") + "\n"
    }

    /// The best configuration as a `dlg train` command line.
    public func commandLine(_ best: TrialResult, file: String, model: String?, passThrough: [String]) -> String {
        var args = ["dlg", "train", file] + (model.map { ["--model", $0] } ?? [])
        args += passThrough + best.job.config.arguments(search.params)
        if let e = best.job.epochs, search.strategy == .hyperband || search.strategy == .halving, !args.contains("--epochs") {
            args += ["--epochs", String(e)]
        }
        return args.map(Self.shellQuoted).joined(separator: " ")
    }

    static func shellQuoted(_ s: String) -> String {
        let plain = s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:+,@".contains($0) }
        return plain && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The best configuration as source: the model's header with the tuned model parameters as
    /// its defaults, and its train block with the tuned and passed-through settings.
    /// `block` holds the train block's settings as written (name, value text), in order.
    public func trainBlock(_ best: TrialResult, model: String, modelParameters: [(name: String, value: String)],
                           block: [(String, String)], settings: [(String, String)]) -> String {
        var out = ""
        var header = modelParameters
        for (p, v) in zip(search.params, best.job.config.values) where p.target == .model {
            if let i = header.firstIndex(where: { $0.name == p.name }) { header[i].value = v.description }
        }
        if !header.isEmpty {
            out += "model \(model)(" + header.map { "\($0.name) = \($0.value)" }.joined(separator: ", ") + ") { … }\n"
        }
        var lines = block
        func set(_ key: String, _ value: String) {
            if let i = lines.firstIndex(where: { $0.0 == key }) { lines[i].1 = value } else { lines.append((key, value)) }
        }
        for (k, v) in settings { set(k, v) }
        for (p, v) in zip(search.params, best.job.config.values) where p.target != .model {
            if p.name == "lr" {
                set("optimizer", Self.withRate(lines.first { $0.0 == "optimizer" }?.1, v.description))
            } else {
                set(p.name, v.description)
            }
        }
        if let e = best.job.epochs, search.strategy == .hyperband || search.strategy == .halving { set("epochs", String(e)) }
        let width = lines.map(\.0.count).max() ?? 0
        out += "train \(model) {\n"
        for (k, v) in lines { out += "    " + k.padding(toLength: width, withPad: " ", startingAt: 0) + " = " + v + "\n" }
        return out + "}\n"
    }

    /// `adam(lr: 0.001)` with its rate replaced (or `sgd(lr: X)` when there is no optimizer).
    static func withRate(_ optimizer: String?, _ lr: String) -> String {
        guard let optimizer, let v = Setting.parse(optimizer), case .call(let f, let pos, var named) = v else {
            if let optimizer, let v = Setting.parse(optimizer), case .word(let w) = v { return "\(w)(lr: \(lr))" }
            return "sgd(lr: \(lr))"
        }
        let positional = pos.count > 0 && named.allSatisfy { $0.0 != "lr" } ? Array(pos.dropFirst()) : pos
        named.removeAll { $0.0 == "lr" }
        named.insert(("lr", .word(lr)), at: 0)
        return Setting.call(f, positional: positional, named: named).description
    }

    /// An SVG with one panel per parameter: the objective of each configuration's last round
    /// against the parameter's value (a log axis for log-uniform parameters, evenly spaced
    /// categories for words), the best configuration ringed.
    public func svg(_ results: [TrialResult], title: String) -> String {
        let finals = finalResults(results).filter { $0.ok && $0.metric?.isFinite == true }
        let pw = 300.0, ph = 220.0, margin = 50.0
        let n = max(1, search.params.count)
        let width = Double(n) * (pw + margin) + margin, height = ph + 2 * margin + 20
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(Int(margin))\" y=\"18\" font-size=\"14\">\(esc(title)): \(esc(search.objective.name)) of \(finals.count) configurations</text>\n"
        let ys = finals.compactMap(\.metric)
        var lo = ys.min() ?? 0, hi = ys.max() ?? 1
        if hi - lo < 1e-12 { lo -= 0.5; hi += 0.5 }
        let pad = (hi - lo) * 0.08
        lo -= pad
        hi += pad
        let best = finals.first
        for (k, p) in search.params.enumerated() {
            let x0 = margin + Double(k) * (pw + margin), y0 = margin + 10
            s += "<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#888\"/>\n"
            s += "<text x=\"\(x0 + pw / 2)\" y=\"\(y0 + ph + 34)\" text-anchor=\"middle\">\(esc(p.name))\(p.spec.isLogarithmic ? " (log scale)" : "")</text>\n"
            // The x position of each value.
            let values = finals.map { $0.job.config.values[k] }
            let categories: [String]? = values.contains { $0.number == nil } || p.spec.values != nil
                ? (p.spec.values?.map(\.description) ?? Array(Set(values.map(\.description))).sorted()) : nil
            var position: (TuneValue) -> Double
            var ticks: [(Double, String)] = []
            if let categories {
                let step = pw / Double(categories.count)
                position = { v in x0 + step * (Double(categories.firstIndex(of: v.description) ?? 0) + 0.5) }
                ticks = categories.enumerated().map { (x0 + step * (Double($0.offset) + 0.5), $0.element) }
            } else {
                let nums = values.compactMap(\.number)
                let logScale = p.spec.isLogarithmic
                func t(_ x: Double) -> Double { logScale ? log10(x) : x }
                var a: Double, b: Double
                switch p.spec {
                case .logUniform(let l, let h), .uniform(let l, let h): (a, b) = (t(l), t(h))
                default: (a, b) = (t(nums.min() ?? 0), t(nums.max() ?? 1))
                }
                if b - a < 1e-12 { a -= 1; b += 1 }
                let (aa, bb) = (a, b)
                position = { v in x0 + 10 + (pw - 20) * (t(v.number ?? 0) - aa) / (bb - aa) }
                for i in 0...4 {
                    let tv = a + (b - a) * Double(i) / 4
                    let label = logScale ? TuneValue.format(Double(String(format: "%.2g", pow(10, tv)))!) : TuneValue.format(Double(String(format: "%.3g", tv))!)
                    ticks.append((x0 + 10 + (pw - 20) * Double(i) / 4, label))
                }
            }
            for (x, label) in ticks {
                s += "<line x1=\"\(x)\" y1=\"\(y0 + ph)\" x2=\"\(x)\" y2=\"\(y0 + ph + 4)\" stroke=\"#888\"/>"
                s += "<text x=\"\(x)\" y=\"\(y0 + ph + 16)\" text-anchor=\"middle\">\(esc(label))</text>\n"
            }
            for i in 0...4 {
                let v = lo + (hi - lo) * Double(i) / 4, y = y0 + ph - ph * Double(i) / 4
                s += "<line x1=\"\(x0 - 4)\" y1=\"\(y)\" x2=\"\(x0)\" y2=\"\(y)\" stroke=\"#888\"/>"
                s += "<text x=\"\(x0 - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(String(format: "%.3g", v))</text>\n"
            }
            for r in finals {
                let x = position(r.job.config.values[k]), y = y0 + ph - ph * ((r.metric! - lo) / (hi - lo))
                s += "<circle cx=\"\(String(format: "%.1f", x))\" cy=\"\(String(format: "%.1f", y))\" r=\"4\" fill=\"#1f77b4\" fill-opacity=\"0.7\">"
                s += "<title>trial \(r.job.trial): \(number(r.metric))</title></circle>\n"
                if let best, r.job.key == best.job.key {
                    s += "<circle cx=\"\(String(format: "%.1f", x))\" cy=\"\(String(format: "%.1f", y))\" r=\"8\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n"
                }
            }
        }
        return s + "</svg>\n"
    }

    func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
