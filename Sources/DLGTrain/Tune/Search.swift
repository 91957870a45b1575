import DLGCompiler
import Foundation

/// How `dlg tune` chooses its trials.
public enum TuneStrategy: String, Sendable, CaseIterable {
    /// Every combination of the lists and ranges, in order (the first parameter slowest).
    case grid
    /// `--trials` configurations drawn at random.
    case random
    /// Li et al.'s Hyperband: brackets of successive halving, from many configurations
    /// trained briefly to a few trained for the full epochs (Keras Tuner's Hyperband).
    case hyperband
    /// One bracket of successive halving: `--trials` configurations, the best 1/η of each
    /// round trained η times longer, until one remains at the full epochs.
    case halving
}

/// One run of `dlg train` in a search: a configuration trained to a number of epochs.
public struct TrialJob: Sendable, Hashable {
    /// The configuration's number (shown as the trial).
    public var trial: Int
    /// The round of successive halving (0 for grid and random search).
    public var round: Int
    /// The Hyperband bracket, when there are brackets.
    public var bracket: Int?
    public var config: TuneConfig
    /// Epochs to have trained in all at the end of this job; nil: the configured epochs.
    public var epochs: Int?
    /// Continue from the trial's checkpoint of its previous round.
    public var resumes: Bool

    public var key: TrialKey { TrialKey(trial: trial, round: round) }
}

public struct TrialKey: Sendable, Hashable, Comparable {
    public var trial: Int
    public var round: Int
    public init(trial: Int, round: Int) {
        self.trial = trial
        self.round = round
    }
    public static func < (a: TrialKey, b: TrialKey) -> Bool { (a.trial, a.round) < (b.trial, b.round) }
}

/// What a trial gave: the objective's best value over its epochs and the figures of that epoch.
public struct TrialResult: Sendable {
    public var job: TrialJob
    public var ok: Bool
    /// The objective at the trial's best epoch (nil when it failed or never had one).
    public var metric: Double?
    public var bestEpoch: Int?
    /// loss, accuracy, val_loss, val_accuracy at the best epoch.
    public var figures: [String: Double]
    /// Epochs this job trained (after a resume, only the new ones), and in all.
    public var epochsRun: Int
    public var epochsTotal: Int
    public var seconds: Double
    public var error: String?

    public init(job: TrialJob, ok: Bool, metric: Double?, bestEpoch: Int?, figures: [String: Double], epochsRun: Int,
                epochsTotal: Int, seconds: Double, error: String?) {
        self.job = job
        self.ok = ok
        self.metric = metric
        self.bestEpoch = bestEpoch
        self.figures = figures
        self.epochsRun = epochsRun
        self.epochsTotal = epochsTotal
        self.seconds = seconds
        self.error = error
    }
}

/// The objective of a search.
public struct TuneObjective: Sendable, Equatable {
    /// `loss`, `accuracy`, `val_loss` or `val_accuracy`.
    public var name: String
    public init(_ name: String) { self.name = name }
    public var maximized: Bool { name.hasSuffix("accuracy") }
    /// Whether `a` is better than `b`; a missing value is worse than any.
    public func better(_ a: Double?, _ b: Double?) -> Bool {
        guard let a, a.isFinite else { return false }
        guard let b, b.isFinite else { return true }
        return maximized ? a > b : a < b
    }
}

/// The plan of a search: which jobs can run, given the ones finished.
public struct TuneSearch: Sendable {
    public var strategy: TuneStrategy
    public var params: [TunedParameter]
    public var objective: TuneObjective
    /// Configurations for grid and random search, configurations of the bracket for halving.
    public var trials: Int
    public var seed: UInt64
    /// Hyperband's R: the epochs of a full trial.
    public var maxEpochs: Int
    /// Hyperband's η: each round keeps 1/η of the configurations and trains them η times longer.
    public var factor: Int

    /// A bracket of successive halving: trials `first ..< first + n`, rounds with the counts
    /// and total epochs of each.
    public struct Bracket: Sendable, Equatable {
        public var s: Int
        public var first: Int
        public var counts: [Int]
        public var epochs: [Int]
    }

    public let grid: [TuneConfig]
    public let brackets: [Bracket]

    public init(strategy: TuneStrategy, params: [TunedParameter], objective: TuneObjective, trials: Int?, seed: UInt64,
                maxEpochs: Int, factor: Int) throws {
        self.strategy = strategy
        self.params = params
        self.objective = objective
        self.seed = seed
        self.maxEpochs = maxEpochs
        self.factor = factor
        guard factor >= 2 else { throw TuneError("--factor must be at least 2") }
        switch strategy {
        case .grid:
            let all = try TuneConfig.grid(params)
            grid = trials.map { Array(all.prefix($0)) } ?? all
            self.trials = grid.count
            brackets = []
        case .random:
            grid = []
            self.trials = trials ?? 10
            brackets = []
        case .hyperband, .halving:
            grid = []
            let sMax = Self.rounds(maxEpochs, factor)
            var list: [Bracket] = []
            var first = 0
            let budget = Double((sMax + 1) * maxEpochs)
            for s in stride(from: sMax, through: strategy == .halving ? sMax : 0, by: -1) {
                // Li et al. (2018), Algorithm 1: n = ⌈B/R · ηˢ/(s + 1)⌉ configurations for r = R·η⁻ˢ epochs.
                let n = strategy == .halving ? (trials ?? Self.power(factor, s))
                    : Int((budget / Double(maxEpochs) * Double(Self.power(factor, s)) / Double(s + 1)).rounded(.up))
                var counts: [Int] = [], epochs: [Int] = []
                for i in 0...s {
                    counts.append(max(1, n / Self.power(factor, i)))
                    epochs.append(max(1, Int((Double(maxEpochs) * pow(Double(factor), Double(i - s))).rounded())))
                }
                // A round that would keep as many as the one before, or train no longer, adds nothing.
                var kept = 1
                while kept < counts.count, counts[kept] < counts[kept - 1], epochs[kept] > epochs[kept - 1] { kept += 1 }
                list.append(Bracket(s: s, first: first, counts: Array(counts.prefix(kept)), epochs: Array(epochs.prefix(kept))))
                first += n
            }
            brackets = list
            self.trials = first
        }
    }

    /// The largest s with ηˢ ≤ R.
    static func rounds(_ r: Int, _ eta: Int) -> Int {
        var s = 0
        while power(eta, s + 1) <= r { s += 1 }
        return s
    }

    static func power(_ b: Int, _ e: Int) -> Int { (0..<max(0, e)).reduce(1) { p, _ in p * b } }

    public func config(_ trial: Int) -> TuneConfig {
        strategy == .grid ? grid[trial] : TuneConfig.random(params, seed: seed, index: trial)
    }

    /// Every job that can run now: not finished, not running, and (in successive halving)
    /// promoted by the finished round before it.
    public func ready(finished: [TrialKey: TrialResult], running: Set<TrialKey>) -> [TrialJob] {
        var out: [TrialJob] = []
        func add(_ j: TrialJob) {
            if finished[j.key] == nil, !running.contains(j.key) { out.append(j) }
        }
        switch strategy {
        case .grid, .random:
            for t in 0..<trials { add(TrialJob(trial: t, round: 0, bracket: nil, config: config(t), epochs: nil, resumes: false)) }
        case .hyperband, .halving:
            for b in brackets {
                var alive = Array(b.first..<(b.first + b.counts[0]))
                for (i, epochs) in b.epochs.enumerated() {
                    if i > 0 {
                        // Promote the best of the previous round once all of it has finished.
                        let previous = alive.map { finished[TrialKey(trial: $0, round: i - 1)] }
                        guard previous.allSatisfy({ $0 != nil }) else { break }
                        let ranked = previous.compactMap { $0 }.sorted { better($0, $1) }
                        alive = ranked.prefix(b.counts[i]).filter(\.ok).map(\.job.trial)
                    }
                    for t in alive {
                        add(TrialJob(trial: t, round: i, bracket: b.s, config: config(t), epochs: epochs, resumes: i > 0))
                    }
                }
            }
        }
        return out
    }

    /// Orders results best first: by the objective, failed trials last, then by trial and round.
    public func better(_ a: TrialResult, _ b: TrialResult) -> Bool {
        if a.ok != b.ok { return a.ok }
        if objective.better(a.metric, b.metric) { return true }
        if objective.better(b.metric, a.metric) { return false }
        return a.job.key < b.job.key
    }

    /// The epochs a full trial of every configuration would take: what the search saves against.
    public var fullTrialEpochs: Int { trials * maxEpochs }
}
