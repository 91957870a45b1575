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

/// Times `bodies` in alternation: each sample runs every body once (or
/// `repeats` times, reporting the time per call), in the given order on even
/// samples and in reverse order on odd ones, so that drift of the machine
/// (clock, temperature, other load) and any order effect fall on all of them
/// alike. Returns one measurement per body, with sample `i` of each taken in
/// the same round.
func measureInterleaved(_ names: [String], warmup: Int = 3, runs: Int = 15, repeats: Int = 1,
                        _ bodies: [() -> Void]) -> [Measurement] {
    precondition(names.count == bodies.count, "one name per body")
    for _ in 0..<warmup { for body in bodies { body() } }
    let reps = max(1, repeats)
    var samples = [[Double]](repeating: [], count: bodies.count)
    for round in 0..<runs {
        for j in 0..<bodies.count {
            let b = round % 2 == 0 ? j : bodies.count - 1 - j
            let body = bodies[b]
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<reps { body() }
            samples[b].append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 / Double(reps))
        }
    }
    return zip(names, samples).map { Measurement(name: $0, samples: $1) }
}

/// How many calls of `body` make a sample of at least `target` seconds (at
/// least 1), from the fastest of three timed calls after a warm-up call.
func repeatsFor(target: Double, _ body: () -> Void) -> Int {
    body()
    var best = Double.infinity
    for _ in 0..<3 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = Swift.min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
    }
    return best >= target ? 1 : Swift.max(1, Int((target / Swift.max(best, 1e-9)).rounded(.up)))
}

extension Measurement {
    /// The median over rounds of this measurement's sample divided by the
    /// reference's sample of the same round (both from one `measureInterleaved`):
    /// the drift-free ratio of two interleaved measurements.
    func pairedRatio(to reference: Measurement) -> Double {
        Measurement(name: "", samples: zip(samples, reference.samples).map { $0 / $1 }).median
    }
}
