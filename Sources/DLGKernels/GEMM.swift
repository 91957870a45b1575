/// An inconsistent size, stride or geometry handed to a dense kernel's plan
/// (GEMM, convolution, pooling, padding). `message` names the quantities and
/// the numbers that conflict.
public struct KernelGeometryError: Error, CustomStringConvertible, Hashable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A validated row-major GEMM, created once ("at lowering time") and run many
/// times:
///
///     C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C
///
/// All matrices are row-major. `op(A) = A` stored as m rows of k elements
/// with row stride `lda ≥ k` when `transA == false`; `op(A) = Aᵀ` with A
/// stored as k rows of m elements, `lda ≥ m`, when `transA == true`.
/// Likewise B is k×n (`ldb ≥ n`) or, transposed, n×k (`ldb ≥ k`); C is m×n
/// with `ldc ≥ n`. Leading dimensions default to the tight values.
///
/// Degenerate sizes are allowed: m = 0 or n = 0 does nothing; k = 0 sets
/// C ← beta·C (C ← 0 exactly when beta = 0).
public struct GemmPlan: Sendable, Hashable, CustomStringConvertible {
    public let m: Int
    public let n: Int
    public let k: Int
    public let transA: Bool
    public let transB: Bool
    public let lda: Int
    public let ldb: Int
    public let ldc: Int

    /// Validates the sizes: m, n, k ≥ 0, every leading dimension at least the
    /// row length of its stored matrix (and at least 1), and every size and
    /// leading dimension within OpenBLAS's 32-bit integer range.
    public init(m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil) throws(KernelGeometryError) {
        if m < 0 || n < 0 || k < 0 {
            throw KernelGeometryError("gemm: sizes must be non-negative, got m = \(m), n = \(n), k = \(k)")
        }
        let aCols = transA ? m : k, bCols = transB ? k : n
        let lda = lda ?? max(1, aCols), ldb = ldb ?? max(1, bCols), ldc = ldc ?? max(1, n)
        let aShape = transA ? "A is k×m = \(k)×\(m) (transposed)" : "A is m×k = \(m)×\(k)"
        let bShape = transB ? "B is n×k = \(n)×\(k) (transposed)" : "B is k×n = \(k)×\(n)"
        if lda < max(1, aCols) {
            throw KernelGeometryError("gemm: lda = \(lda) is smaller than the row length \(aCols); \(aShape)")
        }
        if ldb < max(1, bCols) {
            throw KernelGeometryError("gemm: ldb = \(ldb) is smaller than the row length \(bCols); \(bShape)")
        }
        if ldc < max(1, n) {
            throw KernelGeometryError("gemm: ldc = \(ldc) is smaller than the row length n = \(n) of C (m×n = \(m)×\(n))")
        }
        let limit = Int(Int32.max)
        for (name, value) in [("m", m), ("n", n), ("k", k), ("lda", lda), ("ldb", ldb), ("ldc", ldc)] where value > limit {
            throw KernelGeometryError("gemm: \(name) = \(value) exceeds the BLAS limit \(limit)")
        }
        let spans = [Self.span(rows: transA ? k : m, cols: aCols, ld: lda),
                     Self.span(rows: transB ? n : k, cols: bCols, ld: ldb),
                     Self.span(rows: m, cols: n, ld: ldc)]
        if spans.contains(nil) {
            throw KernelGeometryError("gemm: the matrices of m = \(m), n = \(n), k = \(k) with lda = \(lda), ldb = \(ldb), ldc = \(ldc) do not fit in memory")
        }
        self.m = m; self.n = n; self.k = k
        self.transA = transA; self.transB = transB
        self.lda = lda; self.ldb = ldb; self.ldc = ldc
    }

    /// A part of a validated plan (smaller sizes, the same leading
    /// dimensions), made without checks: a split product makes its parts on
    /// every call, and the checks' messages would allocate.
    @usableFromInline
    init(part m: Int, n: Int, k: Int, of plan: GemmPlan, ldc: Int? = nil) {
        self.m = m; self.n = n; self.k = k
        transA = plan.transA; transB = plan.transB
        lda = plan.lda; ldb = plan.ldb; self.ldc = ldc ?? plan.ldc
    }

    static func span(rows: Int, cols: Int, ld: Int) -> Int? {
        if rows == 0 || cols == 0 { return 0 }
        let (p, o) = (rows - 1).multipliedReportingOverflow(by: ld)
        if o { return nil }
        let (s, o2) = p.addingReportingOverflow(cols)
        return o2 ? nil : s
    }

    /// Rows × row stride of the stored A (as needed between batch items).
    public var aRowsTimesLd: Int { aStoredRows * lda }
    /// Rows × row stride of the stored B.
    public var bRowsTimesLd: Int { bStoredRows * ldb }
    /// Rows × row stride of C.
    public var cRowsTimesLd: Int { m * ldc }
    /// Rows and columns of A and B as stored (before `op`).
    public var aStoredRows: Int { transA ? k : m }
    public var aStoredCols: Int { transA ? m : k }
    public var bStoredRows: Int { transB ? n : k }
    public var bStoredCols: Int { transB ? k : n }
    /// Elements of A that the GEMM reads: from the first to the last one.
    public var aCount: Int { Self.span(rows: aStoredRows, cols: aStoredCols, ld: lda) ?? 0 }
    /// Elements of B that the GEMM reads: from the first to the last one.
    public var bCount: Int { Self.span(rows: bStoredRows, cols: bStoredCols, ld: ldb) ?? 0 }
    /// Elements of C that the GEMM writes: from the first to the last one.
    public var cCount: Int { Self.span(rows: m, cols: n, ld: ldc) ?? 0 }
    /// Floating-point operations of one run: 2·m·n·k.
    public var flops: Int { 2 * m * n * k }

    public var description: String {
        "gemm m=\(m) n=\(n) k=\(k)\(transA ? " Aᵀ" : "")\(transB ? " Bᵀ" : "") lda=\(lda) ldb=\(ldb) ldc=\(ldc)"
    }

    /// C ← alpha·op(A)·op(B) + beta·C on raw pointers, over `threads`
    /// threads of the kernels' worker pool: the product is cut as
    /// `split(threads:)` says, and each pool thread runs single-threaded
    /// OpenBLAS on its part (see `Threads` for the policy). OpenBLAS's own
    /// threads would share the cores with the pool's, which spin between
    /// kernels: the MLP's training step at batch 128 took 1.52 ms split this
    /// way against 1.75 with OpenBLAS's two threads, at batch 32 0.66 against
    /// 0.83 (Benchmarks/README.md, 2026-12-06). A split along the inner
    /// dimension needs `workspaceCount(threads:)` elements of `workspace`
    /// for its partial products; without them the product is cut along C's
    /// columns or rows instead. A row times a matrix (m = 1, a dense layer
    /// at batch 1) runs through gemv, which reads each element of B once:
    /// each thread reads the rows of B as stored (split along k, or along n
    /// for Bᵀ), the half of a weight matrix that the same thread updated and
    /// holds in its core's cache (the MLP's batch-1 step: 0.62 of its time
    /// on one thread). The pointers must hold at least `aCount`, `bCount`,
    /// `cCount` elements; C must not overlap A, B or `workspace`.
    @inlinable
    public func run<T: KernelScalar>(a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>,
                                     alpha: T = 1, beta: T = 0, threads: Int = Threads.count,
                                     workspace: UnsafeMutableBufferPointer<T>? = nil) {
        if m == 0 || n == 0 { return }
        if k > 0 { Threads.setBLASThreads(1) }
        var (along, parts) = split(threads: threads)
        if along == .inner, (workspace?.count ?? 0) < (parts - 1) * m * n { (along, parts) = split(threads: threads, inner: false) }
        if parts <= 1 {
            runOnCurrentBLASThreads(a: a, b: b, c: c, alpha: alpha, beta: beta)
            return
        }
        let block = Self.splitBlock
        let plan = self
        if along == .inner, let partials = workspace?.baseAddress {
            // Thread t multiplies its slice of the inner dimension: thread 0 into C (with beta),
            // the others into partial products, added to C afterwards in thread order.
            let (m, n, k) = (self.m, self.n, self.k)
            Threads.parallelChunks(0 ..< (k + block - 1) / block, threads: parts) { t, range in
                let k0 = range.lowerBound * block, k1 = Swift.min(range.upperBound * block, k)
                let part = GemmPlan(part: m, n: n, k: k1 - k0, of: plan, ldc: t == 0 ? plan.ldc : n)
                let pa = plan.transA ? a + k0 * plan.lda : a + k0, pb = plan.transB ? b + k0 : b + k0 * plan.ldb
                if t == 0 {
                    part.runOnCurrentBLASThreads(a: pa, b: pb, c: c, alpha: alpha, beta: beta)
                } else {
                    part.runOnCurrentBLASThreads(a: pa, b: pb, c: partials + (t - 1) * m * n, alpha: alpha, beta: 0)
                }
            }
            Threads.parallelFor(0 ..< m, threads: parts) { rows in
                for i in rows {
                    let row = c + i * plan.ldc
                    for t in 1 ..< parts {
                        SIMDMath.map2(row, partials + (t - 1) * m * n + i * n, row, n) { $0 + $1 }
                    }
                }
            }
            return
        }
        let alongColumns = along == .columns
        Threads.parallelChunks(0 ..< ((alongColumns ? n : m) + block - 1) / block, threads: parts) { _, range in
            let first = range.lowerBound * block
            let end = Swift.min(range.upperBound * block, alongColumns ? plan.n : plan.m)
            let part = plan.part(first ..< end, alongColumns: alongColumns)
            if alongColumns {
                part.runOnCurrentBLASThreads(a: a, b: plan.transB ? b + first * plan.ldb : b + first, c: c + first,
                                             alpha: alpha, beta: beta)
            } else {
                part.runOnCurrentBLASThreads(a: plan.transA ? a + first : a + first * plan.lda, b: b,
                                             c: c + first * plan.ldc, alpha: alpha, beta: beta)
            }
        }
    }

    /// Whether `run(a:b:c:alpha:beta:threads:epilogue:)` can follow each
    /// block of C's rows with an epilogue on the thread that computed it: when
    /// `run` cuts the product along C's rows, or does not cut it. C must be
    /// contiguous (`ldc == n`) so that a block of rows is a flat range.
    public func runsInRowBlocks(threads: Int) -> Bool {
        if m == 0 || n == 0 || ldc != n { return false }
        let (along, parts) = split(threads: threads)
        return parts <= 1 || along == .rows
    }

    /// Elements of C per block of `run(…, epilogue:)`: 256 KiB of f32, which
    /// stays in a core's L2 between the GEMM writing it and the epilogue
    /// reading it back.
    public static let epilogueBlockElements = 1 << 16

    /// Rows of C per block of `run(…, epilogue:)`: whole 16-row blocks of
    /// about `epilogueBlockElements` elements, the same at every thread count.
    public var epilogueBlockRows: Int {
        Swift.max(Self.splitBlock, Self.epilogueBlockElements / Swift.max(n, 1) / Self.splitBlock * Self.splitBlock)
    }

    /// C ← alpha·op(A)·op(B) + beta·C, then `epilogue(rows)` on each block of
    /// C's rows right after the block is computed, by the same thread, while
    /// the block is still in its core's cache (a fused elementwise chain
    /// reading the product). The threads take the parts of C's rows that
    /// `run` gives them; each part is computed `epilogueBlockRows` rows at a
    /// time, one sgemm call per block. Only where `runsInRowBlocks(threads:)`
    /// holds (otherwise the product runs as `run` does, then `epilogue` once
    /// over all rows, on this thread). The epilogue of a block must read no
    /// element of C outside it, nor write anything the product reads.
    @inlinable
    public func run<T: KernelScalar>(a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>,
                                     alpha: T = 1, beta: T = 0, threads: Int,
                                     epilogue: (_ rows: Range<Int>) -> Void) {
        if m == 0 || n == 0 { return }
        guard runsInRowBlocks(threads: threads) else {
            run(a: a, b: b, c: c, alpha: alpha, beta: beta, threads: threads)
            epilogue(0 ..< m)
            return
        }
        if k > 0 { Threads.setBLASThreads(1) }
        let parts = split(threads: threads).parts
        let block = Self.splitBlock, rowsPerBlock = epilogueBlockRows
        let plan = self
        Threads.parallelChunks(0 ..< (m + block - 1) / block, threads: parts) { _, range in
            let end = Swift.min(range.upperBound * block, plan.m)
            var first = range.lowerBound * block
            while first < end {
                let last = Swift.min(first + rowsPerBlock, end)
                plan.part(first ..< last, alongColumns: false)
                    .runOnCurrentBLASThreads(a: plan.transA ? a + first : a + first * plan.lda, b: b,
                                             c: c + first * plan.ldc, alpha: alpha, beta: beta)
                epilogue(first ..< last)
                first = last
            }
        }
    }

    /// Rows, columns or inner indices per block of a split product.
    @usableFromInline static let splitBlock = 16
    /// Least m·n·k per thread of a split product: below it a product runs on one thread.
    @usableFromInline static let splitWork = 1 << 16

    /// Along what a product is split over threads.
    public enum SplitAxis: Sendable, Hashable {
        /// Blocks of C's columns: each thread packs all of op(A) and its share of op(B).
        case columns
        /// Blocks of C's rows: each thread packs its share of op(A) and all of op(B).
        case rows
        /// Blocks of the inner dimension k: each thread reads its share of both
        /// operands and makes a partial m×n product; the partials are added.
        case inner
    }

    /// How `run` divides the product over `threads`, into `parts` chunks of
    /// whole 16-wide blocks, each of at least `splitWork` multiply-adds. Along
    /// the inner dimension when it is at least 4·m long (a dense layer's
    /// forward product at a small batch: the weight matrix op(B), k×n, is
    /// the big operand and each thread reads the half of its rows that the
    /// same thread wrote in the optimizer's update, split the same way; the
    /// MLP's training step at batch 128 took 0.94 of its time with C's
    /// columns), unless `inner` is false; otherwise along C's columns when C
    /// has at least as many columns as rows (each thread packs all of op(A),
    /// the smaller operand), else its rows. A single row of C (m = 1) splits
    /// along B's rows as stored: k, or n when B is transposed or `inner` is
    /// false. One part for a matrix times a column (n = 1) or an empty product.
    public func split(threads: Int, inner: Bool = true) -> (along: SplitAxis, parts: Int) {
        // A row times a matrix (m = 1) reads op(B) once: each thread takes the rows of B as stored.
        let alongK = inner && (m == 1 ? !transB : k >= 4 * m)
        let byShape: SplitAxis = alongK ? .inner : n >= m ? .columns : .rows
        if m < 1 || n <= 1 || k == 0 || threads <= 1 { return (byShape, 1) }
        let length = byShape == .inner ? k : byShape == .columns ? n : m
        let across = byShape == .inner ? m * n : byShape == .columns ? m * k : n * k
        let blocks = (length + Self.splitBlock - 1) / Self.splitBlock
        let perBlock = Self.splitBlock * across
        let parts = Threads.chunkCount(blocks, threads: threads, minChunk: (Self.splitWork + perBlock - 1) / perBlock)
        if byShape == .inner && parts <= 1 { return split(threads: threads, inner: false) }
        return (byShape, parts)
    }

    /// Elements of workspace `run` needs to split along the inner dimension
    /// at `threads` threads (the partial products): 0 when it splits otherwise.
    public func workspaceCount(threads: Int) -> Int {
        let (along, parts) = split(threads: threads)
        return along == .inner ? (parts - 1) * m * n : 0
    }

    /// The same product restricted to C's rows or columns `range` (pointers
    /// offset by the caller).
    @usableFromInline
    func part(_ range: Range<Int>, alongColumns: Bool) -> GemmPlan {
        GemmPlan(part: alongColumns ? m : range.count, n: alongColumns ? range.count : n, k: k, of: self)
    }

    /// `run` with OpenBLAS's own `threads` threads instead of the split (the
    /// library alone, as the reference the benchmarks' sgemm peak measures).
    @inlinable
    public func runOnBLASThreads<T: KernelScalar>(a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>,
                                                  alpha: T = 1, beta: T = 0, threads: Int) {
        if m == 0 || n == 0 { return }
        if k > 0 { Threads.setBLASThreads(m == 1 || n == 1 ? 1 : threads) }
        runOnCurrentBLASThreads(a: a, b: b, c: c, alpha: alpha, beta: beta)
    }

    /// `run` without touching OpenBLAS's thread count: for calls from inside
    /// a parallel loop after `Threads.setBLASThreads(1)`.
    @inlinable
    public func runOnCurrentBLASThreads<T: KernelScalar>(a: UnsafePointer<T>, b: UnsafePointer<T>,
                                                         c: UnsafeMutablePointer<T>, alpha: T = 1, beta: T = 0) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0 ..< m {
                let row = c + i * ldc
                if beta == 0 {
                    row.update(repeating: 0, count: n)
                } else if beta != 1 {
                    for j in 0 ..< n { row[j] *= beta }
                }
            }
            return
        }
        if m == 1 || n == 1 {
            runAsGemv(a: a, b: b, c: c, alpha: alpha, beta: beta)
            return
        }
        T.blasGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                   b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// A product with one row (m = 1) or one column (n = 1) is a
    /// matrix-vector product: through gemv it reads the matrix once, where
    /// sgemm would first pack it (at batch 1 a dense layer's forward product
    /// and its input gradient are of this kind). With beta = 0, C is
    /// zeroed first so that whatever it held (NaN included) is not scaled
    /// into the result, whichever OpenBLAS version's scal rules apply.
    @inlinable
    func runAsGemv<T: KernelScalar>(a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>,
                                    alpha: T, beta: T) {
        if beta == 0 {
            if m == 1 { c.update(repeating: 0, count: n) } else { for i in 0 ..< m { c[i * ldc] = 0 } }
        }
        if m == 1 {
            // c[1×n] = a[1×k]·op(B): y = op(B)ᵀ·a, B stored k×n (ldb) or, transposed, n×k.
            T.blasGemv(trans: !transB, m: bStoredRows, n: bStoredCols, alpha: alpha, a: b, lda: ldb,
                       x: a, incx: transA ? lda : 1, beta: beta, y: c, incy: 1)
        } else {
            // c[m×1] = op(A)·b[k×1]: A stored m×k (lda) or, transposed, k×m; c's elements ldc apart.
            T.blasGemv(trans: transA, m: aStoredRows, n: aStoredCols, alpha: alpha, a: a, lda: lda,
                       x: b, incx: transB ? 1 : ldb, beta: beta, y: c, incy: ldc)
        }
    }
}

/// A batch of equally shaped GEMMs at constant element strides (batched
/// matmul): for i in 0..<batch,
///
///     C + i·strideC ← alpha · op(A + i·strideA) · op(B + i·strideB) + beta · (C + i·strideC)
///
/// A stride of 0 broadcasts that operand over the batch (A and B only).
/// Strides default to the full stored matrix (rows × leading dimension).
public struct BatchedGemmPlan: Sendable, Hashable, CustomStringConvertible {
    public let gemm: GemmPlan
    public let batch: Int
    public let strideA: Int
    public let strideB: Int
    public let strideC: Int
    /// Broadcast batch axes: the output's batch dimensions, and per dimension A's and B's element
    /// strides (0 where that operand is broadcast). nil: batch i reads A at i·strideA, B at i·strideB.
    public let broadcast: BatchBroadcast?
    /// Per batch, where A's and B's matrices start (with `broadcast`; else empty and the strides say).
    @usableFromInline let offsetsA: [Int]
    @usableFromInline let offsetsB: [Int]

    /// Work (m·n·k) from which one GEMM is big enough to use all threads
    /// itself; smaller ones are spread over the batch instead.
    public static let bigGemmWork = 96 * 96 * 96

    /// Validates batch ≥ 0, strides ≥ 0, and strideC ≥ `gemm.cCount` when
    /// batch > 1 (outputs must not overlap); a broadcast's dimensions must multiply to `batch`.
    public init(_ gemm: GemmPlan, batch: Int, strideA: Int? = nil, strideB: Int? = nil,
                strideC: Int? = nil, broadcast: BatchBroadcast? = nil) throws(KernelGeometryError) {
        let sa = strideA ?? gemm.aRowsTimesLd, sb = strideB ?? gemm.bRowsTimesLd, sc = strideC ?? gemm.cRowsTimesLd
        if batch < 0 { throw KernelGeometryError("batched gemm: batch = \(batch) is negative") }
        if sa < 0 || sb < 0 || sc < 0 {
            throw KernelGeometryError("batched gemm: strides must be non-negative, got strideA = \(sa), strideB = \(sb), strideC = \(sc)")
        }
        if batch > 1 && sc < gemm.cCount {
            throw KernelGeometryError("batched gemm: strideC = \(sc) is smaller than one output matrix (\(gemm.cCount) elements for m×n = \(gemm.m)×\(gemm.n), ldc = \(gemm.ldc)); outputs would overlap")
        }
        for (name, s, count) in [("A", sa, gemm.aCount), ("B", sb, gemm.bCount), ("C", sc, gemm.cCount)] where batch > 0 {
            let (p, o) = (batch - 1).multipliedReportingOverflow(by: s)
            if o || p.addingReportingOverflow(count).overflow {
                throw KernelGeometryError("batched gemm: batch = \(batch) with stride\(name) = \(s) does not fit in memory")
            }
        }
        if let bc = broadcast {
            guard bc.dims.count == bc.stridesA.count, bc.dims.count == bc.stridesB.count,
                  bc.dims.allSatisfy({ $0 >= 1 }), bc.stridesA.allSatisfy({ $0 >= 0 }), bc.stridesB.allSatisfy({ $0 >= 0 }) else {
                throw KernelGeometryError("batched gemm: a broadcast needs one positive size and two non-negative strides per batch axis")
            }
            var product = 1
            for d in bc.dims {
                let (p, o) = product.multipliedReportingOverflow(by: d)
                if o || p > batch { throw KernelGeometryError("batched gemm: the broadcast axes \(bc.dims) do not make \(batch) matrices") }
                product = p
            }
            if product > 1 << 24 { throw KernelGeometryError("batched gemm: \(product) broadcast matrices are more than 2^24") }
            if product != batch { throw KernelGeometryError("batched gemm: the broadcast axes \(bc.dims) do not make \(batch) matrices") }
            for (name, strides) in [("A", bc.stridesA), ("B", bc.stridesB)] {
                var reach = 0
                for (d, s) in zip(bc.dims, strides) {
                    let (p, o) = (d - 1).multipliedReportingOverflow(by: s)
                    let (q, o2) = reach.addingReportingOverflow(p)
                    if o || o2 || q > Int.max / 4 { throw KernelGeometryError("batched gemm: the broadcast strides of \(name) do not fit in memory") }
                    reach = q
                }
            }
        }
        self.gemm = gemm; self.batch = batch
        self.strideA = sa; self.strideB = sb; self.strideC = sc
        self.broadcast = broadcast
        if let bc = broadcast {
            self.offsetsA = bc.offsets(\.stridesA)
            self.offsetsB = bc.offsets(\.stridesB)
        } else {
            self.offsetsA = []
            self.offsetsB = []
        }
    }

    /// Elements spanned by the whole batch of A, B and C.
    public var aCount: Int { batch == 0 ? 0 : (broadcast == nil ? (batch - 1) * strideA : offsetsA.max()!) + gemm.aCount }
    public var bCount: Int { batch == 0 ? 0 : (broadcast == nil ? (batch - 1) * strideB : offsetsB.max()!) + gemm.bCount }
    public var cCount: Int { batch == 0 ? 0 : (batch - 1) * strideC + gemm.cCount }

    /// Where batch i's A and B start.
    @inlinable public func offsetA(_ i: Int) -> Int { broadcast == nil ? i * strideA : offsetsA[i] }
    @inlinable public func offsetB(_ i: Int) -> Int { broadcast == nil ? i * strideB : offsetsB[i] }

    public var description: String {
        guard let bc = broadcast else {
            return "\(gemm) batch=\(batch) strideA=\(strideA) strideB=\(strideB) strideC=\(strideC)"
        }
        return "\(gemm) batch=\(bc.dims.map(String.init).joined(separator: "×")) stridesA=\(bc.stridesA) stridesB=\(bc.stridesB) strideC=\(strideC)"
    }

    /// Runs the batch. With `threads > 1` and GEMMs smaller than
    /// `bigGemmWork`, the batch is split into `threads` contiguous chunks run
    /// concurrently with single-threaded OpenBLAS; otherwise the GEMMs run
    /// one after another, each split over `threads` threads by `GemmPlan.run`.
    @inlinable
    public func run<T: KernelScalar>(a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>,
                                     alpha: T = 1, beta: T = 0, threads: Int = Threads.count) {
        if batch == 0 || gemm.m == 0 || gemm.n == 0 { return }
        let plan = gemm
        let sc = strideC
        let me = self
        if threads > 1 && batch > 1 && gemm.m * gemm.n * gemm.k < Self.bigGemmWork {
            Threads.setBLASThreads(1)
            Threads.parallelFor(0 ..< batch, threads: threads) { range in
                for i in range {
                    plan.runOnCurrentBLASThreads(a: a + me.offsetA(i), b: b + me.offsetB(i), c: c + i * sc, alpha: alpha, beta: beta)
                }
            }
        } else {
            for i in 0 ..< batch {
                plan.run(a: a + offsetA(i), b: b + offsetB(i), c: c + i * sc, alpha: alpha, beta: beta, threads: threads)
            }
        }
    }
}

/// The batch axes of a broadcasting batched GEMM: the output's batch dimensions (row-major,
/// batch i is their i-th index tuple) and, per dimension, A's and B's element strides (0 where
/// the operand has size 1 on that axis and is repeated).
public struct BatchBroadcast: Sendable, Hashable, Codable {
    public var dims: [Int]
    public var stridesA: [Int]
    public var stridesB: [Int]
    public init(dims: [Int], stridesA: [Int], stridesB: [Int]) {
        self.dims = dims
        self.stridesA = stridesA
        self.stridesB = stridesB
    }

    /// Each batch's offset under the given strides.
    func offsets(_ strides: KeyPath<BatchBroadcast, [Int]>) -> [Int] {
        let st = self[keyPath: strides]
        var out: [Int] = []
        let total = dims.reduce(1, *)
        out.reserveCapacity(total)
        var index = Array(repeating: 0, count: dims.count)
        for _ in 0..<total {
            out.append(zip(index, st).reduce(0) { $0 + $1.0 * $1.1 })
            var k = dims.count - 1
            while k >= 0 {
                index[k] += 1
                if index[k] < dims[k] { break }
                index[k] = 0
                k -= 1
            }
        }
        return out
    }
}
