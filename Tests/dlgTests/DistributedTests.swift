import DLGData
import Foundation
import Testing

/// `mpirun` around the `dlg` binary, with a deadline: a job that hangs is killed and fails the test.
enum MPI {
    /// mpirun on the PATH, or nil.
    static let mpirun: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }()

    static let skipReason: Comment = "mpirun is absent (Debian: apt-get install openmpi-bin libopenmpi-dev)"

    /// The environment of a job: Open MPI refuses to run as root without these two variables
    /// (CI containers run as root); the transport is TCP on the loopback interface, as between hosts.
    static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["OMPI_MCA_btl"] = "self,tcp"
        env["OMPI_MCA_btl_tcp_if_include"] = "lo"
        env["OMPI_MCA_oob_tcp_if_include"] = "lo"
        // No warnings about the machine's other network interfaces or a missing InfiniBand.
        env["OMPI_MCA_btl_base_warn_component_unused"] = "0"
        if let m = CLI.mnistDirectory { env["DLG_MNIST_DIR"] = m }
        return env
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
        var timedOut: Bool
    }

    /// Runs `mpirun --oversubscribe -np N dlg ARGS` (or an MPMD line given whole in `apps`, with
    /// mpirun's options for each of them in `appOptions`) in
    /// `directory`, killing it after `timeout` seconds. `whileRunning` gets mpirun's process.
    static func run(np: Int? = nil, _ arguments: [String] = [], apps: [[String]]? = nil, appOptions: [[String]]? = nil,
                    binary: String = CLI.binary,
                    in directory: String, timeout: Double = 300,
                    whileRunning: ((Process, _ stderrPath: String) -> Void)? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: mpirun!)
        var args = ["--oversubscribe"]
        if let apps {
            for (k, a) in apps.enumerated() { args += (k > 0 ? [":"] : []) + ["-np", "1"] + (appOptions?[k] ?? []) + [binary] + a }
        } else {
            args += ["-np", String(np ?? 2), binary] + arguments
        }
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        p.environment = environment
        let outPath = directory + "/mpirun.out", errPath = directory + "/mpirun.err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        let start = Date()
        try p.run()
        whileRunning?(p, errPath)
        var timedOut = false
        while p.isRunning {
            if Date().timeIntervalSince(start) > timeout {
                timedOut = true
                p.terminate()
                Thread.sleep(forTimeInterval: 2)
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        p.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        try out.close()
        try err.close()
        let r = Result(status: p.terminationStatus, stdout: try String(contentsOfFile: outPath, encoding: .utf8),
                       stderr: try String(contentsOfFile: errPath, encoding: .utf8), seconds: seconds, timedOut: timedOut)
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
        return r
    }

    /// The processes whose parent is `parent` and whose environment says they are rank `rank`.
    static func rankProcess(_ rank: Int, of parent: Int32) -> Int32? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for e in entries {
            guard let pid = Int32(e), let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8) else { continue }
            // pid (comm) state ppid …: the comm may hold spaces, so read after the last ')'.
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == parent,
                  let env = FileManager.default.contents(atPath: "/proc/\(e)/environ") else { continue }
            let vars = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if vars.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}

/// How far apart two checkpoints are: for every tensor the relative error ‖a − b‖₂ / ‖b‖₂;
/// the largest of these, its tensor, and (for messages) the largest elementwise difference
/// relative to that tensor's largest magnitude. The norm is the measure: when the sums of a
/// step are ordered differently, a ReLU whose input is within rounding of 0 can fall on the
/// other side, so a few elements may differ more than the rest (as between 1 and 2 threads).
func checkpointDifference(_ a: String, _ b: String) throws -> (worst: Double, tensor: String, elementwise: Double, count: Int) {
    let x = try Safetensors.read(a), y = try Safetensors.read(b)
    #expect(Set(x.tensors.map(\.name)) == Set(y.tensors.map(\.name)), "different tensors in \(a) and \(b)")
    var worst = 0.0, name = "", elementwise = 0.0
    for t in y.tensors {
        guard let u = x[t.name] else { continue }
        let (p, q) = (u.toDoubles(), t.array.toDoubles())
        let diff = zip(p, q).map { $0 - $1 }
        let norm = q.map { $0 * $0 }.reduce(0, +).squareRoot()
        let d = diff.map { $0 * $0 }.reduce(0, +).squareRoot() / max(norm, 1e-30)
        if d > worst || name.isEmpty { (worst, name) = (d, t.name) }
        elementwise = max(elementwise, (diff.map(abs).max() ?? 0) / max(q.map(abs).max() ?? 0, 1e-30))
    }
    return (worst, name, elementwise, y.tensors.count)
}

@Suite("Data-parallel training under mpirun", .serialized)
struct DistributedTests {
    static var mnistEnabled: Bool { MPI.mpirun != nil && CLI.releaseBinary != nil && CLI.mnistDirectory != nil }
    static let mnistSkipReason: Comment = "needs mpirun, a release dlg (DLG_BIN, as make test builds) and the MNIST sample (DLG_MNIST_DIR)"

    /// One epoch of a model of Graphs/ in one process and over `np`, the same global batch, one
    /// thread each: the checkpoints agree within `tolerance` relative to each tensor's magnitude (f32 sums
    /// over other batch shapes: LeNet-5 over 3 came to 1.4e-5 with OpenBLAS's AVX2 kernels).
    func expectOneEpochMatches(_ graph: String, np: Int, batch: Int, extra: [String] = [], tolerance: Double = 5e-5,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try Scratch()
        let common = ["train", CLI.graph(graph), "--epochs", "1", "--batch", String(batch), "--threads", "1", "--json"] + extra
        let one = try CLI.run(common + ["--checkpoint", "one.safetensors"], in: dir.path)
        expectSuccess(one, sourceLocation: sourceLocation)
        let many = try MPI.run(np: np, common + ["--checkpoint", "many.safetensors", "--check-replicas", "25"], in: dir.path)
        #expect(many.status == 0 && !many.timedOut, "mpirun: \(many.status)\n\(many.stderr)", sourceLocation: sourceLocation)
        // Only rank 0 reports: one JSON object, with the number of processes.
        let j = try #require(try JSONSerialization.jsonObject(with: Data(many.stdout.utf8)) as? [String: Any],
                             "stdout: \(many.stdout)", sourceLocation: sourceLocation)
        #expect(j["world_size"] as? Int == np, sourceLocation: sourceLocation)
        let single = try jsonObject(one, sourceLocation: sourceLocation)
        #expect(single["world_size"] as? Int == 1, sourceLocation: sourceLocation)
        #expect(j["steps"] as? Int == single["steps"] as? Int, sourceLocation: sourceLocation)
        let (l1, l2) = (try #require(single["loss"] as? Double), try #require(j["loss"] as? Double))
        #expect(abs(l1 - l2) <= 1e-5 * abs(l1), "loss \(l2) over \(np) against \(l1)", sourceLocation: sourceLocation)
        #expect(j["val_accuracy"] as? Double == single["val_accuracy"] as? Double, sourceLocation: sourceLocation)
        let d = try checkpointDifference(dir.file("many.safetensors"), dir.file("one.safetensors"))
        #expect(d.worst <= tolerance, "\(graph) over \(np): \(d.tensor) differs by \(d.worst) relative (elementwise \(d.elementwise))",
                sourceLocation: sourceLocation)
        print("\(graph) over \(np) processes, batch \(batch): largest relative difference \(d.worst) (\(d.tensor)), elementwise \(d.elementwise)")
        // And training moved the parameters: the comparison is not between two initializations.
        #expect(d.count > 0, sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: mnistEnabled, mnistSkipReason), arguments: [(2, 128), (3, 96)])
    func mlpOneEpochMatchesOneProcess(np: Int, batch: Int) throws {
        // 8,000 training images: 63 steps of 128 (the last 64), or 84 of 96 (the last 32: 11 + 11 + 10).
        try expectOneEpochMatches("mnist_mlp.dlg", np: np, batch: batch, extra: Self.sgd)
    }

    /// The MLPs train with SGD here rather than their train blocks' Adam. Adam moves a parameter by
    /// about lr whatever the size of its gradient, so where a gradient is near zero its rounding
    /// decides the step: over an epoch two correct runs that sum a product in another order (one
    /// process against several, dlg's own AVX-512 GEMM against OpenBLAS's) drift apart — measured
    /// 2026-12-07 on the MNIST MLP in one process: 10% of h1.weight's magnitude between the two
    /// GEMMs under Adam, 2.6e-7 under SGD. Under SGD, rounding stays rounding.
    static let sgd = ["--optimizer", "sgd(lr: 0.05, momentum: 0.9)"]

    @Test(.enabled(if: mnistEnabled, mnistSkipReason), arguments: [(2, 64), (3, 66)])
    func leNetOneEpochMatchesOneProcess(np: Int, batch: Int) throws {
        try expectOneEpochMatches("lenet5.dlg", np: np, batch: batch)
    }

    @Test(.enabled(if: mnistEnabled, mnistSkipReason), arguments: [(2, 64), (3, 66)])
    func synchronizedBatchnormOneEpochMatchesOneProcess(np: Int, batch: Int) throws {
        // Batchnorm on the statistics of the whole global batch, dropout masks of its rows.
        try expectOneEpochMatches("mlp_bn_dropout.dlg", np: np, batch: batch, extra: ["--sync-batchnorm"] + Self.sgd)
    }

    @Test(.enabled(if: mnistEnabled, mnistSkipReason))
    func doublePrecisionMatchesOneProcessClosely() throws {
        // The MLP in f64 on the digits 0 and 1 (2,115 images): agreement to 1e-12.
        let dir = try Scratch()
        let text = try String(contentsOfFile: CLI.graph("mnist_mlp.dlg"), encoding: .utf8)
            .replacingOccurrences(of: "f32[", with: "f64[")
            .replacingOccurrences(of: "data      = mnist()", with: "data      = mnist(classes: [0, 1])")
            .replacingOccurrences(of: "validation = 2000", with: "validation = 115")
        let model = try dir.write("mlp64.dlg", text)
        let common = ["train", model, "--epochs", "1", "--batch", "60", "--threads", "1"]
        expectSuccess(try CLI.run(common + ["--checkpoint", "one.safetensors"], in: dir.path))
        let many = try MPI.run(np: 3, common + ["--checkpoint", "many.safetensors"], in: dir.path)
        #expect(many.status == 0, "\(many.stderr)")
        let d = try checkpointDifference(dir.file("many.safetensors"), dir.file("one.safetensors"))
        #expect(d.worst <= 1e-12, "f64: \(d.tensor) differs by \(d.worst) relative")
    }

    @Test(.enabled(if: mnistEnabled, mnistSkipReason))
    func checkpointsWrittenUnderMPIResumeUnderMPIAndInOneProcess() throws {
        // The MLP in f64. In f32 the second epoch in one process is not a stable comparison:
        // its sums are ordered otherwise than over two processes (a difference of about 1e-7),
        // which can tip one example's ReLU input from one side of 0 to the other in one of the
        // 63 steps; Adam's step, normalized per weight, then carries that example's gradient
        // into the weights of the pixels it inks (an f32 run differed by 3.6e-5, most of it in
        // one hidden unit, and a random change of 3e-7 to the checkpoint gave either outcome,
        // resumed over one process or over two). In f64 the same comparison holds to 1e-12.
        let dir = try Scratch()
        let text = try String(contentsOfFile: CLI.graph("mnist_mlp.dlg"), encoding: .utf8)
            .replacingOccurrences(of: "f32[", with: "f64[")
        let model = try dir.write("mlp64.dlg", text)
        let common = ["train", model, "--epochs", "2", "--threads", "1"]
        // Two epochs straight over two processes.
        let straight = try MPI.run(np: 2, common + ["--checkpoint", "straight.safetensors"], in: dir.path)
        #expect(straight.status == 0, "\(straight.stderr)")
        // The first epoch over two processes; the log and the checkpoint are rank 0's.
        let first = try MPI.run(np: 2, common + ["--stop-after", "1", "--checkpoint", "half.safetensors", "--log", "log.jsonl"],
                                in: dir.path)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.components(separatedBy: "epoch 1/2").count == 2, "one progress line, from rank 0:\n\(first.stderr)")
        let log = try String(contentsOfFile: dir.file("log.jsonl"), encoding: .utf8)
        #expect(log.split(separator: "\n").count == 1)
        // No per-step scalars of the replicas in a checkpoint.
        #expect(try Safetensors.read(dir.file("half.safetensors")).tensors.allSatisfy { !$0.name.hasPrefix("replica.") })
        // The second epoch over two processes: rank 0 reads the checkpoint and sends it to rank 1,
        // and the run goes on exactly as the uninterrupted one.
        let mpiResume = try MPI.run(np: 2, common + ["--resume", "half.safetensors", "--checkpoint", "mpi.safetensors",
                                                     "--log", "log.jsonl"], in: dir.path)
        #expect(mpiResume.status == 0, "\(mpiResume.stderr)")
        #expect(mpiResume.stderr.contains("resumed from half.safetensors after epoch 1"))
        let exact = try checkpointDifference(dir.file("mpi.safetensors"), dir.file("straight.safetensors"))
        #expect(exact.worst == 0, "resumed over 2 processes: \(exact.tensor) differs by \(exact.worst)")
        #expect(try String(contentsOfFile: dir.file("log.jsonl"), encoding: .utf8).split(separator: "\n").count == 2)
        // The second epoch in one process: the same steps, to rounding.
        expectSuccess(try CLI.run(common + ["--resume", "half.safetensors", "--checkpoint", "single.safetensors"], in: dir.path))
        let d = try checkpointDifference(dir.file("single.safetensors"), dir.file("straight.safetensors"))
        #expect(d.worst <= 1e-12, "resumed in one process: \(d.tensor) differs by \(d.worst) relative")
        #expect(d.worst > 0, "one process sums in another order than two")
    }

    @Test(.enabled(if: mnistEnabled, mnistSkipReason))
    func aKilledRankEndsTheJobQuickly() throws {
        let dir = try Scratch()
        var killedAt: Date?
        let r = try MPI.run(np: 2, ["train", CLI.graph("lenet5.dlg"), "--epochs", "50", "--threads", "1", "--checkpoint", "ck.safetensors", "--checkpoint-every", "1"],
                            in: dir.path, timeout: 120) { mpirun, errPath in
            // Once the first epoch is reported, the second is under way: kill rank 1 in it.
            let deadline = Date().addingTimeInterval(90)
            while Date() < deadline, mpirun.isRunning {
                if let text = try? String(contentsOfFile: errPath, encoding: .utf8), text.contains("epoch 1/50") { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            Thread.sleep(forTimeInterval: 0.3)
            if let pid = MPI.rankProcess(1, of: mpirun.processIdentifier) {
                kill(pid, SIGKILL)
                killedAt = Date()
            }
        }
        let killed = try #require(killedAt, "rank 1 was not found among mpirun's children:\n\(r.stderr)")
        #expect(!r.timedOut)
        #expect(r.status != 0)
        let seconds = Date().timeIntervalSince(killed)
        #expect(seconds < 30, "mpirun took \(seconds) s to end after rank 1 was killed")
        #expect(r.stderr.contains("rank 1"), "\(r.stderr)")
        // The checkpoint on disk is whole: an epoch's before the kill (the first, unless a loaded
        // machine let the second finish within the 0.3 s), never the run's end.
        let epoch = try CheckpointMetadata(path: dir.file("ck.safetensors")).epoch
        #expect(epoch >= 1 && epoch < 50, "checkpoint of epoch \(epoch)")
    }

    /// A NaN that arises in one rank's share of a batch is located without --check-numerics:
    /// all ranks re-run the steps together; the op is named on the rank where it arose, and
    /// rank 0 (which reports) says which rank that is when it only received the NaN in a sum.
    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason))
    func aNonFiniteLossIsLocatedOnItsRank() throws {
        let dir = try Scratch()
        _ = try dir.write("neg.dlg", """
            model neg {
                input  x: f32[B, 1]
                input  y: f32[B, 1]
                param  w: f32[1, 1] = [[1.0]]
                h = x @ w
                z = log(h - 3)
                output p = z
                minimize mse(p, y)
            }
            train neg {
                data = csv("d.csv", label: "y")
                batch = 2
                epochs = 1
                shuffle = false
            }
            """)
        // Batch 5 holds rows 8 and 9: x = 1 makes h − 3 negative, so log gives NaN on the rank that takes that row.
        for (rows, expected) in [("13,0\n1,0", "comes from rank 1's share of the batch (on rank 0 it arrives through"),
                                 ("1,0\n13,0", "comes from %7 = log ('z') at neg.dlg:6:9 on rank 0")] {
            _ = try dir.write("d.csv", "x,y\n5,0\n6,0\n7,0\n8,0\n9,0\n10,0\n11,0\n12,0\n\(rows)\n14,0\n15,0\n")
            let r = try MPI.run(np: 2, ["train", "neg.dlg", "--threads", "1"], in: dir.path, timeout: 120)
            #expect(r.status != 0 && !r.timedOut)
            #expect(r.stderr.contains("the loss became -nan at step 5 (epoch 1, batch 5 of 6); the first non-finite value \(expected)")
                    || r.stderr.contains("the loss became nan at step 5 (epoch 1, batch 5 of 6); the first non-finite value \(expected)"),
                    "\(r.stderr)")
        }
    }

    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason))
    func aBatchThatDoesNotSplitOverThreeIsRefused() throws {
        let dir = try Scratch()
        let r = try MPI.run(np: 3, ["train", CLI.graph("sine.dlg"), "--batch", "32", "--epochs", "1", "--checkpoint", "ck.safetensors",
                                    "--log", "log.jsonl", "--plot", "c.svg"], in: dir.path, timeout: 120)
        #expect(r.status != 0 && !r.timedOut)
        #expect(r.stderr.contains("error: the global batch 32 does not split evenly over 3 processes; choose a multiple of 3, such as 30 or 33"),
                "\(r.stderr)")
        // Said once, by rank 0.
        #expect(r.stderr.components(separatedBy: "does not split evenly").count == 2)
        #expect(dir.entries().isEmpty, "left behind: \(dir.entries())")
    }

    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason))
    func ranksWithDifferentModelFilesAreRefused() throws {
        let dir = try Scratch()
        let a = try dir.write("a.dlg", try String(contentsOfFile: CLI.graph("sine.dlg"), encoding: .utf8))
        let b = try dir.write("b.dlg", try String(contentsOfFile: CLI.graph("sine.dlg"), encoding: .utf8)
            .replacingOccurrences(of: "epochs", with: "epochs ") + "\n# another model\n")
        let r = try MPI.run(apps: [["train", a, "--checkpoint", "ck.safetensors"], ["train", b, "--checkpoint", "ck.safetensors"]],
                            in: dir.path, timeout: 120)
        #expect(r.status != 0 && !r.timedOut)
        #expect(r.stderr.contains("error: the processes do not run the same training: rank 1 has different model file than rank 0"),
                "\(r.stderr)")
        #expect(!dir.exists("ck.safetensors"))
    }

    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason))
    func ranksWithDifferentSettingsAreRefused() throws {
        let dir = try Scratch()
        let m = CLI.graph("sine.dlg")
        let r = try MPI.run(apps: [["train", m, "--lr", "0.1", "--log", "log.jsonl"], ["train", m, "--lr", "0.2", "--log", "log.jsonl"]],
                            in: dir.path, timeout: 120)
        #expect(r.status != 0 && !r.timedOut)
        #expect(r.stderr.contains("rank 1 has different settings than rank 0"), "\(r.stderr)")
        #expect(dir.entries().isEmpty, "left behind: \(dir.entries())")
    }

    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason))
    func aFailingRankEndsTheJobNamingIt() throws {
        // Rank 0 cannot write its checkpoint (no such directory) after the first epoch: the
        // job ends at once with an error that names the rank, not waiting for rank 1.
        let dir = try Scratch()
        let r = try MPI.run(np: 2, ["train", CLI.graph("sine.dlg"), "--batch", "20", "--epochs", "1000",
                                    "--checkpoint", "missing/ck.safetensors", "--checkpoint-every", "1"],
                            in: dir.path, timeout: 120)
        #expect(r.status != 0 && !r.timedOut)
        #expect(r.stderr.contains("error: rank 0: "), "\(r.stderr)")
        #expect(r.stderr.contains("missing/ck.safetensors"), "\(r.stderr)")
    }

    @Test(.enabled(if: MPI.mpirun != nil, MPI.skipReason))
    func singleProcessTrainingUnderMpirunWithOneRank() throws {
        // -np 1 is a data-parallel job of one process: the same figures as a plain run.
        let dir = try Scratch()
        let args = ["train", CLI.graph("sine.dlg"), "--epochs", "3", "--threads", "1", "--json"]
        let plain = try jsonObject(try CLI.run(args, in: dir.path))
        let r = try MPI.run(np: 1, args, in: dir.path, timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let j = try jsonObject(CLI.Result(status: r.status, stdout: r.stdout, stderr: r.stderr))
        #expect(j["world_size"] as? Int == 1)
        #expect(j["loss"] as? Double == plain["loss"] as? Double)
    }

    @Test
    func distributedWithoutALauncherIsAnError() throws {
        let dir = try Scratch()
        let r = try CLI.run(["train", CLI.graph("sine.dlg"), "--distributed", "--checkpoint", "ck.safetensors"], in: dir.path)
        expectFailure(r, ["error: --distributed: this process was not started by an MPI launcher"])
        #expect(dir.entries().isEmpty)
    }

    /// A dlg built without MPI (DLG_MPI=0, as .ci/run builds one): it trains alone, and started
    /// by mpirun it says it cannot, and writes nothing.
    static var withoutMPI: String? { ProcessInfo.processInfo.environment["DLG_NOMPI_BIN"].flatMap { $0.isEmpty ? nil : $0 } }

    @Test(.enabled(if: withoutMPI != nil && MPI.mpirun != nil,
                   "needs DLG_NOMPI_BIN, a dlg built with DLG_MPI=0 (.ci/run builds one), and mpirun"))
    func aBuildWithoutMPIRefusesToRunUnderMpirun() throws {
        let dir = try Scratch()
        let binary = Self.withoutMPI!
        let r = try MPI.run(np: 2, ["train", CLI.graph("sine.dlg"), "--epochs", "2", "--checkpoint", "ck.safetensors"],
                            binary: binary, in: dir.path, timeout: 120)
        #expect(r.status != 0 && !r.timedOut)
        #expect(r.stderr.contains("error: this dlg was built without MPI"), "\(r.stderr)")
        #expect(r.stderr.components(separatedBy: "built without MPI").count == 2, "said once:\n\(r.stderr)")
        #expect(dir.entries().isEmpty, "left behind: \(dir.entries())")
        // Alone it trains.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["train", CLI.graph("sine.dlg"), "--epochs", "2", "--checkpoint", dir.file("ck.safetensors")]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(dir.exists("ck.safetensors"))
    }
}

/// The position recorded in a checkpoint's metadata.
struct CheckpointMetadata {
    let epoch: Int
    init(path: String) throws {
        let f = try Safetensors.read(path)
        epoch = Int(f.metadata["epoch"] ?? "") ?? -1
    }
}
