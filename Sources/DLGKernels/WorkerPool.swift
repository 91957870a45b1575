import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The threads behind `Threads.parallelChunks`: a fork-join pool of
/// `coreCount − 1` threads of its own plus the calling thread, which runs
/// chunk 0. Pool thread `i` first claims chunk `i`, so that a kernel that
/// splits a tensor the same way as the kernel before it finds its part in
/// the cache of the core that just wrote it (a batch-1 training step reads
/// and writes the same weight and velocity halves in every update), and a
/// job costs a few atomic operations instead of a round trip through
/// Dispatch's queues.
///
/// A chunk is claimed before it runs (one claim word per chunk, holding the
/// generation of the job that last claimed it), and a thread that is done
/// with its own chunk — the caller included — claims the chunks that no
/// thread has started. So a pool thread that is off its processor (another
/// process runs there, or it is still waking up) delays a job by at most
/// the chunk it already started, not by its whole time slice: the caller
/// does the rest. Chunk bounds do not change with who runs them, so neither
/// do the results.
///
/// Between jobs the pool's threads spin for a while (about the gap between
/// two kernels of a step), then sleep on a condition variable until the
/// next job. A call made while the pool is running another job — a nested
/// parallel loop, or another thread of the caller's — runs on Dispatch
/// instead, as does one that asks for more chunks than the pool has
/// threads; the chunks' bounds, and so the results, are the same either way.
@usableFromInline
final class WorkerPool: @unchecked Sendable {
    /// The shared pool, started on first use.
    @usableFromInline static let shared = WorkerPool(threads: Threads.coreCount - 1)

    /// Threads of the pool besides the caller.
    let threads: Int

    /// The job: published as `generation << 16 | chunks`, so that a thread
    /// past the job's chunks never reads `body`.
    private let word = Atomic<Int>(0)
    /// Chunks of the current job that have not finished.
    private let remaining = Atomic<Int>(0)
    /// Per chunk 1…threads, the generation of the job that last claimed it
    /// (chunk 0 is always the caller's); index 0 is unused.
    private let claims: UnsafeMutablePointer<Atomic<Int>>
    /// Set while a job runs; a second caller finds it set and uses Dispatch.
    private let busy = Atomic<Bool>(false)
    /// Threads asleep on `condition`.
    private let sleepers = Atomic<Int>(0)
    /// The job's body: the address of a `Job` on the caller's stack, set for
    /// the duration of the job. (A closure stored in memory as an optional
    /// would be wrapped in a heap-allocated thunk on every job.)
    private let body: UnsafeMutablePointer<UnsafeRawPointer?>

    private struct Job {
        let body: (Int) -> Void
    }
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    /// Iterations a pool thread spins on the job word before it sleeps (tens
    /// of microseconds: longer than most gaps between two parallel kernels of
    /// a step). A thread asleep when the next job comes wakes too late for its
    /// chunk, which the caller then runs, reading the half of the tensor that
    /// sits in the other core's cache. Medians of interleaved `dlg bench` runs
    /// (2 cores, SGD with momentum), 2048 spins against 65536: the MLP at
    /// batch 1 0.14–0.23 against 0.09–0.16 ms, at batch 32 0.58–0.74 against
    /// 0.46–0.61 ms; ResNet-20 at batch 32 46–58 against 39–49 ms; LeNet-5 at
    /// batch 128 2.6–3.6 against 2.9–4.3 ms (minima 2.2–2.7 against 2.0–2.1).
    /// A convolution pass that runs on OpenBLAS's own threads competes with a
    /// spinning pool thread.
    static let spins = 65536

    /// The processors pool thread `i` is kept on (the caller being thread 0),
    /// set when the pool starts if `Threads.pinsThreads`; empty otherwise.
    let processors: [Int]

    /// A pool of `threads` threads besides the caller; `startsThreads: false` (tests only) makes one whose
    /// threads never come, so that the caller runs every chunk.
    init(threads: Int, startsThreads: Bool = true) {
        let allowed = Threads.pinsThreads ? Affinity.allowedProcessors() : []
        processors = allowed.count > threads ? Array(allowed.prefix(threads + 1)) : []
        if let first = processors.first { Affinity.pinCurrentThread(to: first) }
        self.threads = max(0, threads)
        claims = .allocate(capacity: self.threads + 1)
        for i in 0 ... self.threads { (claims + i).initialize(to: Atomic<Int>(0)) }
        body = .allocate(capacity: 1)
        body.initialize(to: nil)
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        for index in 0 ..< (startsThreads ? self.threads : 0) {
            let context = Unmanaged.passRetained(Start(pool: self, index: index + 1)).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { context in
                let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
                start.pool.work(index: start.index)
                return nil
            }, context)
            if started == 0 { pthread_detach(thread) }
        }
    }

    private final class Start {
        let pool: WorkerPool
        let index: Int
        init(pool: WorkerPool, index: Int) { self.pool = pool; self.index = index }
    }

    /// Runs `body(i)` for every chunk `i < chunks`, chunk 0 on the calling
    /// thread, and returns when all are done. Returns false, running
    /// nothing, when the pool cannot take the job (busy, or too few threads).
    @usableFromInline
    func run(chunks: Int, _ body: (Int) -> Void) -> Bool {
        guard chunks - 1 <= threads, chunks < 1 << 16,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { escapable in
            var job = Job(body: escapable)
            withUnsafePointer(to: &job) { job in
                self.body.pointee = UnsafeRawPointer(job)
                remaining.store(chunks - 1, ordering: .relaxed)
                let generation = (word.load(ordering: .relaxed) >> 16) + 1
                word.store(generation << 16 | chunks, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(mutex)
                    pthread_cond_broadcast(condition)
                    pthread_mutex_unlock(mutex)
                }
                job.pointee.body(0)
                // The chunks no pool thread has started yet are the caller's too.
                var ran = 0
                for i in 1 ..< chunks where claim(i, generation: generation) {
                    job.pointee.body(i)
                    ran += 1
                }
                if ran > 0 { remaining.subtract(ran, ordering: .relaxed) }
                while remaining.load(ordering: .acquiring) > 0 {}
                self.body.pointee = nil
            }
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    /// Claims chunk `i` (1 ≤ i ≤ threads) for the job of `generation`: true
    /// for the one thread that gets it, false when another thread of this job
    /// (or, for a thread that saw an older job's word late, of a later job)
    /// already has. Generations only grow, and every chunk of a job is
    /// claimed before the job ends, so a thread that is late for a job can
    /// never claim one of its chunks (and so never reads its body).
    @inline(__always)
    private func claim(_ i: Int, generation: Int) -> Bool {
        var seen = claims[i].load(ordering: .relaxed)
        while seen < generation {
            let (exchanged, original) = claims[i].compareExchange(expected: seen, desired: generation,
                                                                  ordering: .acquiringAndReleasing)
            if exchanged { return true }
            seen = original
        }
        return false
    }

    /// A pool thread's loop: wait for a job word it has not seen, run its
    /// chunk if the job has one for it.
    private func work(index: Int) {
        if index < processors.count { Affinity.pinCurrentThread(to: processors[index]) }
        if Threads.flushesDenormals { Threads.setFlushingDenormalsOnCurrentThread(true) }
        var seen = 0
        while true {
            var current = word.load(ordering: .acquiring)
            var spun = 0
            while current == seen {
                spun += 1
                if spun < WorkerPool.spins {
                    current = word.load(ordering: .acquiring)
                    continue
                }
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                current = word.load(ordering: .sequentiallyConsistent)
                while current == seen {
                    pthread_cond_wait(condition, mutex)
                    current = word.load(ordering: .sequentiallyConsistent)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
            }
            seen = current
            // Its own chunk, then any that no thread has started (not chunk 0: the caller's). A thread
            // without a chunk of its own in the job stays out, so that chunk i stays on thread i when
            // every thread is on time.
            let chunks = current & 0xFFFF, generation = current >> 16
            if index < chunks {
                for k in 0 ..< chunks - 1 {
                    let i = (index - 1 + k) % (chunks - 1) + 1
                    if claim(i, generation: generation) {
                        runChunk(i)
                        remaining.subtract(1, ordering: .releasing)
                    }
                }
            }
        }
    }

    /// Calls the body for one chunk. A function of its own, so that every
    /// reference it takes to the body is dropped before the chunk is counted
    /// as done and the caller ends the body's lifetime.
    @inline(never)
    private func runChunk(_ index: Int) {
        body.pointee?.assumingMemoryBound(to: Job.self).pointee.body(index)
    }
}

/// The calling thread's processor affinity, through `sched_getaffinity` and
/// `sched_setaffinity` (looked up at run time: Swift's Glibc module does not
/// declare them). On other systems, or when the lookup fails, nothing is pinned.
enum Affinity {
    #if canImport(Glibc)
    typealias Call = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32

    static func function(_ name: String) -> Call? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: Call.self) }
    }
    #endif

    /// The processors this thread may run on, in increasing order.
    static func allowedProcessors() -> [Int] {
        #if canImport(Glibc)
        guard let get = function("sched_getaffinity") else { return [] }
        var set = cpu_set_t()
        let ok = withUnsafeMutableBytes(of: &set) { get(0, $0.count, $0.baseAddress!) } == 0
        guard ok else { return [] }
        return withUnsafeBytes(of: set) { raw in
            let words = raw.bindMemory(to: UInt64.self)
            return (0 ..< words.count * 64).filter { words[$0 / 64] & (1 << UInt64($0 % 64)) != 0 }
        }
        #else
        return []
        #endif
    }

    /// Keeps the calling thread on `processor`.
    static func pinCurrentThread(to processor: Int) {
        #if canImport(Glibc)
        guard let set = function("sched_setaffinity") else { return }
        var mask = cpu_set_t()
        withUnsafeMutableBytes(of: &mask) { raw in
            let words = raw.bindMemory(to: UInt64.self)
            guard processor / 64 < words.count else { return }
            words[processor / 64] |= 1 << UInt64(processor % 64)
            _ = set(0, raw.count, raw.baseAddress!)
        }
        #endif
    }
}

extension Threads {
    /// The processors the calling thread may run on (its affinity mask), or `coreCount` when
    /// that is unknown. A launcher that binds each process to some cores (mpirun) makes it
    /// fewer than the online cores.
    public static var allowedProcessorCount: Int {
        let n = Affinity.allowedProcessors().count
        return n > 0 ? n : coreCount
    }
}
