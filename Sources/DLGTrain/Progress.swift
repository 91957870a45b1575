import Foundation

/// What a training run reports while it runs.
public protocol ProgressReporter: AnyObject {
    func begin(model: String, epochs: Int, examples: Int, batch: Int, validation: Int)
    func batch(epoch: Int, done: Int, total: Int, loss: Double, accuracy: Double?, samplesPerSecond: Double)
    func epoch(_ r: EpochRecord, epochs: Int)
    func message(_ s: String)
}

/// A live bar on a terminal (redrawn in place), one line per epoch otherwise.
public final class ConsoleProgress: ProgressReporter {
    let live: Bool
    let stream: FileHandle
    var lastDraw = 0.0
    var epochStart = 0.0
    var epochs = 0
    /// Examples of the test part, named in the header line.
    public var testExamples = 0

    public init(live: Bool, stream: FileHandle = .standardError) {
        self.live = live
        self.stream = stream
    }

    func write(_ s: String) { stream.write(s.data(using: .utf8)!) }
    func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    public func begin(model: String, epochs: Int, examples: Int, batch: Int, validation: Int) {
        self.epochs = epochs
        write("training \(model): \(examples) examples" + (validation > 0 ? ", \(validation) held out" : "")
              + (testExamples > 0 ? ", \(testExamples) for testing" : "")
              + ", batch \(batch), \(epochs) epoch\(epochs == 1 ? "" : "s")\n")
        epochStart = now()
    }

    public func batch(epoch: Int, done: Int, total: Int, loss: Double, accuracy: Double?, samplesPerSecond: Double) {
        guard live else { return }
        let t = now()
        if done == 1 { epochStart = t }
        if t - lastDraw < 0.1, done < total { return }
        lastDraw = t
        let width = 24
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let elapsed = t - epochStart
        let eta = done == 0 ? 0 : elapsed / Double(done) * Double(total - done)
        var line = "\r\u{1B}[2Kepoch \(epoch + 1)/\(epochs) \(bar) \(done)/\(total)  loss \(fmt(loss))"
        if let a = accuracy { line += "  acc \(pct(a))" }
        line += "  \(Int(samplesPerSecond)) samples/s  ETA \(clock(eta))"
        write(line)
    }

    public func epoch(_ r: EpochRecord, epochs: Int) {
        // Long runs of tiny epochs (XOR for 5000 epochs) print about 20 lines.
        let every = max(1, epochs / 20)
        if epochs > 50, (r.epoch + 1) % every != 0, r.epoch + 1 != epochs, r.epoch != 0 { return }
        var line = "epoch \(r.epoch + 1)/\(epochs)  loss \(fmt(r.loss))"
        if let p = r.penalty { line += " (penalty \(fmt(p)))" }
        if let a = r.accuracy { line += "  acc \(pct(a))" }
        if let v = r.valLoss { line += "  val_loss \(fmt(v))" }
        if let v = r.valAccuracy { line += "  val_acc \(pct(v))" }
        line += "  lr \(fmt(r.learningRate))  \(Int(r.samplesPerSecond)) samples/s  \(String(format: "%.1f", r.seconds)) s"
        write((live ? "\r\u{1B}[2K" : "") + line + "\n")
    }

    public func message(_ s: String) {
        write((live ? "\r\u{1B}[2K" : "") + s + "\n")
    }

    func fmt(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if abs(v) >= 1e-3 && abs(v) < 1e4 { return String(format: "%.4f", v) }
        return String(format: "%.3e", v)
    }
    func pct(_ v: Double) -> String { String(format: "%.2f%%", v * 100) }
    func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// Reports nothing (library use, tests).
public final class SilentProgress: ProgressReporter {
    public init() {}
    public func begin(model: String, epochs: Int, examples: Int, batch: Int, validation: Int) {}
    public func batch(epoch: Int, done: Int, total: Int, loss: Double, accuracy: Double?, samplesPerSecond: Double) {}
    public func epoch(_ r: EpochRecord, epochs: Int) {}
    public func message(_ s: String) {}
}
