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
/// B's values change; the object owns the packed copy (k × 32·⌈n/32⌉ floats).
public final class PackedGemm: @unchecked Sendable {
    public let plan: GemmPlan
    /// Panels of 32 columns of C.
    public let panels: Int
    @usableFromInline let packed: UnsafeMutablePointer<Float>

    /// Nil where the packed product does not run: without AVX-512 (or with
    /// `DLG_KERNELS=baseline`), for `T` other than Float, and when m, n or k is 0.
    public init?<T: KernelScalar>(plan: GemmPlan, _: T.Type) {
        guard usesAVX512(T.self), plan.m > 0, plan.n > 0, plan.k > 0 else { return nil }
        #if arch(x86_64)
        self.plan = plan
        panels = (plan.n + PackedProduct.panelWidth - 1) / PackedProduct.panelWidth
        let count = panels * PackedProduct.panelWidth * plan.k
        packed = .allocate(capacity: count)
        packed.initialize(repeating: 0, count: count)
        #else
        return nil
        #endif
    }

    deinit { packed.deallocate() }

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
    public func run<T: KernelScalar>(a: UnsafePointer<T>, c: UnsafeMutablePointer<T>, bias: UnsafePointer<T>? = nil,
                                     activation: UnaryFunction? = nil, threads: Int = Threads.count) {
        #if arch(x86_64)
        let plan = self.plan, packed = UnsafePointer(self.packed)
        let (ra, ca) = plan.transA ? (1, plan.lda) : (plan.lda, 1)
        let pa = f32(a), pc = f32(c)
        let epilogue = PackedProduct.Epilogue(bias: bias.map { f32($0) }, activation: activation)
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
}
