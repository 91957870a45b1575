#if arch(x86_64)
import DLGKernelsAVX512
#endif

/// An f32 GEMM whose right operand op(B) is a matrix that stays the same over
/// many products (a weight matrix of an inference program), packed once by
/// `pack(b:)` into panels of 32 columns, then multiplied by `run` as often as
/// wanted: C ← op(A)·op(B), plus a bias per column of C and an activation
/// applied as each tile of C is stored.
///
/// The product runs on AVX-512 only (`PackedProduct` in DLGKernelsAVX512):
/// `PackedGemm(plan:)` is nil on other CPUs, for other element types than f32,
/// and for empty products; `GemmPlan.run` is the path then. Each element of C
/// is one chain of fused multiply-adds along the inner dimension — no split of
/// k over threads, no partial products to add (`GemmPlan.run` splits a dense
/// layer's k over threads and adds the halves). The work is split over the
/// kernels' worker pool by panels of C's columns (by blocks of rows, too, when
/// there are fewer panels than threads). `pack` must be called again whenever
/// B's values change; the object owns the packed copy (k × 32·⌈n/32⌉ floats),
/// or shares another's (`init(plan:sharing:)`: products by the same op(B) with
/// other A's, packed once for all of them).
///
/// `PackedGemm.run(plan:a:b:c:accumulate:threads:workspace:)` is the same
/// product for a B that changes with every call (no parameter operand): it
/// packs op(B) into the caller's workspace, `kBlock` rows of it at a time,
/// and multiplies block after block, each C element still one chain.
public final class PackedGemm: @unchecked Sendable {
    public let plan: GemmPlan
    /// Panels of 32 columns of C.
    public let panels: Int
    /// The packed copy, shared by the `PackedGemm`s made with `init(plan:sharing:)`.
    let storage: PackedStorage
    @usableFromInline var packed: UnsafeMutablePointer<Float> { storage.pointer }

    /// Owns the packed floats.
    final class PackedStorage: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
        init(count: Int) {
            pointer = .allocate(capacity: count)
            pointer.initialize(repeating: 0, count: count)
        }
        deinit { pointer.deallocate() }
    }

    /// Nil where the packed product does not run: without AVX-512 (or with
    /// `DLG_KERNELS=baseline`), for `T` other than Float, and when m, n or k is 0.
    public init?<T: KernelScalar>(plan: GemmPlan, _: T.Type) {
        guard usesAVX512(T.self), plan.m > 0, plan.n > 0, plan.k > 0 else { return nil }
        #if arch(x86_64)
        self.plan = plan
        panels = (plan.n + PackedProduct.panelWidth - 1) / PackedProduct.panelWidth
        storage = PackedStorage(count: panels * PackedProduct.panelWidth * plan.k)
        #else
        return nil
        #endif
    }

    /// The product `plan` by the op(B) that `other` packs — the same k, n, layout of B
    /// (`transB`, `ldb`), any A and C — reading `other`'s packed copy (nil for another op(B),
    /// or m = 0). Packing either packs both.
    public init?(plan: GemmPlan, sharing other: PackedGemm) {
        guard plan.m > 0, plan.k == other.plan.k, plan.n == other.plan.n, plan.transB == other.plan.transB,
              plan.ldb == other.plan.ldb else { return nil }
        self.plan = plan
        panels = other.panels
        storage = other.storage
    }

    /// Whether `a` and `b` multiply the same op(B) (`init(plan:sharing:)` shares between them).
    public static func sameB(_ a: GemmPlan, _ b: GemmPlan) -> Bool {
        a.k == b.k && a.n == b.n && a.transB == b.transB && a.ldb == b.ldb
    }

    /// Elements of the packed copy.
    public var packedCount: Int { panels * 32 * plan.k }

    /// Bytes `PackedGemm(plan:)` allocates for f32 where it runs (0 elsewhere).
    public static func byteCount(_ plan: GemmPlan) -> Int {
        guard CPUFeatures.useAVX512, plan.m > 0, plan.n > 0, plan.k > 0 else { return 0 }
        return (plan.n + 31) / 32 * 32 * plan.k * MemoryLayout<Float>.stride
    }

    /// Copies op(B) (`plan.bCount` elements at `b`, stored as the plan says)
    /// into the panels, over `threads` threads.
    public func pack<T: KernelScalar>(b: UnsafePointer<T>, threads: Int = Threads.count) {
        #if arch(x86_64)
        let plan = self.plan, packed = self.packed
        let (rb, cb) = plan.transB ? (1, plan.ldb) : (plan.ldb, 1)
        let pb = f32(b)
        Threads.parallelChunks(0 ..< panels, threads: threads, minChunk: Swift.max(1, 4096 / Swift.max(plan.k, 1))) { _, range in
            PackedProduct.pack(b: pb, rowStride: rb, columnStride: cb, k: plan.k, n: plan.n, panels: range, into: packed)
        }
        #endif
    }

    /// C ← op(A)·op(B) (+ `bias[j]` on column j, then `activation`) with the
    /// packed op(B), over `threads` threads. `a` holds `plan.aCount`
    /// elements, `c` `plan.cCount`, `bias` n; C must not overlap A.
    /// With `accumulate`, C ← C + op(A)·op(B) (each chain starts from C's element).
    public func run<T: KernelScalar>(a: UnsafePointer<T>, c: UnsafeMutablePointer<T>, bias: UnsafePointer<T>? = nil,
                                     activation: UnaryFunction? = nil, accumulate: Bool = false, threads: Int = Threads.count) {
        #if arch(x86_64)
        let plan = self.plan, packed = UnsafePointer(self.packed)
        let (ra, ca) = plan.transA ? (1, plan.lda) : (plan.lda, 1)
        let pa = f32(a), pc = f32(c)
        let epilogue = PackedProduct.Epilogue(bias: bias.map { f32($0) }, activation: activation, accumulate: accumulate)
        let panels = self.panels
        // Units of work: a panel's rows, or — with fewer panels than threads — blocks of 8 rows of a panel.
        let rowBlocks = panels >= threads ? 1 : (plan.m + 7) / 8
        let rowsPerBlock = rowBlocks == 1 ? plan.m : 8
        let units = panels * rowBlocks
        let perUnit = rowsPerBlock * PackedProduct.panelWidth * plan.k
        Threads.parallelChunks(0 ..< units, threads: threads, minChunk: (GemmPlan.splitWork + perUnit - 1) / perUnit) { _, range in
            var u = range.lowerBound
            while u < range.upperBound {
                let p = u / rowBlocks
                // The units of this range that lie in panel p.
                let end = Swift.min(range.upperBound, (p + 1) * rowBlocks)
                let r0 = (u - p * rowBlocks) * rowsPerBlock, r1 = Swift.min(plan.m, (end - p * rowBlocks) * rowsPerBlock)
                PackedProduct.run(a: pa, aRowStride: ra, aColumnStride: ca, packed: packed, k: plan.k, n: plan.n, c: pc,
                                  ldc: plan.ldc, rows: r0 ..< r1, panels: p ..< p + 1, epilogue: epilogue)
                u = end
            }
        }
        #endif
    }

    // MARK: Products by a B packed per call

    /// Rows of op(B) packed at a time by the per-call product: a panel of 256 × 32
    /// floats (32 KiB) stays in a core's L1 while the rows of A pass over it.
    public static let kBlock = 256
    /// Rows of C multiplied over a thread's panels before the next ones: a block of A
    /// (64 rows × `kBlock`, 64 KiB) is read from L2 once per panel.
    static let rowBlock = 64

    /// Whether `run(plan:…)` takes the product on this CPU for T (AVX-512, f32, nothing empty).
    public static func runs<T: KernelScalar>(_ plan: GemmPlan, _: T.Type) -> Bool {
        usesAVX512(T.self) && plan.m > 0 && plan.n > 0 && plan.k > 0
    }

    /// How `run(plan:…)` splits the product over `threads`: by panels of C's columns when
    /// there are at least as many panels as threads (each thread packs its own panels of B),
    /// else by rows of C (each thread packs all of op(B)); `parts` threads in all.
    static func split(_ plan: GemmPlan, threads: Int) -> (byPanels: Bool, parts: Int) {
        let panels = (plan.n + PackedProduct.panelWidth - 1) / PackedProduct.panelWidth
        let byPanels = panels >= threads
        let units = byPanels ? panels : (plan.m + 7) / 8
        let perUnit = (byPanels ? plan.m * PackedProduct.panelWidth : 8 * plan.n) * plan.k
        return (byPanels, Threads.chunkCount(units, threads: threads, minChunk: (GemmPlan.splitWork + perUnit - 1) / perUnit))
    }

    /// Floats of workspace `run(plan:…)` needs at `threads` threads: the packed blocks of op(B).
    public static func workspaceCount(_ plan: GemmPlan, threads: Int) -> Int {
        guard plan.m > 0, plan.n > 0, plan.k > 0 else { return 0 }
        let panels = (plan.n + PackedProduct.panelWidth - 1) / PackedProduct.panelWidth
        let block = panels * PackedProduct.panelWidth * Swift.min(plan.k, kBlock)
        let (byPanels, parts) = split(plan, threads: threads)
        return byPanels ? block : block * parts
    }

    /// C ← op(A)·op(B) (C ← C + op(A)·op(B) with `accumulate`) on AVX-512 for any A and B, both
    /// possibly transposed: each thread packs its part of op(B), `kBlock` rows at a time, into
    /// `workspace` (at least `workspaceCount(plan, threads:)` floats) and multiplies its tiles of
    /// C by it; a block after the first continues the chains where the one before left C, so
    /// that C[i, j] is one chain of fused multiply-adds along k (from C[i, j] with `accumulate`,
    /// else from 0), whatever the thread count. Only where `runs(plan, T.self)` holds. C must not
    /// overlap A, B or the workspace.
    public static func run<T: KernelScalar>(plan: GemmPlan, a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>,
                                            accumulate: Bool, threads: Int, workspace: UnsafeMutablePointer<T>) {
        #if arch(x86_64)
        guard runs(plan, T.self) else { return }
        let (ra, ca) = plan.transA ? (1, plan.lda) : (plan.lda, 1)
        let (rb, cb) = plan.transB ? (1, plan.ldb) : (plan.ldb, 1)
        let pa = f32(a), pb = f32(b), pc = f32(c), ws = f32(workspace)
        let width = PackedProduct.panelWidth
        let panels = (plan.n + width - 1) / width
        let kBlock = Self.kBlock, rowBlock = Self.rowBlock
        let (byPanels, parts) = split(plan, threads: threads)
        let units = byPanels ? panels : (plan.m + 7) / 8
        let perCopy = panels * width * Swift.min(plan.k, kBlock)
        Threads.parallelChunks(0 ..< units, threads: parts) { chunk, range in
            let mine = byPanels ? range : 0 ..< panels
            let rows = byPanels ? 0 ..< plan.m : range.lowerBound * 8 ..< Swift.min(plan.m, range.upperBound * 8)
            // This thread's place for its panels of op(B)'s block — 32·min(k, kBlock) floats a panel from
            // panel `mine.lowerBound`'s (its own panels', or a whole copy of its own) — whatever block the
            // other threads are at.
            let slot = byPanels ? ws + mine.lowerBound * width * Swift.min(plan.k, kBlock) : ws + chunk * perCopy
            var k0 = 0
            while k0 < plan.k {
                let kc = Swift.min(kBlock, plan.k - k0)
                // Panel p of the block at base + p·32·kc, in this thread's slot.
                let base = slot - mine.lowerBound * width * kc
                PackedProduct.pack(b: pb + k0 * rb, rowStride: rb, columnStride: cb, k: kc, n: plan.n, panels: mine,
                                   into: base)
                let epilogue = PackedProduct.Epilogue(accumulate: accumulate || k0 > 0)
                var r = rows.lowerBound
                while r < rows.upperBound {
                    let end = Swift.min(rows.upperBound, r + rowBlock)
                    PackedProduct.run(a: pa + k0 * ca, aRowStride: ra, aColumnStride: ca, packed: base, k: kc, n: plan.n,
                                      c: pc, ldc: plan.ldc, rows: r ..< end, panels: mine, epilogue: epilogue)
                    r = end
                }
                k0 += kc
            }
        }
        #endif
    }
}
