import DLGKernels
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Draws the next token from a model's logits, as `dlg generate` does: temperature 0 is greedy
/// decoding (the most likely token, the lowest id on ties); otherwise a draw from
/// softmax(logits / temperature), restricted to the k most likely tokens with a top-k.
/// The draws come from a seeded stream, so a seed gives the same tokens every time.
public struct Sampler: Sendable {
    public let temperature: Double
    public let topK: Int?
    /// Only ids below this are drawn (a vocabulary smaller than the model's logits); nil: all.
    public let limit: Int?
    var random: RandomStream

    public init(temperature: Double = 1, topK: Int? = nil, limit: Int? = nil, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.limit = limit
        random = RandomStream(seed: seed)
    }

    /// The ids that may be drawn: all (below `limit`), or the k with the largest logits
    /// (on ties the lower ids), in id order.
    public func candidates(_ logits: [Double]) -> [Int] {
        let n = min(logits.count, limit ?? logits.count)
        guard let k = topK, k < n else { return Array(0..<n) }
        let ranked = (0..<n).sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        return ranked.prefix(k).sorted()
    }

    /// The probability of each id: softmax(logits / temperature) over the candidates, 0 for
    /// the others; at temperature 0, 1 for the most likely candidate.
    public func probabilities(_ logits: [Double]) -> [Double] {
        var p = [Double](repeating: 0, count: logits.count)
        let ids = candidates(logits)
        guard let top = ids.max(by: { logits[$0] != logits[$1] ? logits[$0] < logits[$1] : $0 > $1 }) else { return p }
        if temperature == 0 {
            p[top] = 1
            return p
        }
        var total = 0.0
        for i in ids {
            p[i] = exp((logits[i] - logits[top]) / temperature)
            total += p[i]
        }
        for i in ids { p[i] /= total }
        return p
    }

    /// The next token. The logits must be finite (`Generation` checks).
    public mutating func next(_ logits: [Double]) -> Int {
        let p = probabilities(logits)
        if temperature == 0 { return p.firstIndex(of: 1) ?? 0 }
        let u = random.uniform(Double.self)
        var sum = 0.0, last = 0
        for (i, q) in p.enumerated() where q > 0 {
            sum += q
            last = i
            if u < sum { return i }
        }
        return last
    }
}

/// Autoregressive generation with a step model: the prompt is fed token by token, then each
/// drawn token is fed back, until `count` tokens are drawn.
public enum Generation {
    /// Wall times of a generation, for `dlg generate --stats`.
    public struct Timing: Sendable {
        /// Feeding the prompt.
        public var prompt: Duration
        /// From the end of the prompt to the last token drawn.
        public var generation: Duration
        /// The CPU time the calling thread spent in each (the steps run on it with one thread):
        /// unlike the wall times, it leaves out the time other processes held the CPU.
        public var promptCPU: Duration
        public var generationCPU: Duration
    }

    /// The calling thread's CPU time so far.
    static func threadCPUTime() -> Duration {
        var ts = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0 else { return .zero }
        return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
    }

    /// Feeds `prompt` (at least one token), then draws `count` tokens, handing each to `emit` as
    /// soon as it is drawn. Fails (before any call) when the sequence would run past the model's
    /// positions, and on an error of a step or logits that are not finite.
    public static func run(_ model: StepModel, prompt: [Int32], count: Int, sampler: inout Sampler,
                           emit: (Int32) -> Void) throws(ExecutionError) -> Timing {
        precondition(!prompt.isEmpty, "a generation starts from at least one token")
        if let limit = model.interface.positionLimit, prompt.count + max(count - 1, 0) > limit {
            throw ExecutionError("the prompt's \(prompt.count) tokens and \(count) more take "
                                 + "\(prompt.count + max(count - 1, 0)) positions; the model takes at most \(limit)")
        }
        let clock = ContinuousClock()
        let start = clock.now, startCPU = threadCPUTime()
        model.reset()
        var logits: [Double] = []
        for t in prompt { logits = try model.step(t) }
        let promptEnd = clock.now, promptEndCPU = threadCPUTime()
        for k in 0..<count {
            guard logits.allSatisfy(\.isFinite) else {
                throw ExecutionError("the logits after token \(model.position - 1) of the sequence are not finite (NaN or infinity)")
            }
            // conversion: an id below the logits' count, which fits a buffer's size
            let token = Int32(sampler.next(logits))
            emit(token)
            if k < count - 1 { logits = try model.step(token) }
        }
        return Timing(prompt: promptEnd - start, generation: clock.now - promptEnd,
                      promptCPU: promptEndCPU - startCPU, generationCPU: threadCPUTime() - promptEndCPU)
    }
}
