import Testing
@testable import DLGKernels
#if canImport(Glibc)
import Glibc
#endif

/// Parent of the dense-kernel suites (GEMM, convolution, pooling, padding,
/// threads). Serialized because kernels set OpenBLAS's process-wide thread
/// count (see `Threads`), and the runtime calls them from one thread at a
/// time; running them concurrently would make that setting race.
@Suite(.serialized) struct DenseKernelTests {}

extension DenseKernelTests {
    @Suite struct ParallelTests {
        /// 10 indices over 3 chunks: 10 = 3·3 + 1, so the first chunk gets the
        /// extra index: 0..<4, 4..<7, 7..<10 (worked out by hand).
        @Test func chunksAreContiguousAndBalanced() {
            #expect(Threads.chunkCount(10, threads: 3) == 3)
            let parts = (0 ..< 3).map { Threads.chunk($0, of: 3, in: 0 ..< 10) }
            #expect(parts == [0 ..< 4, 4 ..< 7, 7 ..< 10])
            // An offset range keeps its offset: 5..<12 over 2 chunks = 5..<9, 9..<12.
            #expect(Threads.chunk(0, of: 2, in: 5 ..< 12) == 5 ..< 9)
            #expect(Threads.chunk(1, of: 2, in: 5 ..< 12) == 9 ..< 12)
        }

        /// chunkCount = min(threads, ceil(count / minChunk)), never more chunks than indices.
        @Test func chunkCountRespectsThreadsAndMinimumChunk() {
            #expect(Threads.chunkCount(0, threads: 4) == 0)
            #expect(Threads.chunkCount(2, threads: 8) == 2)
            #expect(Threads.chunkCount(10, threads: 4, minChunk: 4) == 3)   // ceil(10/4) = 3
            #expect(Threads.chunkCount(10, threads: 2, minChunk: 4) == 2)
            #expect(Threads.chunkCount(10, threads: 0) == 1)                 // at least one chunk
            #expect(Threads.chunkCount(1000, threads: 3, minChunk: 2000) == 1)
        }

        /// Every index is visited exactly once, whatever the thread count.
        @Test(arguments: [1, 2, 3, 7])
        func parallelForVisitsEveryIndexOnce(threads: Int) {
            var hits = [Int](repeating: 0, count: 101)
            hits.withUnsafeMutableBufferPointer { buffer in
                let p = buffer.baseAddress!
                Threads.parallelFor(0 ..< 101, threads: threads) { range in
                    for i in range { p[i] += 1 }
                }
            }
            #expect(hits == [Int](repeating: 1, count: 101))
        }

        /// The chunk index handed to the body names the chunk the range belongs to.
        @Test func parallelChunksReportsTheirIndex() {
            var seen = [Range<Int>](repeating: 0 ..< 0, count: 3)
            seen.withUnsafeMutableBufferPointer { buffer in
                let p = buffer.baseAddress!
                Threads.parallelChunks(3 ..< 20, threads: 3) { chunk, range in p[chunk] = range }
            }
            #expect(seen == [3 ..< 9, 9 ..< 15, 15 ..< 20])
        }

        /// Per-chunk partial sums combined in chunk order give the same bits
        /// on every run with the same thread count.
        @Test func chunkedSumIsReproducible() {
            var rng = RandomStream(seed: 11)
            let values = (0 ..< 1000).map { _ in rng.uniform(Float(-1), Float(1)) }
            func sum(threads: Int) -> Float {
                var partials = [Float](repeating: 0, count: threads)
                values.withUnsafeBufferPointer { v in
                    partials.withUnsafeMutableBufferPointer { buffer in
                        let p = buffer.baseAddress!, src = v.baseAddress!
                        Threads.parallelChunks(0 ..< v.count, threads: threads) { chunk, range in
                            var s: Float = 0
                            for i in range { s += src[i] }
                            p[chunk] = s
                        }
                    }
                }
                return partials.reduce(0, +)
            }
            let first = sum(threads: 2)
            for _ in 0 ..< 5 { #expect(sum(threads: 2).bitPattern == first.bitPattern) }
            // The value itself agrees with a Double sum to Float accuracy.
            let exact = values.reduce(0.0) { $0 + Double($1) }
            #expect(abs(Double(first) - exact) < 1e-3)
        }

        static func threadID() -> UInt {
            #if canImport(Glibc)
            UInt(pthread_self())
            #else
            UInt(bitPattern: pthread_self())
            #endif
        }

        /// A pool of its own with 3 threads (they stay, asleep, after the test): 20,000 jobs of 1 to 4 chunks in a
        /// row run every chunk exactly once, chunk 0 on the calling thread and the others on the pool's
        /// threads or, when one is late, the caller, including jobs that find the pool's threads asleep
        /// (after a pause longer than their spin).
        @Test func workerPoolRunsEveryChunkOnce() {
            let pool = WorkerPool(threads: 3)
            var counts = [Int](repeating: 0, count: 4)
            var owners = [UInt](repeating: 0, count: 4)
            var perJob = [Int](repeating: 0, count: 4)
            var exactlyOnce = true
            let caller = Self.threadID()
            counts.withUnsafeMutableBufferPointer { c in
                owners.withUnsafeMutableBufferPointer { o in
                    perJob.withUnsafeMutableBufferPointer { j in
                        for job in 0 ..< 20_000 {
                            let chunks = 1 + job % 4
                            if job % 5000 == 4999 { usleep(20_000) }
                            for i in 0 ..< 4 { j[i] = 0 }
                            let ran = pool.run(chunks: chunks) { i in
                                c[i] += 1
                                j[i] += 1
                                if i == 0 { o[0] = Self.threadID() }
                            }
                            #expect(ran)
                            if (0 ..< 4).contains(where: { j[$0] != ($0 < chunks ? 1 : 0) }) { exactlyOnce = false }
                        }
                    }
                }
            }
            // Chunk i runs in every job with more than i chunks: 20,000 − 5,000·i times.
            #expect(counts == [20_000, 15_000, 10_000, 5_000])
            #expect(exactlyOnce)
            #expect(owners[0] == caller)
        }

        /// A job does not wait for a pool thread that never comes (here: a pool whose threads were never
        /// started, as one off its processor for a whole time slice): the caller claims and runs the
        /// chunks no thread has started, each once, with the same chunk bounds.
        @Test func callerRunsChunksNoThreadStarted() {
            let pool = WorkerPool(threads: 3, startsThreads: false)
            var hits = [Int](repeating: 0, count: 4)
            let caller = Self.threadID()
            var onCaller = true
            hits.withUnsafeMutableBufferPointer { h in
                for chunks in 1 ... 4 {
                    #expect(pool.run(chunks: chunks) { i in
                        h[i] += 1
                        if Self.threadID() != caller { onCaller = false }
                    })
                }
            }
            #expect(hits == [4, 3, 2, 1])
            #expect(onCaller)
        }

        /// The pool declines a job with more chunks than it has threads, and
        /// one started while it runs another (here from inside a chunk);
        /// `parallelFor` then runs it on Dispatch, with the same chunks.
        @Test func workerPoolDeclinesNestedAndOversizedJobs() {
            let pool = WorkerPool(threads: 1)
            #expect(!pool.run(chunks: 3) { _ in })
            var nested = [Bool](repeating: true, count: 2)
            nested.withUnsafeMutableBufferPointer { n in
                #expect(pool.run(chunks: 2) { i in n[i] = pool.run(chunks: 2) { _ in } })
            }
            #expect(nested == [false, false])
            // Nested parallel loops through Threads: every (outer, inner) index once.
            var hits = [Int](repeating: 0, count: 6 * 50)
            hits.withUnsafeMutableBufferPointer { buffer in
                let p = buffer.baseAddress!
                Threads.parallelFor(0 ..< 6, threads: 2) { outer in
                    for o in outer {
                        Threads.parallelFor(0 ..< 50, threads: 2) { inner in
                            for i in inner { p[o * 50 + i] += 1 }
                        }
                    }
                }
            }
            #expect(hits == [Int](repeating: 1, count: 300))
        }

        /// With flushing on, a product that would be subnormal (10⁻³⁸ · 0.1 = 10⁻³⁹, below
        /// f32's smallest normal 1.18·10⁻³⁸) is zero and a subnormal input counts as zero;
        /// off, both keep their IEEE values. The thread's setting is restored afterwards.
        @Test func flushingDenormalsOnTheCurrentThread() {
            #if arch(x86_64) && os(Linux)
            @inline(never) func product(_ a: Float, _ b: Float) -> Float { a * b }
            let previous = Threads.setFlushingDenormalsOnCurrentThread(false)
            #expect(product(1e-38, 0.1) > 0)
            #expect(product(1e-39, 1e3) > 0)
            Threads.setFlushingDenormalsOnCurrentThread(true)
            #expect(product(1e-38, 0.1) == 0)
            #expect(product(1e-39, 1e3) == 0)
            #expect(product(2e-38, 1) == 2e-38)
            Threads.setFlushingDenormalsOnCurrentThread(previous)
            #endif
        }

        /// The processors this process may run on: at least one, none listed twice, in order.
        @Test func allowedProcessorsAreListed() {
            #if os(Linux)
            let cpus = Affinity.allowedProcessors()
            #expect(!cpus.isEmpty && cpus == cpus.sorted() && Set(cpus).count == cpus.count)
            #endif
        }

        /// configure sets the default thread count and OpenBLAS's; 0 selects the core count.
        @Test func configureSetsCountsAndRestores() {
            let original = Threads.count
            Threads.configure(3)
            #expect(Threads.count == 3)
            #expect(Threads.blasThreads == 3)
            Threads.configure(0)
            #expect(Threads.count == Threads.coreCount)
            Threads.configure(original)
            #expect(Threads.count == original)
            #expect(Threads.coreCount >= 1)
        }
    }
}
