import DLGDistributed
import DLGKernels
import DLGTrain
import Foundation

/// Runs the trials of a search as `dlg train` processes, `jobs` at a time, each kept on its
/// own processors with its share of the threads. Trials that finish are reported as they
/// finish; an interruption (SIGINT, SIGTERM) stops the running ones, which are not recorded,
/// so that running the search again runs them again.
///
/// Started by `mpirun` (`group` given), every rank runs trials the same way, each trial a
/// single-process `dlg train` of its own: rank 0 hands the jobs out to the first free slot
/// (`jobs` per rank), receives the results of the others and alone prints and records them
/// (Docs/distributed.md, *Searches over several processes*).
final class TrialRunner: @unchecked Sendable {
    let search: TuneSearch
    let file: String
    let model: String?
    let passThrough: [String]
    let directory: String
    let jobs: Int
    let threadsPerTrial: Int
    let processors: [Int]
    let executable: String
    let group: (any ProcessGroup)?
    /// The trials' environment: this process's, without the MPI launcher's variables (a trial is
    /// not a rank of the job), and with this process's id, so that a trial ends when it ends.
    let environment: [String: String]

    /// The messages between ranks: a job from rank 0, the end of the search, a result to rank 0.
    enum Tag {
        static let job = 1, stop = 2, result = 3
    }

    /// Where a trial runs: a rank, and one of its `jobs` slots.
    struct Slot: Hashable {
        var rank: Int
        var index: Int
    }

    struct Running {
        var job: TrialJob
        /// The trial's process; nil for a trial that another rank runs.
        var process: Process?
        var slot: Slot
        var started: UInt64
    }

    let lock = NSLock()
    var running: [TrialKey: Running] = [:]
    var interrupted = false
    let wake = DispatchSemaphore(value: 0)

    var rank: Int { group?.rank ?? 0 }

    init(search: TuneSearch, file: String, model: String?, passThrough: [String], directory: String, jobs: Int, threads: Int?,
         group: (any ProcessGroup)? = nil) {
        self.search = search
        self.file = file
        self.model = model
        self.passThrough = passThrough
        self.directory = directory
        self.jobs = jobs
        self.group = group
        let allowed = ProcessorAffinity.allowed()
        let all = allowed.isEmpty ? Array(0..<ProcessInfo.processInfo.activeProcessorCount) : allowed
        if group != nil, all.count >= Threads.coreCount, let n = Launch.localSize(), n > 1 {
            // A rank the launcher did not bind takes its share of the machine's processors, after
            // those of the ranks before it on this machine.
            let share = max(1, all.count / n), first = (Launch.localRank() ?? 0) * share
            processors = (0..<share).map { all[(first + $0) % all.count] }
        } else {
            processors = all
        }
        threadsPerTrial = threads ?? max(1, processors.count / jobs)
        executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var env = Launch.withoutLauncher(ProcessInfo.processInfo.environment)
        env[TrialRunner.parentVariable] = String(getpid())
        environment = env
    }

    /// The variable that gives a trial the process id of the `dlg tune` that started it.
    static let parentVariable = "DLG_TUNE_PARENT"

    /// In a trial: ends this process when the `dlg tune` that started it has ended (killed, say,
    /// with the MPI job it belonged to), instead of training on unobserved.
    static func endWithParent() {
        guard let text = ProcessInfo.processInfo.environment[parentVariable], let parent = pid_t(text), parent > 1 else { return }
        let watcher = Thread {
            while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
            printError("error: the dlg tune that started this trial (process \(parent)) has ended")
            exit(1)
        }
        watcher.name = "dlg-parent"
        watcher.start()
    }

    func trialDirectory(_ trial: Int) -> String { directory + "/" + String(format: "trial-%03d", trial) }

    /// The processors of slot `s`: consecutive ones, wrapping when the jobs outnumber them.
    func processors(slot s: Int) -> [Int] {
        (0..<threadsPerTrial).map { processors[(s * threadsPerTrial + $0) % processors.count] }
    }

    func arguments(_ job: TrialJob) -> [String] {
        let dir = trialDirectory(job.trial)
        let checkpoint = dir + "/checkpoint.safetensors"
        var through = passThrough
        if job.epochs != nil, let i = through.firstIndex(of: "--epochs") { through.removeSubrange(i...(i + 1)) }
        var a = ["train", file, "--json", "--log", dir + "/log.jsonl", "--checkpoint", checkpoint, "--threads", String(threadsPerTrial)]
        if let model { a += ["--model", model] }
        a += through + job.config.arguments(search.params)
        if let e = job.epochs { a += ["--epochs", String(e)] }
        if job.resumes, FileManager.default.fileExists(atPath: checkpoint) { a += ["--resume", checkpoint] }
        return a
    }

    /// Says (rank 0) which trial starts, and where.
    func announce(_ job: TrialJob, on rank: Int) {
        printError("trial \(job.trial)" + (job.round > 0 ? " round \(job.round)" : "") + (group != nil ? " (rank \(rank))" : "") + ": "
                   + job.config.arguments(search.params).joined(separator: " ") + (job.epochs.map { " --epochs \($0)" } ?? ""))
    }

    func start(_ job: TrialJob, slot: Slot) throws {
        let dir = trialDirectory(job.trial)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = dir + "/stdout-round\(job.round).json", err = dir + "/stderr-round\(job.round).txt"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments(job)
        p.environment = environment
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        p.standardInput = FileHandle.nullDevice
        p.terminationHandler = { [wake] _ in wake.signal() }
        // The process starts with this thread's processors; its worker pool pins itself within them.
        let mine = processors(slot: slot.index)
        ProcessorAffinity.restrictCurrentThread(to: mine)
        defer { ProcessorAffinity.restrictCurrentThread(to: processors) }
        lock.lock()
        defer { lock.unlock() }
        try p.run()
        running[job.key] = Running(job: job, process: p, slot: slot, started: DispatchTime.now().uptimeNanoseconds)
    }

    /// The result of a finished process; nil when it was killed by a signal (not a finished trial).
    func result(_ r: Running) -> TrialResult? {
        guard let p = r.process, p.terminationReason != .uncaughtSignal else { return nil }
        let dir = trialDirectory(r.job.trial)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - r.started) * 1e-9
        let summary = (try? Data(contentsOf: URL(fileURLWithPath: dir + "/stdout-round\(r.job.round).json")))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        let best = TuneLog.best(log: dir + "/log.jsonl", objective: search.objective)
        var error: String?
        if p.terminationStatus != 0 {
            let err = (try? String(contentsOfFile: dir + "/stderr-round\(r.job.round).txt", encoding: .utf8)) ?? ""
            error = err.split(separator: "\n").last(where: { $0.hasPrefix("error:") || $0.hasPrefix("Error:") }).map(String.init)
                ?? "dlg train exited with status \(p.terminationStatus)"
        }
        return TrialResult(job: r.job, ok: p.terminationStatus == 0 && best.metric != nil, metric: best.metric, bestEpoch: best.epoch,
                           figures: best.figures, epochsRun: summary?["epochs"] as? Int ?? 0, epochsTotal: best.epochs,
                           seconds: seconds, error: error ?? (best.metric == nil && p.terminationStatus == 0
                               ? "the log has no \(search.objective.name)" : nil))
    }

    /// Ends this process's running trials: SIGTERM, and SIGKILL for one still running five seconds later.
    func stopTrials() {
        lock.lock()
        let procs = running.values.compactMap(\.process)
        lock.unlock()
        for p in procs where p.isRunning { p.terminate() }
        for p in procs {
            for _ in 0..<100 where p.isRunning { Thread.sleep(forTimeInterval: 0.05) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
    }

    func interrupt(_ signal: Int32) {
        lock.lock()
        interrupted = true
        lock.unlock()
        stopTrials()
        if rank == 0 {
            printError("interrupted: the finished trials are in \(directory)/trials.jsonl; run the same command again to continue")
        }
        exit(128 + signal)
    }

    /// A trial killed by a signal: in one process an interruption; in an MPI job this rank's
    /// failure, which ends the job naming the rank.
    func killed(_ r: Running) -> Never {
        let signal = r.process.map { $0.terminationReason == .uncaughtSignal ? " (signal \($0.terminationStatus))" : "" } ?? ""
        guard let group else {
            printError("trial \(r.job.trial) was stopped by a signal\(signal); it is not recorded")
            interrupt(SIGTERM)
            exit(128 + SIGTERM)
        }
        fail(group, "trial \(r.job.trial)\(r.job.round > 0 ? " round \(r.job.round)" : "") was stopped by a signal\(signal); it is not recorded, and the search stops")
    }

    /// This rank cannot go on: its trials are stopped and the whole job ends (MPI_Abort), the rank named.
    func fail(_ group: any ProcessGroup, _ message: String) -> Never {
        stopTrials()
        printError("error: rank \(group.rank): \(message)")
        group.abort(status: 1)
    }

    /// Catches SIGINT and SIGTERM for the time of `body`.
    func handlingSignals<T>(_ body: () throws -> T) rethrows -> T {
        // A process started from one that blocks signals (a test harness, some job runners) inherits
        // the mask: unblock SIGINT and SIGTERM here, so that they reach this process and, since
        // trials inherit this thread's mask, so that SIGTERM ends a trial.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [unowned self] in self.interrupt(sig) }
            s.resume()
            return s
        }
        defer { sources.forEach { $0.cancel() } }
        return try body()
    }

    /// Waits for a trial to end, or, in an MPI job, at most 20 ms (messages are polled: a
    /// blocking receive would keep a processor busy that the trials need). Returns this rank's
    /// ended trials, taken out of `running`, in order.
    func waitForTrials() -> [Running] {
        if group == nil { wake.wait() } else { _ = wake.wait(timeout: .now() + .milliseconds(20)) }
        lock.lock()
        let done = running.values.filter { $0.process.map { !$0.isRunning } ?? false }
        for d in done { running[d.job.key] = nil }
        let stop = interrupted
        lock.unlock()
        // The interruption's handler ends the process.
        if stop { Thread.sleep(forTimeInterval: 3600) }
        return done.sorted { $0.job.key < $1.job.key }
    }

    /// Rank 0 (or the only process): runs every job the search has not finished, on this
    /// process's slots and, in an MPI job, on the other ranks'; `onResult` sees each result as it comes.
    func run(previous: [TrialResult], onResult: (TrialResult) throws -> Void) throws -> [TrialResult] {
        var finished: [TrialKey: TrialResult] = [:]
        for r in previous { finished[r.job.key] = r }
        var all = previous
        let ranks = group?.size ?? 1
        // The slots in the order they are filled: the first slot of every rank, then the second…
        let slots = (0..<jobs).flatMap { s in (0..<ranks).map { Slot(rank: $0, index: s) } }
        return try handlingSignals {
            while true {
                lock.lock()
                let busy = Set(running.keys)
                let used = Set(running.values.map(\.slot))
                lock.unlock()
                var free = slots.filter { !used.contains($0) }
                for job in search.ready(finished: finished, running: busy) where !free.isEmpty {
                    let slot = free.removeFirst()
                    announce(job, on: slot.rank)
                    if slot.rank == rank { try start(job, slot: slot) } else { try dispatch(job, to: slot) }
                }
                lock.lock()
                let idle = running.isEmpty
                lock.unlock()
                if idle { break }
                var results: [(TrialResult, Int)] = []
                for d in waitForTrials() {
                    guard let r = result(d) else { killed(d) }
                    results.append((r, rank))
                }
                if let group {
                    while let m = try group.receive(tag: Tag.result) {
                        guard let r = TuneLog.result(String(decoding: m.bytes, as: UTF8.self), search: search) else {
                            throw TrainError("rank \(m.source) sent a result that is not one of this search's trials")
                        }
                        lock.lock()
                        running[r.job.key] = nil
                        lock.unlock()
                        results.append((r, m.source))
                    }
                }
                for (r, from) in results {
                    finished[r.job.key] = r
                    all.append(r)
                    try onResult(r)
                    if let e = r.error { printError("trial \(r.job.trial)\(group != nil ? " (rank \(from))" : ""): \(e)") }
                }
            }
            if let group {
                for r in 1..<group.size { try group.send([], to: r, tag: Tag.stop) }
            }
            return all
        }
    }

    /// Hands a job to another rank: trial, round, bracket, epochs, whether it resumes, slot.
    func dispatch(_ job: TrialJob, to slot: Slot) throws {
        guard let group else { return }
        let fields = [job.trial, job.round, job.bracket ?? -1, job.epochs ?? -1, job.resumes ? 1 : 0, slot.index]
        try group.send(Array(fields.map(String.init).joined(separator: " ").utf8), to: slot.rank, tag: Tag.job)
        lock.lock()
        running[job.key] = Running(job: job, process: nil, slot: slot, started: DispatchTime.now().uptimeNanoseconds)
        lock.unlock()
    }

    /// A job as `dispatch` sent it; nil for anything else.
    func decodeJob(_ bytes: [UInt8]) -> (TrialJob, Int)? {
        // conversion: Int(text) is nil for anything but an integer that fits; the values are range-checked below
        let f = String(decoding: bytes, as: UTF8.self).split(separator: " ").compactMap { Int($0) }
        guard f.count == 6, (0..<search.trials).contains(f[0]), f[1] >= 0, f[2] >= -1, f[3] >= -1, (0...1).contains(f[4]),
              (0..<jobs).contains(f[5]) else { return nil }
        return (TrialJob(trial: f[0], round: f[1], bracket: f[2] < 0 ? nil : f[2], config: search.config(f[0]),
                         epochs: f[3] < 0 ? nil : f[3], resumes: f[4] == 1), f[5])
    }

    /// Ranks other than 0: runs the jobs rank 0 sends and sends back their results, until rank 0
    /// says the search is over.
    func serve() throws {
        guard let group else { return }
        try handlingSignals {
            while true {
                while let m = try group.receive(tag: Tag.job) {
                    guard m.source == 0, let (job, index) = decodeJob(m.bytes) else {
                        throw TrainError("rank \(m.source) sent a job that is not one of this search's trials")
                    }
                    try start(job, slot: Slot(rank: rank, index: index))
                }
                if try group.receive(tag: Tag.stop) != nil { return }
                for d in waitForTrials() {
                    guard let r = result(d) else { killed(d) }
                    try group.send(Array(TuneLog.line(r, search: search).utf8), to: 0, tag: Tag.result)
                }
            }
        }
    }
}
