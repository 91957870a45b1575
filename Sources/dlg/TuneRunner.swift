import DLGKernels
import DLGTrain
import Foundation

/// Runs the trials of a search as `dlg train` processes, `jobs` at a time, each kept on its
/// own processors with its share of the threads. Trials that finish are reported as they
/// finish; an interruption (SIGINT, SIGTERM) stops the running ones, which are not recorded,
/// so that running the search again runs them again.
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

    struct Running {
        var job: TrialJob
        var process: Process
        var slot: Int
        var started: UInt64
    }

    let lock = NSLock()
    var running: [TrialKey: Running] = [:]
    var interrupted = false
    let wake = DispatchSemaphore(value: 0)

    init(search: TuneSearch, file: String, model: String?, passThrough: [String], directory: String, jobs: Int, threads: Int?) {
        self.search = search
        self.file = file
        self.model = model
        self.passThrough = passThrough
        self.directory = directory
        self.jobs = jobs
        let allowed = ProcessorAffinity.allowed()
        processors = allowed.isEmpty ? Array(0..<ProcessInfo.processInfo.activeProcessorCount) : allowed
        threadsPerTrial = threads ?? max(1, processors.count / jobs)
        executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
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

    func start(_ job: TrialJob, slot: Int) throws {
        let dir = trialDirectory(job.trial)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = dir + "/stdout-round\(job.round).json", err = dir + "/stderr-round\(job.round).txt"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments(job)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        p.standardInput = FileHandle.nullDevice
        p.terminationHandler = { [wake] _ in wake.signal() }
        printError("trial \(job.trial)" + (job.round > 0 ? " round \(job.round)" : "") + ": "
                   + job.config.arguments(search.params).joined(separator: " ") + (job.epochs.map { " --epochs \($0)" } ?? ""))
        // The process starts with this thread's processors; its worker pool pins itself within them.
        let mine = processors(slot: slot)
        ProcessorAffinity.restrictCurrentThread(to: mine)
        defer { ProcessorAffinity.restrictCurrentThread(to: processors) }
        lock.lock()
        defer { lock.unlock() }
        try p.run()
        running[job.key] = Running(job: job, process: p, slot: slot, started: DispatchTime.now().uptimeNanoseconds)
    }

    /// The result of a finished process; nil when it was killed by a signal (not a finished trial).
    func result(_ r: Running) -> TrialResult? {
        let p = r.process
        if p.terminationReason == .uncaughtSignal { return nil }
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

    func interrupt(_ signal: Int32) {
        lock.lock()
        interrupted = true
        let procs = running.values.map(\.process)
        lock.unlock()
        for p in procs where p.isRunning { p.terminate() }
        // A trial that does not end within five seconds of SIGTERM is killed.
        for p in procs {
            for _ in 0..<100 where p.isRunning { Thread.sleep(forTimeInterval: 0.05) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        printError("interrupted: the finished trials are in \(directory)/trials.jsonl; run the same command again to continue")
        exit(128 + signal)
    }

    /// Runs every job the search has not finished; `onResult` sees each result as it comes.
    func run(previous: [TrialResult], onResult: (TrialResult) throws -> Void) throws -> [TrialResult] {
        var finished: [TrialKey: TrialResult] = [:]
        for r in previous { finished[r.job.key] = r }
        var all = previous
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
        while true {
            lock.lock()
            let busy = Set(running.keys)
            let slots = Set(running.values.map(\.slot))
            lock.unlock()
            var free = (0..<jobs).filter { !slots.contains($0) }
            for job in search.ready(finished: finished, running: busy) where !free.isEmpty {
                try start(job, slot: free.removeFirst())
            }
            lock.lock()
            let idle = running.isEmpty
            lock.unlock()
            if idle { break }
            wake.wait()
            lock.lock()
            let done = running.values.filter { !$0.process.isRunning }
            for d in done { running[d.job.key] = nil }
            let stop = interrupted
            lock.unlock()
            if stop { Thread.sleep(forTimeInterval: 3600) }
            for d in done.sorted(by: { $0.job.key < $1.job.key }) {
                guard let r = result(d) else {
                    printError("trial \(d.job.trial) was stopped by a signal; it is not recorded")
                    interrupt(SIGTERM)
                    continue
                }
                finished[r.job.key] = r
                all.append(r)
                try onResult(r)
                if let e = r.error { printError("trial \(r.job.trial): \(e)") }
            }
        }
        return all
    }
}
