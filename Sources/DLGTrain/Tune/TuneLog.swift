import DLGData
import DLGGraph
import Foundation

/// The results log of a search, `DIR/trials.jsonl`: a first line describing the search,
/// then one JSON object per finished trial, appended and flushed as each finishes. A rerun
/// with the same search reads it back and runs only what it does not hold.
public final class TuneLog {
    public let path: String
    let handle: FileHandle

    /// What makes two searches the same: the model file and its text, the parameters and
    /// their specs, the strategy and its seed, the objective and the arguments passed to
    /// every trial. (The trial count and the jobs may change between runs.)
    public static func header(fields: [(String, JSON)]) -> JSON { .object([("dlg_tune", .int(1))] + fields) }

    /// Opens the log, creating it with `header` or checking that the one there matches, and
    /// returns the results it holds.
    public init(path: String, header: JSON, search: TuneSearch) throws {
        self.path = path
        let line = header.serialized(pretty: false)
        var results: [TrialResult] = []
        if FileManager.default.fileExists(atPath: path) {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw TrainError("\(path): cannot be read: \(error.localizedDescription)")
            }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            guard let first = lines.first, Self.sameSearch(String(first), line) else {
                throw TrainError("\(path) holds the results of another search (its first line differs from this search's: "
                                 + "the model file, --param, --strategy, --search-seed, --metric, --factor or the flags passed to the trials); "
                                 + "give another --output or remove it")
            }
            for l in lines.dropFirst() {
                if let r = Self.result(String(l), search: search) { results.append(r) }
            }
            // A line cut off by an interruption is dropped: rewrite the file without it.
            let kept = ([String(first)] + lines.dropFirst().filter { Self.result(String($0), search: search) != nil }.map(String.init))
            if kept.count != lines.count || !text.hasSuffix("\n") {
                try AtomicFile.write(kept.joined(separator: "\n") + "\n", to: path)
            }
        } else {
            try AtomicFile.write(line + "\n", to: path)
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw TrainError("\(path): cannot be opened for writing") }
        handle = h
        do { try h.seekToEnd() } catch { throw TrainError("\(path): \(error.localizedDescription)") }
        self.results = results
    }

    /// The results read back when the log was opened.
    public let results: [TrialResult]

    static func sameSearch(_ a: String, _ b: String) -> Bool {
        guard let x = try? JSONSerialization.jsonObject(with: Data(a.utf8)) as? NSDictionary,
              let y = try? JSONSerialization.jsonObject(with: Data(b.utf8)) as? NSDictionary else { return false }
        return x.isEqual(y)
    }

    /// Appends one finished trial.
    public func append(_ r: TrialResult, search: TuneSearch) throws {
        let line = Self.line(r, search: search) + "\n"
        do {
            try handle.write(contentsOf: Data(line.utf8))
            try handle.synchronize()
        } catch {
            throw TrainError("\(path): cannot append a result: \(error.localizedDescription)")
        }
    }

    public func close() { try? handle.close() }

    static func number(_ v: Double?) -> JSON { v.map { $0.isFinite ? JSON.double($0) : .null } ?? .null }

    static func value(_ v: TuneValue) -> JSON {
        switch v {
        case .int(let i): return .int(i)
        case .number(let x): return .double(x)
        case .text(let t): return .string(t)
        }
    }

    public static func line(_ r: TrialResult, search: TuneSearch) -> String {
        var fields: [(String, JSON)] = [("trial", .int(r.job.trial)), ("round", .int(r.job.round))]
        if let b = r.job.bracket { fields.append(("bracket", .int(b))) }
        fields.append(("params", .object(zip(search.params, r.job.config.values).map { ($0.name, value($1)) })))
        fields.append(("status", .string(r.ok ? "ok" : "failed")))
        fields.append((search.objective.name, number(r.metric)))
        for k in ["loss", "accuracy", "val_loss", "val_accuracy"] where k != search.objective.name {
            if let v = r.figures[k] { fields.append((k, number(v))) }
        }
        if let e = r.bestEpoch { fields.append(("best_epoch", .int(e))) }
        fields += [("epochs", .int(r.epochsTotal)), ("epochs_run", .int(r.epochsRun)), ("seconds", .double(r.seconds))]
        if let e = r.error { fields.append(("error", .string(e))) }
        return JSON.object(fields).serialized(pretty: false)
    }

    /// A result line read back; nil for a line that is not one of this search's trials.
    static func result(_ line: String, search: TuneSearch) -> TrialResult? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let trial = o["trial"] as? Int, let round = o["round"] as? Int, trial >= 0, trial < search.trials,
              let status = o["status"] as? String, let epochs = o["epochs"] as? Int else { return nil }
        let config = search.config(trial)
        let epochTarget: Int? = {
            guard let b = o["bracket"] as? Int, let br = search.brackets.first(where: { $0.s == b }), round < br.epochs.count else { return nil }
            return br.epochs[round]
        }()
        let job = TrialJob(trial: trial, round: round, bracket: o["bracket"] as? Int, config: config, epochs: epochTarget,
                           resumes: round > 0)
        var figures: [String: Double] = [:]
        for k in ["loss", "accuracy", "val_loss", "val_accuracy"] { if let v = o[k] as? Double { figures[k] = v } }
        return TrialResult(job: job, ok: status == "ok", metric: o[search.objective.name] as? Double, bestEpoch: o["best_epoch"] as? Int,
                           figures: figures, epochsRun: o["epochs_run"] as? Int ?? epochs, epochsTotal: epochs,
                           seconds: o["seconds"] as? Double ?? 0, error: o["error"] as? String)
    }

    /// Reads a trial's per-epoch log (`dlg train --log`): the best epoch for the objective
    /// and the figures of that epoch.
    public static func best(log path: String, objective: TuneObjective) -> (metric: Double?, epoch: Int?, figures: [String: Double], epochs: Int) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return (nil, nil, [:], 0) }
        var best: (Double?, Int?, [String: Double]) = (nil, nil, [:])
        var epochs = 0
        for line in text.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let e = o["epoch"] as? Int else { continue }
            epochs = max(epochs, e)
            let v = o[objective.name] as? Double
            if best.1 == nil || objective.better(v, best.0) {
                var f: [String: Double] = [:]
                for k in ["loss", "accuracy", "val_loss", "val_accuracy"] { if let x = o[k] as? Double { f[k] = x } }
                best = (v, e, f)
            }
        }
        return (best.0, best.1, best.2, epochs)
    }
}
