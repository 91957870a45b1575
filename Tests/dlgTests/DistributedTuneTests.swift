import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `mpirun -np N dlg tune`: the trials spread over the ranks, each a single-process `dlg train`;
/// rank 0 alone prints and records. The search's results are the single process's.
@Suite("dlg tune under mpirun", .serialized)
struct DistributedTuneTests {
    /// TuneTests' model: two model parameters, spirals, three epochs.
    static let model = TuneTests.model

    func records(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], sourceLocation: sourceLocation)
        }
    }

    /// A results log's trials by (trial, round), every field but the time they took.
    func trials(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: NSDictionary] {
        var out: [String: NSDictionary] = [:]
        for r in try records(path, sourceLocation: sourceLocation).dropFirst() {
            var fields = r
            fields["seconds"] = nil
            out["\(r["trial"] ?? "?")/\(r["round"] ?? "?")"] = fields as NSDictionary
        }
        return out
    }

    /// The final table without its seconds column.
    func finalTable(_ stdout: String) -> [String] {
        let parts = stdout.components(separatedBy: "all trials, best first:\n")
        guard parts.count == 2 else { return [] }
        return parts[1].split(separator: "\n").prefix { !$0.hasPrefix("epochs trained") }.map { line in
            var cells = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if cells.count > 2 { cells.remove(at: cells.count - 2) }
            return cells.joined(separator: " ")
        }
    }

    func expectSameSearch(_ one: CLI.Result, _ oneDir: String, _ many: MPI.Result, _ manyDir: String, np: Int,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        expectSuccess(one, sourceLocation: sourceLocation)
        #expect(many.status == 0 && !many.timedOut, "mpirun: \(many.status)\n\(many.stderr)", sourceLocation: sourceLocation)
        let (a, b) = (try trials(oneDir + "/trials.jsonl"), try trials(manyDir + "/trials.jsonl"))
        #expect(!a.isEmpty && Set(a.keys) == Set(b.keys), "\(a.keys.sorted()) against \(b.keys.sorted())", sourceLocation: sourceLocation)
        for (k, v) in a {
            #expect(b[k] == v, "trial \(k): \(b[k].map { "\($0)" } ?? "missing") over \(np) against \(v)", sourceLocation: sourceLocation)
        }
        // The figures are real: every trial has a finite objective.
        #expect(a.values.allSatisfy { ($0["val_loss"] as? Double)?.isFinite == true }, sourceLocation: sourceLocation)
        // Rank 0 alone prints: one table, one best configuration, the same as the single process's.
        #expect(many.stdout.components(separatedBy: "all trials, best first:").count == 2, "\(many.stdout)", sourceLocation: sourceLocation)
        #expect(finalTable(many.stdout) == finalTable(one.stdout), "\(many.stdout)\nagainst\n\(one.stdout)", sourceLocation: sourceLocation)
        let (bestOne, bestMany) = (try String(contentsOfFile: oneDir + "/best.txt", encoding: .utf8),
                                   try String(contentsOfFile: manyDir + "/best.txt", encoding: .utf8))
        #expect(bestMany == bestOne, sourceLocation: sourceLocation)
        #expect(many.stderr.contains(", \(np) processes × 1 job × 1 thread"), "\(many.stderr)", sourceLocation: sourceLocation)
    }

    /// The ranks that ran trials, from rank 0's "trial N (rank R): …" lines.
    func ranksUsed(_ stderr: String) -> Set<Int> {
        Set(stderr.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("trial "), let r = line.range(of: " (rank ") else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        })
    }

    /// Random search: 5 configurations over 2 or 3 ranks give the single process's 5 trials, figure
    /// for figure; a search of 3 continued to 5 under mpirun runs only the 2 new ones.
    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason), arguments: [2, 3])
    func randomSearchOverRanksMatchesOneProcessAndResumes(np: Int) throws {
        let dir = try Scratch()
        try dir.write("t.dlg", Self.model)
        let search = ["tune", "t.dlg", "--param", "width=4,8,16", "--param", "depth=1..2", "--param", "lr=log(1e-3,1e-1)",
                      "--threads", "1"]
        let one = try CLI.run(search + ["--trials", "5", "--jobs", "2", "-o", "one"], in: dir.path)
        let first = try MPI.run(np: np, search + ["--trials", "3", "-o", "many"], in: dir.path, timeout: 240)
        #expect(first.status == 0 && !first.timedOut, "\(first.stderr)")
        #expect(try records(dir.file("many/trials.jsonl")).count == 4)
        #expect(ranksUsed(first.stderr) == Set(0..<np), "\(first.stderr)")
        let many = try MPI.run(np: np, search + ["--trials", "5", "-o", "many"], in: dir.path, timeout: 240)
        #expect(many.stderr.contains("3 finished trials read from many/trials.jsonl"), "\(many.stderr)")
        let started = many.stderr.split(separator: "\n").filter { $0.hasPrefix("trial ") && $0.contains("): --") }
            .compactMap { Int($0.dropFirst(6).prefix { $0.isNumber }) }
        #expect(started.sorted() == [3, 4], "\(many.stderr)")
        try expectSameSearch(one, dir.file("one"), many, dir.file("many"), np: np)
    }

    /// Hyperband over ranks: the rounds wait for the round before (the promoted configurations are
    /// the single process's) and continue from its checkpoints.
    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason), arguments: [2, 3])
    func hyperbandOverRanksMatchesOneProcess(np: Int) throws {
        let dir = try Scratch()
        try dir.write("t.dlg", Self.model)
        let search = ["tune", "t.dlg", "--param", "width=4,8,16", "--param", "lr=log(1e-3,1e-1)", "--strategy", "hyperband",
                      "--threads", "1"]
        let one = try CLI.run(search + ["--jobs", "2", "-o", "one"], in: dir.path)
        let many = try MPI.run(np: np, search + ["-o", "many"], in: dir.path, timeout: 240)
        try expectSameSearch(one, dir.file("one"), many, dir.file("many"), np: np)
        #expect(many.stdout.contains("epochs trained: 11 in all (full trials of the 5 configurations would take 15)"), "\(many.stdout)")
        // The promoted configuration continued from its checkpoint of the round before (whichever
        // rank wrote it): one log of epochs 1…3, two of them trained in its second round.
        let results = try records(dir.file("many/trials.jsonl")).dropFirst()
        let promoted = try #require(results.first { $0["round"] as? Int == 1 })
        #expect(promoted["epochs"] as? Int == 3 && promoted["epochs_run"] as? Int == 2)
        let trial = try #require(promoted["trial"] as? Int)
        let epochs = try records(dir.file(String(format: "many/trial-%03d/log.jsonl", trial))).compactMap { $0["epoch"] as? Int }
        #expect(epochs == [1, 2, 3])
        #expect(ranksUsed(many.stderr) == Set(0..<np), "\(many.stderr)")
    }

    /// The processes whose parent is `parent`.
    func children(of parent: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { e -> Int32? in
            guard let pid = Int32(e), let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent ? pid : nil
        }
    }

    /// The processes whose command line mentions `text`.
    func processes(mentioning text: String) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { e -> Int32? in
            guard let pid = Int32(e), let c = FileManager.default.contents(atPath: "/proc/\(e)/cmdline") else { return nil }
            return String(decoding: c, as: UTF8.self).contains(text) ? pid : nil
        }
    }

    /// A trial killed on rank 1 ends the whole job: mpirun exits non-zero within 30 s, rank 1 is
    /// named, and no trial of any rank is left running.
    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason))
    func aTrialKilledOnARankEndsTheJobNamingTheRank() throws {
        let dir = try Scratch()
        try dir.write("t.dlg", Self.model)
        var killedAt: Date?
        let r = try MPI.run(np: 2, ["tune", "t.dlg", "--strategy", "grid", "--param", "epochs=100000", "--param", "width=4,8,16",
                                    "--threads", "1", "-o", "out"], in: dir.path, timeout: 120) { mpirun, _ in
            // Rank 1's first trial (100,000 epochs) is a child of rank 1: kill it.
            let deadline = Date().addingTimeInterval(90)
            while Date() < deadline, mpirun.isRunning {
                if let rank1 = MPI.rankProcess(1, of: mpirun.processIdentifier), let trial = children(of: rank1).first {
                    Thread.sleep(forTimeInterval: 0.5)
                    kill(trial, SIGKILL)
                    killedAt = Date()
                    return
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let killed = try #require(killedAt, "no trial of rank 1 was found:\n\(r.stderr)")
        #expect(!r.timedOut && r.status != 0, "status \(r.status)")
        let seconds = Date().timeIntervalSince(killed)
        #expect(seconds < 30, "mpirun took \(seconds) s to end after the trial was killed")
        #expect(r.stderr.contains("error: rank 1: trial ") && r.stderr.contains("was stopped by a signal (signal 9)"), "\(r.stderr)")
        // Nothing recorded for the killed trial, and no trial left running (rank 0's stopped with the job).
        #expect(try records(dir.file("out/trials.jsonl")).count == 1)
        var left = processes(mentioning: dir.path + "/out/trial-")
        for _ in 0..<40 where !left.isEmpty {
            Thread.sleep(forTimeInterval: 0.25)
            left = processes(mentioning: dir.path + "/out/trial-")
        }
        #expect(left.isEmpty, "trials still running: \(left)")
        for p in left { kill(p, SIGKILL) }
    }

    /// Every rank must see rank 0's output directory: a rank started elsewhere stops the search
    /// before any trial, naming itself.
    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason))
    func aRankThatDoesNotSeeTheOutputDirectoryIsRefused() throws {
        let dir = try Scratch()
        try dir.write("t.dlg", Self.model)
        let other = try Scratch()
        try other.write("t.dlg", Self.model)
        let tune = ["tune", "t.dlg", "--param", "width=4,8", "--threads", "1", "-o", "out"]
        // An MPMD line: rank 1 runs in another directory, where out/ is not rank 0's.
        let r = try MPI.run(apps: [tune, tune], appOptions: [[], ["--wdir", other.path]], in: dir.path, timeout: 120)
        #expect(r.status != 0 && !r.timedOut, "status \(r.status)")
        #expect(r.stderr.contains("error: rank 1: this process does not see the output directory out that rank 0 writes"), "\(r.stderr)")
        // No trial ran and no results log was begun; rank 0's mark is gone.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir.file("out"))) ?? []
        #expect(left.isEmpty, "left in out/: \(left)")
        #expect(!other.exists("out"))
    }
}
