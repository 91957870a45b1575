#if canImport(CMPI)
import CMPI
import DLGGraph
import DLGRuntime
import Foundation

/// The processes of an MPI job (`MPI_COMM_WORLD`) as the replicas of a
/// data-parallel run, over Open MPI.
///
/// All MPI calls are serialized (`MPI_THREAD_SERIALIZED`): a started sum runs
/// on a worker thread of this group while the caller goes on computing; a
/// blocking call runs on the caller's thread when nothing is queued before it,
/// else after what is. So every rank makes its collective calls in the order
/// its program issued them, as MPI requires. Counts above what one MPI call
/// takes (2³¹ − 1) are split into several calls.
public final class MPIGroup: ProcessGroup, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    let worker = Worker()
    /// Sums started and not yet finished, by buffer (touched by the caller's thread only).
    var pending: [UnsafeMutableRawPointer: Worker.Job] = [:]
    public private(set) var waitSeconds = 0.0
    var finished = false


    /// Initializes MPI (once per process) and learns this process's rank.
    public init() throws(CollectiveError) {
        var provided: Int32 = 0
        try MPIGroup.check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_SERIALIZED), &provided), "MPI_Init_thread")
        guard provided >= Int32(MPI_THREAD_SERIALIZED) else {
            MPI_Finalize()
            throw CollectiveError("this MPI library does not allow calls from several threads (MPI_THREAD_SERIALIZED)")
        }
        // Errors come back as return codes (and become messages) instead of ending the process.
        MPI_Comm_set_errhandler(dlg_mpi_comm_world(), dlg_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        try MPIGroup.check(MPI_Comm_rank(dlg_mpi_comm_world(), &r), "MPI_Comm_rank")
        try MPIGroup.check(MPI_Comm_size(dlg_mpi_comm_world(), &s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
        worker.start()
    }

    static func check(_ code: Int32, _ what: String) throws(CollectiveError) {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        let message = String(decoding: text.prefix(Int(max(0, length))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw CollectiveError("\(what) failed: \(message.isEmpty ? "error \(code)" : message)")
    }

    static func datatype(_ d: DType) -> MPI_Datatype {
        switch d {
        case .f32: return dlg_mpi_float()
        case .f64: return dlg_mpi_double()
        case .i32: return dlg_mpi_int32()
        }
    }

    /// The in-place sum of `count` elements at `buffer` (on whichever thread runs it).
    static func sum(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType) -> (Int32, String) {
        for p in Launch.pieces(count) {
            let code = MPI_Allreduce(dlg_mpi_in_place(), buffer + p.lowerBound * dtype.byteSize, Int32(p.count),
                                     datatype(dtype), dlg_mpi_sum(), dlg_mpi_comm_world())
            if code != 0 { return (code, "MPI_Allreduce") }
        }
        return (0, "")
    }

    func blocking(_ work: @escaping () -> (Int32, String)) throws(CollectiveError) {
        guard !finished else { throw CollectiveError("MPI has been finalized") }
        let t = DispatchTime.now().uptimeNanoseconds
        let (code, what) = worker.runNow(work)
        waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - t) * 1e-9
        try MPIGroup.check(code, what)
    }

    public func allreduceSum(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType) throws(CollectiveError) {
        guard count >= 0 else { throw CollectiveError("a sum of \(count) elements") }
        let b = UncheckedPointer(buffer)
        try blocking { MPIGroup.sum(b.pointer, count: count, dtype: dtype) }
    }

    public func startAllreduceSum(_ buffer: UnsafeMutableRawPointer, count: Int, dtype: DType) throws(CollectiveError) {
        guard !finished else { throw CollectiveError("MPI has been finalized") }
        guard count >= 0 else { throw CollectiveError("a sum of \(count) elements") }
        guard pending[buffer] == nil else { throw CollectiveError("a sum is already under way in this buffer") }
        let b = UncheckedPointer(buffer)
        pending[buffer] = worker.enqueue { MPIGroup.sum(b.pointer, count: count, dtype: dtype) }
    }

    public func finishAllreduce(_ buffer: UnsafeMutableRawPointer) throws(CollectiveError) {
        guard let job = pending.removeValue(forKey: buffer) else {
            throw CollectiveError("no sum was started in this buffer")
        }
        let t = DispatchTime.now().uptimeNanoseconds
        job.done.wait()
        waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - t) * 1e-9
        try MPIGroup.check(job.code, job.what)
    }

    public func allgather(_ values: [UInt64]) throws(CollectiveError) -> [[UInt64]] {
        let n = values.count
        guard n * size <= Launch.maxCount else { throw CollectiveError("an allgather of \(n) values from \(size) ranks is too large") }
        let out = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(n * size, 1))
        defer { out.deallocate() }
        let send = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(n, 1))
        defer { send.deallocate() }
        _ = send.initialize(from: values)
        let (s, o) = (UncheckedPointer(UnsafeMutableRawPointer(send.baseAddress!)), UncheckedPointer(UnsafeMutableRawPointer(out.baseAddress!)))
        try blocking {
            (MPI_Allgather(s.pointer, Int32(n), dlg_mpi_uint64(), o.pointer, Int32(n), dlg_mpi_uint64(), dlg_mpi_comm_world()),
             "MPI_Allgather")
        }
        return (0..<size).map { r in Array(out[(r * n)..<((r + 1) * n)]) }
    }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws(CollectiveError) {
        guard (0..<size).contains(root), bytes >= 0 else { throw CollectiveError("a broadcast of \(bytes) bytes from rank \(root)") }
        let b = UncheckedPointer(buffer)
        try blocking {
            for p in Launch.pieces(bytes) {
                let code = MPI_Bcast(b.pointer + p.lowerBound, Int32(p.count), dlg_mpi_byte(), Int32(root), dlg_mpi_comm_world())
                if code != 0 { return (code, "MPI_Bcast") }
            }
            return (0, "")
        }
    }

    /// Ends every process of the job at once (MPI_Abort), with this exit status.
    public func abort(status: Int32) -> Never {
        MPI_Abort(dlg_mpi_comm_world(), status)
        exit(status)
    }

    /// Waits for the work under way, then finalizes MPI; the group is unusable afterwards.
    public func finish() {
        guard !finished else { return }
        finished = true
        for (_, job) in pending { job.done.wait() }
        pending = [:]
        worker.stop()
        MPI_Finalize()
    }
}

/// A pointer that crosses to the worker thread; the caller keeps the memory alive
/// and untouched until the work is done.
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ p: UnsafeMutableRawPointer) { pointer = p }
}

/// The thread that runs started sums, one after another, and lets a blocking call
/// run on its caller's thread when nothing is queued.
final class Worker: @unchecked Sendable {
    final class Job: @unchecked Sendable {
        let work: () -> (Int32, String)
        let done = DispatchSemaphore(value: 0)
        var code: Int32 = 0
        var what = ""
        init(_ work: @escaping () -> (Int32, String)) { self.work = work }
    }
    let lock = NSCondition()
    var queue: [Job] = []
    /// An MPI call is running (on the worker or on a caller).
    var busy = false
    var stopping = false
    var thread: Thread?

    func start() {
        let t = Thread { [self] in loop() }
        t.name = "dlg-mpi"
        thread = t
        t.start()
    }

    func loop() {
        while true {
            lock.lock()
            while (queue.isEmpty || busy) && !(stopping && queue.isEmpty) { lock.wait() }
            if queue.isEmpty {
                lock.unlock()
                return
            }
            let job = queue.removeFirst()
            busy = true
            lock.unlock()
            (job.code, job.what) = job.work()
            lock.lock()
            busy = false
            lock.broadcast()
            lock.unlock()
            job.done.signal()
        }
    }

    func enqueue(_ work: @escaping () -> (Int32, String)) -> Job {
        let job = Job(work)
        lock.lock()
        queue.append(job)
        lock.broadcast()
        lock.unlock()
        return job
    }

    /// Runs `work` after everything queued, on the caller's thread when nothing is.
    func runNow(_ work: @escaping () -> (Int32, String)) -> (Int32, String) {
        lock.lock()
        if queue.isEmpty && !busy {
            busy = true
            lock.unlock()
            let r = work()
            lock.lock()
            busy = false
            lock.broadcast()
            lock.unlock()
            return r
        }
        lock.unlock()
        let job = enqueue(work)
        job.done.wait()
        return (job.code, job.what)
    }

    func stop() {
        lock.lock()
        stopping = true
        lock.broadcast()
        lock.unlock()
        // The loop returns once the queue is empty; a job's done signal comes after its
        // last touch of the lock, so nothing runs after this returns but the loop's exit.
        while true {
            lock.lock()
            let idle = queue.isEmpty && !busy
            lock.unlock()
            if idle { return }
            usleep(100)
        }
    }
}
#endif
