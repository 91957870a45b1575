import Foundation

/// A minimal timing harness: warm-up runs, then timed runs; reports the
/// median and minimum. Figures are compared as ratios against a reference
/// measured in the same run wherever a reference exists.
struct Measurement {
    var name: String
    var samples: [Double]  // seconds
    var median: Double {
        let s = samples.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var min: Double { samples.min() ?? 0 }
}

func measure(_ name: String, warmup: Int = 3, runs: Int = 15, _ body: () -> Void) -> Measurement {
    for _ in 0..<warmup { body() }
    var samples: [Double] = []
    for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
    }
    return Measurement(name: name, samples: samples)
}

func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1e3) }

/// The repository root, from this file's location.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
