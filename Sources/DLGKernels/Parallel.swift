import CBLAS
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thread configuration and deterministic parallel loops for the kernels.
///
/// ## Policy: never oversubscribe the cores
///
/// Two sources of threads exist in the process: the kernels' own parallel
/// loops (`parallelFor`, run on the pinned `WorkerPool`, or on Dispatch's
/// worker threads when the pool is busy) and OpenBLAS's thread pool. They are never stacked:
///
/// - `Threads.count` (default: the number of online cores) is the thread count
///   a kernel uses when the caller passes no explicit `threads:`.
///   `Threads.configure(n)` sets it and OpenBLAS's thread count to `n`.
/// - A kernel that runs GEMMs *inside* one of its own parallel loops (for
///   example one GEMM per image while the loop runs over the batch) first
///   switches OpenBLAS to one thread (`setBLASThreads(1)`), so that `threads`
///   loop chunks each run a single-threaded GEMM.
/// - A GEMM through `GemmPlan.run` is itself such a loop: it cuts the
///   product into blocks (of C's columns or rows, or of the inner dimension
///   with the partial products added), one per pool thread, each a
///   single-threaded OpenBLAS call, so that only the pool's threads run kernels.
/// - The im2col convolutions' GEMMs over a whole batch chunk (when the
///   batch is not split over threads) get all `threads` threads through
///   OpenBLAS (`setBLASThreads(threads)`), and no loop of ours runs at the
///   same time.
/// - Every public entry point that calls GEMM therefore sets OpenBLAS's thread
///   count itself before its GEMMs; the setting is cached so that an unchanged
///   count costs no call into OpenBLAS. Entry points are meant to be called
///   from one driving thread at a time (the runtime's interpreter); they must
///   not be called concurrently from several threads of a caller's own loop.
///
/// ## Determinism
///
/// A parallel loop splits its index range into at most `threads` contiguous
/// chunks whose bounds depend only on the range, the thread count and
/// `minChunk` (see `chunk(_:of:in:)`), never on scheduling. Kernels write
/// disjoint outputs from different chunks and combine partial results (if
/// any) in chunk order after the loop, so a result depends on the thread
/// count at most, never on timing.
public enum Threads {
    struct State {
        var count: Int
        var blas: Int
    }

    static let state = Mutex(State(count: Threads.coreCount, blas: Int(openblas_get_num_threads())))

    /// Whether the kernels' worker pool, when it starts, keeps each of its
    /// threads on one processor (the starting thread on the first processor
    /// it may run on, pool thread i on the i-th): a kernel then finds the
    /// part of a tensor it works on in the cache of the core that last wrote
    /// it. Off by default; the `dlg` command turns it on before its first
    /// kernel runs (and `DLG_PIN_THREADS=0` keeps it off). Only the first
    /// setting before the pool starts counts.
    public static var pinsThreads: Bool {
        get { pinning.load(ordering: .relaxed) }
        set { pinning.store(newValue, ordering: .relaxed) }
    }
    static let pinning = Atomic<Bool>(false)

    /// Whether the threads that run kernels treat subnormal floats (below
    /// 1.2·10⁻³⁸ in f32) as zero, in their inputs and results (the SSE
    /// control bits flush-to-zero and denormals-are-zero). Arithmetic on
    /// subnormals costs a hundred cycles or more per operation on x86 CPUs,
    /// and training makes them: a momentum velocity whose gradient stays 0
    /// (a weight of an always-zero pixel) decays by 0.9 per step and is
    /// subnormal after about 800 steps — the MLP's batch-1 step on random
    /// data took 1.55 ms over 3000 steps against 0.38 ms over 300. Off by
    /// default; the `dlg` command turns it on for its own thread (and
    /// `DLG_DENORMALS=keep` keeps IEEE subnormals); the worker pool's threads
    /// follow the setting when the pool starts.
    public static var flushesDenormals: Bool {
        get { flushing.load(ordering: .relaxed) }
        set { flushing.store(newValue, ordering: .relaxed) }
    }
    static let flushing = Atomic<Bool>(false)

    /// Sets or clears flush-to-zero and denormals-are-zero for the calling
    /// thread (x86-64 Linux; elsewhere nothing) and returns the previous state.
    @discardableResult
    public static func setFlushingDenormalsOnCurrentThread(_ on: Bool) -> Bool {
        #if arch(x86_64) && canImport(Glibc)
        var env = fenv_t()
        fegetenv(&env)
        let bits: UInt32 = 0x8040
        let previous = env.__mxcsr & bits == bits
        env.__mxcsr = on ? env.__mxcsr | bits : env.__mxcsr & ~bits
        fesetenv(&env)
        return previous
        #else
        return false
        #endif
    }

    /// The number of online processor cores (at least 1).
    public static var coreCount: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n < 1 ? 1 : Int(n)
    }

    /// The configured thread count: the default `threads:` of every kernel.
    public static var count: Int { state.withLock { $0.count } }

    /// OpenBLAS's current thread count as last set through `Threads`.
    public static var blasThreads: Int { state.withLock { $0.blas } }

    /// Sets the kernels' default thread count and OpenBLAS's thread count to
    /// `n`. A value below 1 selects `coreCount`. Values above `coreCount` are
    /// honoured (the caller asked for them) but oversubscribe the machine.
    public static func configure(_ n: Int) {
        let value = n < 1 ? coreCount : n
        state.withLock {
            $0.count = value
            if $0.blas != value {
                openblas_set_num_threads(Int32(clamping: value))
                $0.blas = value
            }
        }
    }

    /// Sets OpenBLAS's thread count to `n` (at least 1) unless it already is.
    /// Kernels call this before their GEMMs: with `1` before a parallel loop
    /// whose chunks call GEMM, with their `threads` before a single big GEMM.
    public static func setBLASThreads(_ n: Int) {
        let value = max(1, n)
        state.withLock {
            if $0.blas != value {
                openblas_set_num_threads(Int32(clamping: value))
                $0.blas = value
            }
        }
    }

    /// The number of chunks a loop over `count` indices is split into:
    /// `min(threads, ceil(count / minChunk))`, at least 1 when `count > 0`
    /// and 0 when `count == 0`.
    @inlinable
    public static func chunkCount(_ count: Int, threads: Int, minChunk: Int = 1) -> Int {
        if count <= 0 { return 0 }
        let per = max(1, minChunk)
        let byWork = (count + per - 1) / per
        return max(1, min(max(1, threads), byWork))
    }

    /// Chunk `i` of `chunks` equal contiguous parts of `range`: the first
    /// `range.count % chunks` chunks hold one index more than the others.
    @inlinable
    public static func chunk(_ i: Int, of chunks: Int, in range: Range<Int>) -> Range<Int> {
        let q = range.count / chunks, r = range.count % chunks
        let start = range.lowerBound + i * q + min(i, r)
        return start ..< start + q + (i < r ? 1 : 0)
    }

    /// Runs `body` over `range` split into `chunkCount(range.count, threads:,
    /// minChunk:)` contiguous chunks, concurrently when there is more than
    /// one chunk, and returns when all chunks are done. `body` receives each
    /// chunk's index and its sub-range; it must only write data that no other
    /// chunk touches. With one chunk, `body` runs on the calling thread.
    @inlinable
    public static func parallelChunks(_ range: Range<Int>, threads: Int = Threads.count, minChunk: Int = 1,
                                      _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
        let chunks = chunkCount(range.count, threads: threads, minChunk: minChunk)
        if chunks == 0 { return }
        if chunks == 1 {
            body(0, range)
            return
        }
        if WorkerPool.shared.run(chunks: chunks, { i in body(i, chunk(i, of: chunks, in: range)) }) { return }
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendableBox(escapable)
            DispatchQueue.concurrentPerform(iterations: chunks) { i in
                box.value(i, chunk(i, of: chunks, in: range))
            }
        }
    }

    /// Elements from which an elementwise loop splits over threads: below
    /// 32K elements (128 KiB of f32) a second thread costs more than it saves.
    public static let elementwiseMinChunk = 1 << 15

    /// Runs `body` over `0 ..< count` in at most `threads` contiguous ranges
    /// of at least `elementwiseMinChunk` elements, each starting at a multiple of 16.
    @inlinable
    public static func elementwise(_ count: Int, threads: Int = Threads.count, _ body: (_ range: Range<Int>) -> Void) {
        let vectors = (count + 15) / 16
        parallelFor(0 ..< vectors, threads: threads, minChunk: elementwiseMinChunk / 16) { r in
            body(r.lowerBound * 16 ..< Swift.min(count, r.upperBound * 16))
        }
    }

    /// `parallelChunks` without the chunk index: runs `body` on contiguous
    /// sub-ranges of `range`, at most `threads` of them, concurrently.
    @inlinable
    public static func parallelFor(_ range: Range<Int>, threads: Int = Threads.count, minChunk: Int = 1,
                                   _ body: (_ range: Range<Int>) -> Void) {
        parallelChunks(range, threads: threads, minChunk: minChunk) { _, sub in body(sub) }
    }
}

/// Carries a non-Sendable value (a closure capturing raw pointers) into
/// Dispatch's worker threads. Safe only because `parallelChunks` hands each
/// invocation a disjoint sub-range and waits for all of them.
@usableFromInline
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    @usableFromInline let value: Value
    @inlinable init(_ value: Value) { self.value = value }
}
