import ArgumentParser
import DLGData
import DLGDistributed
import DLGKernels
import DLGRuntime
import DLGTrain
import Foundation

/// Flags of a data-parallel run (`mpirun -np N dlg train …`, Docs/distributed.md).
struct DistributedOptions: ParsableArguments {
    @Flag(help: "Run as one process of a data-parallel job (the default when mpirun started this process).")
    var distributed = false

    @Option(name: .customLong("check-replicas"),
            help: ArgumentHelp("Data-parallel runs: compare the parameters of all processes after every N steps and every epoch (default: never; every 10 steps in a debug build).",
                               valueName: "N"))
    var checkReplicas: Int?

    @Option(name: .customLong("bucket-mb"),
            help: ArgumentHelp("Data-parallel runs: MiB of gradients summed in one call (default: a quarter of the model's, from 0.25 to 25).",
                               valueName: "MIB"))
    var bucketMB: Double?

    func validate() throws {
        if let k = checkReplicas, k < 1 { throw ValidationError("--check-replicas must be at least 1") }
        if let b = bucketMB, !(b > 0) { throw ValidationError("--bucket-mb must be positive") }
        if let b = bucketMB, b > 1_048_576 { throw ValidationError("--bucket-mb must be at most 1048576 (1 TiB)") }
    }

    /// Steps between replica checks: the flag, else 10 in a debug build, else none.
    var checkReplicasEvery: Int? {
        #if DEBUG
        return checkReplicas ?? 10
        #else
        return checkReplicas
        #endif
    }
}

/// This process's part in a data-parallel job: the group of processes, and
/// how errors are reported in it. Rank 0 prints progress and results; an error
/// that every process met at the same point is printed once and the job ends
/// normally with status 1; an error of one process alone ends every process
/// at once (MPI_Abort), naming the rank.
final class ReplicaJob {
    let group: any ProcessGroup
    var rank: Int { group.rank }
    var size: Int { group.size }

    init(group: any ProcessGroup) { self.group = group }

    /// Joins the MPI job when mpirun started this process or `--distributed` asks for it; nil for
    /// a run in one process. Refused (status 1, nothing written) when MPI cannot be used.
    static func start(requested: Bool) throws -> ReplicaJob? {
        let launched = Launch.detect()
        guard requested || launched != nil else { return nil }
        guard let launched else {
            printError("error: --distributed: this process was not started by an MPI launcher (no OMPI_COMM_WORLD_RANK or PMI_RANK in its environment); start every process with mpirun, e.g. mpirun -np 2 dlg train model.dlg")
            throw ExitCode.failure
        }
        do {
            return ReplicaJob(group: try Launch.joinMPI())
        } catch {
            // Every process fails alike: one message is enough.
            if launched.rank == 0 { printError("error: \(error.message)") }
            throw ExitCode.failure
        }
    }

    /// Threads per process unless chosen: the processors this process may use, shared with the
    /// other processes of the job on this machine when the launcher did not bind it.
    static func defaultThreads() -> Int {
        let allowed = Threads.allowedProcessorCount
        if allowed < Threads.coreCount { return allowed }
        return max(1, allowed / (Launch.localSize() ?? 1))
    }

    /// Runs a phase in which any process may fail on its own (reading the model, the data):
    /// its messages are held back until every process has finished the phase; then, if any
    /// failed, rank 0 says why, and so does every other failed process whose messages differ
    /// from rank 0's, and every process ends with status 1.
    func phase<T>(_ body: () throws -> T) throws -> T {
        let capture = StandardErrorCapture()
        var value: T?
        do {
            value = try body()
        } catch let e as ExitCode {
            _ = e
        } catch {
            printError("error: \(Self.describe(error))")
        }
        let text = capture.end()
        let code: UInt64 = value == nil ? (DataParallel.fingerprint(text) | 1) : 0
        let all: [[UInt64]]
        do { all = try group.allgather([code]) } catch {
            fail("error: \(error.message)")
        }
        if all.allSatisfy({ $0[0] == 0 }), let value {
            if rank == 0 { FileHandle.standardError.write(Data(text.utf8)) }
            return value
        }
        if value == nil, rank == 0 || all[0][0] != code {
            let failed = text.isEmpty ? "error: failed\n" : text
            FileHandle.standardError.write(Data((rank == 0 ? failed : Self.prefixed(failed, rank: rank)).utf8))
        }
        throw end(status: 1)
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let e as TrainError: return e.message
        case let e as DataError: return e.description
        case let e as CollectiveError: return e.message
        default: return "\(error)"
        }
    }

    /// Every line's `error: ` becomes `error: rank R: `.
    static func prefixed(_ text: String, rank: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("error: ") ? "error: rank \(rank): " + line.dropFirst(7) : String(line)
        }.joined(separator: "\n")
    }

    /// Reports an error of the training itself: once, from rank 0, when every process raised it
    /// together; otherwise from this process, which then ends the whole job.
    func report(_ error: Error) -> Never {
        if let e = error as? TrainError, e.collective {
            if !e.silent { printError("error: \(e.message)") }
            _ = end(status: 1)
            exit(1)
        }
        fail("error: rank \(rank): \(Self.describe(error))")
    }

    /// This process alone failed: say so and end every process of the job.
    func fail(_ message: String) -> Never {
        printError(message)
        group.abort(status: 1)
    }

    /// Leaves the job; the status to exit with.
    func end(status: Int32) -> ExitCode {
        group.finish()
        return ExitCode(status)
    }
}

/// Standard error sent to a temporary file until `end()`, which restores it and returns what was written.
final class StandardErrorCapture {
    let saved: Int32
    let fd: Int32
    let path: String

    init() {
        var template = Array((NSTemporaryDirectory() + "dlg-stderr-XXXXXX").utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        saved = dup(2)
        if fd >= 0 { dup2(fd, 2) }
    }

    func end() -> String {
        guard fd >= 0 else { return "" }
        dup2(saved, 2)
        close(saved)
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        close(fd)
        unlink(path)
        return text
    }
}
