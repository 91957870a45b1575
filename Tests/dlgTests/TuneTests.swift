import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `dlg tune` on a small model of two model parameters: the tables, the results log, the
/// picture, the best configuration, resuming after an interruption, Hyperband's budget, and
/// its errors.
@Suite("dlg tune")
struct TuneTests {
    static let model = """
        model t(width = 8, depth = 1) {
            input p: f32[B, 2]
            input label: i32[B]
            h = tanh(dense(p, width))
            for i in 1..<depth { h = tanh(dense(h, width)) }
            output logits = dense(h, 2)
            minimize cross_entropy(logits, label)
        }
        train t { data = spirals(n: 40); validation = spirals(n: 20); optimizer = adam(lr: 0.01); batch = 20; epochs = 3; seed = 1 }
        """

    func lines(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], sourceLocation: sourceLocation)
        }
    }

    @Test func randomSearchWritesTablesResultsPictureAndTheBestConfiguration() throws {
        let dir = try Scratch()
        try dir.write("t.dlg", Self.model)
        let r = try CLI.run(["tune", "t.dlg", "--param", "width=4,8,16", "--param", "depth=1..2", "--param", "lr=log(1e-3,1e-1)",
                             "--trials", "4", "--jobs", "2", "--metric", "val_accuracy", "-o", "out"], in: dir.path)
        expectSuccess(r)
        #expect(r.stderr.contains("tuning t: 4 configurations, random search, objective val_accuracy (higher is better), 2 jobs × "))
        let log = try lines(dir.file("out/trials.jsonl"))
        #expect(log.count == 5 && log[0]["dlg_tune"] as? Int == 1)
        let results = Array(log.dropFirst())
        #expect(Set(results.compactMap { $0["trial"] as? Int }) == [0, 1, 2, 3])
        for t in results {
            let params = try #require(t["params"] as? [String: Any])
            #expect([4, 8, 16].contains(params["width"] as? Int ?? 0) && [1, 2].contains(params["depth"] as? Int ?? 0))
            let lr = try #require(params["lr"] as? Double)
            #expect(lr >= 1e-3 && lr <= 1e-1)
            #expect(t["status"] as? String == "ok" && t["epochs"] as? Int == 3 && t["val_accuracy"] is Double)
        }
        // The live table has a row per trial; the final table is sorted, best first.
        let out = r.stdout.components(separatedBy: "all trials, best first:\n")
        #expect(out.count == 2)
        let live = out[0].split(separator: "\n").filter { $0.hasSuffix(" ok") }
        #expect(live.count == 4)
        let sorted = out[1].split(separator: "\n").filter { $0.hasSuffix(" ok") }
        let shown = sorted.map { Double($0.split(separator: " ", omittingEmptySubsequences: true)[5]) ?? -1 }
        #expect(shown.count == 4 && shown == shown.sorted(by: >), "\(sorted)")
        let best = results.max { ($0["val_accuracy"] as! Double, -($0["trial"] as! Int)) < ($1["val_accuracy"] as! Double, -($1["trial"] as! Int)) }!
        #expect(abs(shown[0] - (best["val_accuracy"] as! Double)) < 1e-4)
        // The picture: one panel per parameter, a point per configuration in each.
        let svg = try String(contentsOfFile: dir.file("out/results.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.components(separatedBy: "<circle").count - 1 == 3 * 4 + 3)
        // The best configuration, as a command line that gives the same figure, and as a train block.
        let text = try String(contentsOfFile: dir.file("out/best.txt"), encoding: .utf8)
        #expect(r.stdout.contains(text))
        let command = try #require(text.split(separator: "\n").first { $0.hasPrefix("dlg train t.dlg") })
        #expect(text.contains("train t {") && text.contains("model t(width = "))
        let args = command.split(separator: " ").dropFirst().map(String.init)
        let again = try CLI.run(args + ["--threads", String(max(1, ProcessInfo.processInfo.activeProcessorCount / 2)), "--log", "again.jsonl"],
                                in: dir.path)
        expectSuccess(again)
        let accuracies = try lines(dir.file("again.jsonl")).compactMap { $0["val_accuracy"] as? Double }
        #expect(accuracies.max() == best["val_accuracy"] as? Double, "\(accuracies) against \(best)")
        // A longer search of the same space begins with these four trials and adds the fifth.
        let longer = try CLI.run(["tune", "t.dlg", "--param", "width=4,8,16", "--param", "depth=1..2", "--param", "lr=log(1e-3,1e-1)",
                                  "--trials", "5", "--jobs", "2", "--metric", "val_accuracy", "-o", "out"], in: dir.path)
        expectSuccess(longer)
        #expect(longer.stderr.contains("4 finished trials read from out/trials.jsonl"))
        #expect(longer.stderr.split(separator: "\n").filter { $0.hasPrefix("trial ") && $0.contains(": --") } == ["trial 4: "
            + (try lines(dir.file("out/trials.jsonl")).last.map { t -> String in
                let p = t["params"] as! [String: Any]
                return "--bind width=\(p["width"]!) --bind depth=\(p["depth"]!) --lr \(p["lr"]!)"
            } ?? "")])
    }

    /// Starts `dlg tune` with `arguments` in `dir`, standard error to `err`; returns the process.
    func start(_ arguments: [String], in dir: Scratch, stderr err: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        p.environment = env
        _ = FileManager.default.createFile(atPath: dir.file(err), contents: nil)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file(err)))
        try p.run()
        return p
    }

    /// Polls (for at most a minute) until `condition` holds.
    func waitFor(_ condition: () -> Bool) {
        for _ in 0..<1200 where !condition() { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// An interrupted search keeps its finished trials; run again, it runs only the others. The grid
    /// puts two one-epoch trials first, then two of 100,000 epochs: each interruption comes while
    /// a long one runs, however fast the machine.
    @Test func anInterruptedSearchResumesWithoutRerunningFinishedTrials() throws {
        let dir = try Scratch()
        try dir.write("t.dlg", Self.model)
        let args = ["tune", "t.dlg", "--strategy", "grid", "--param", "epochs=1,100000", "--param", "width=4,8", "-o", "out"]
        let first = try start(args, in: dir, stderr: "first.txt")
        // Wait for the two short trials (the header and two lines) and the start of the third.
        waitFor { (try? lines(dir.file("out/trials.jsonl")).count) == 3
            && ((try? String(contentsOfFile: dir.file("first.txt"), encoding: .utf8)) ?? "").contains("trial 2: ") }
        kill(first.processIdentifier, SIGINT)
        first.waitUntilExit()
        #expect(first.terminationStatus == 128 + SIGINT, "status \(first.terminationStatus)")
        let firstErr = try String(contentsOfFile: dir.file("first.txt"), encoding: .utf8)
        #expect(firstErr.contains("interrupted: the finished trials are in out/trials.jsonl; run the same command again to continue"))
        let before = try lines(dir.file("out/trials.jsonl")).dropFirst().compactMap { $0["trial"] as? Int }
        #expect(before == [0, 1], "\(before)")
        // Run again: it reads the two, starts with trial 2, and is interrupted in it in turn.
        let second = try start(args, in: dir, stderr: "second.txt")
        waitFor { ((try? String(contentsOfFile: dir.file("second.txt"), encoding: .utf8)) ?? "").contains("trial 2: ") }
        Thread.sleep(forTimeInterval: 0.2)
        kill(second.processIdentifier, SIGINT)
        second.waitUntilExit()
        let secondErr = try String(contentsOfFile: dir.file("second.txt"), encoding: .utf8)
        #expect(secondErr.contains("2 finished trials read from out/trials.jsonl"), "\(secondErr)")
        let started = secondErr.split(separator: "\n").filter { $0.hasPrefix("trial ") && $0.contains(": --") }
            .compactMap { Int($0.dropFirst(6).prefix { $0.isNumber }) }
        #expect(started == [2], "ran \(started) after \(before)")
        #expect(try lines(dir.file("out/trials.jsonl")).count == 3)
    }

    /// With R = 3 epochs and η = 3, Hyperband has two brackets: 3 configurations for 1 epoch, the
    /// best continued to 3; and 2 configurations for 3 epochs: 3·1 + 1·2 + 2·3 = 11 epochs,
    /// against 5 · 3 = 15 for full trials of the same 5 configurations.
    @Test func hyperbandTrainsFewerEpochsThanFullTrials() throws {
        let dir = try Scratch()
        try dir.write("t.dlg", Self.model)
        let r = try CLI.run(["tune", "t.dlg", "--param", "width=4,8,16", "--param", "lr=log(1e-3,1e-1)", "--strategy", "hyperband",
                             "--jobs", "2", "-o", "hb"], in: dir.path)
        expectSuccess(r)
        #expect(r.stderr.contains("5 configurations, hyperband search (brackets s=1: 3×1 → 1×3; s=0: 2×3 configurations × epochs)"), "\(r.stderr)")
        #expect(r.stdout.contains("epochs trained: 11 in all (full trials of the 5 configurations would take 15)"), "\(r.stdout)")
        let results = try lines(dir.file("hb/trials.jsonl")).dropFirst()
        #expect(results.reduce(0) { $0 + ($1["epochs_run"] as? Int ?? 0) } == 11)
        // The promoted configuration continued from its checkpoint: one log of epochs 1…3.
        let promoted = try #require(results.first { $0["round"] as? Int == 1 })
        #expect(promoted["epochs"] as? Int == 3 && promoted["epochs_run"] as? Int == 2)
        let trial = try #require(promoted["trial"] as? Int)
        let epochs = try lines(dir.file(String(format: "hb/trial-%03d/log.jsonl", trial))).compactMap { $0["epoch"] as? Int }
        #expect(epochs == [1, 2, 3])
        // The round it was promoted from: the best of the three one-epoch trials.
        let first = results.filter { $0["bracket"] as? Int == 1 && $0["round"] as? Int == 0 }
        #expect(first.count == 3)
        let bestFirst = first.min { ($0["val_loss"] as! Double, $0["trial"] as! Int) < ($1["val_loss"] as! Double, $1["trial"] as! Int) }!
        #expect(bestFirst["trial"] as? Int == trial)
    }

    @Test func badSearchesAreClearErrors() throws {
        let dir = try Scratch()
        try dir.write("t.dlg", Self.model)
        let unknown = try CLI.run(["tune", "t.dlg", "--param", "wdith=4,8", "-o", "a"], in: dir.path)
        #expect(unknown.status == 64 && unknown.stderr.contains("--param 'wdith' names no model parameter or train setting: t has model parameters width, depth"),
                "\(unknown.stderr)")
        let grid = try CLI.run(["tune", "t.dlg", "--param", "lr=log(1e-4,1e-1)", "--strategy", "grid", "-o", "b"], in: dir.path)
        #expect(grid.status == 64 && grid.stderr.contains("grid search takes lists and integer ranges; lr is log(0.0001, 0.1)"))
        let integers = try CLI.run(["tune", "t.dlg", "--param", "width=4.5,8", "-o", "c"], in: dir.path)
        #expect(integers.status == 64 && integers.stderr.contains("'4.5' is not an integer, and width takes integers"))
        let spec = try CLI.run(["tune", "t.dlg", "--param", "lr=log(0,1)", "-o", "d"], in: dir.path)
        #expect(spec.status == 64 && spec.stderr.contains("needs 0 < a < b"))
        let twice = try CLI.run(["tune", "t.dlg", "--param", "lr=0.1,0.2", "--lr", "0.3", "-o", "e"], in: dir.path)
        #expect(twice.status == 64 && twice.stderr.contains("--param lr and --lr both set lr"))
        let heldOut = try CLI.run(["tune", "t.dlg", "--param", "lr=0.1,0.2", "--validation", "none", "--metric", "val_loss", "-o", "f"], in: dir.path)
        #expect(heldOut.status == 64 && heldOut.stderr.contains("the objective val_loss needs held-out data"))
        #expect(dir.entries() == ["t.dlg"])
        // Another search into a directory that holds one: refused, naming the file.
        expectSuccess(try CLI.run(["tune", "t.dlg", "--param", "width=4", "--epochs", "1", "-o", "g"], in: dir.path))
        let other = try CLI.run(["tune", "t.dlg", "--param", "width=8", "--epochs", "1", "-o", "g"], in: dir.path)
        expectFailure(other, ["g/trials.jsonl holds the results of another search"])
    }
}
