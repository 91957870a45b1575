/// The shape of a 2-D convolution (cross-correlation, as in deep learning),
/// layout NCHW:
///
/// - input  `[n, c, h, w]`
/// - weight `[f, c/groups, kh, kw]`, bias `[f]`
/// - output `[n, f, oh, ow]` with
///   `oh = (h + padTop + padBottom − dilationH·(kh−1) − 1) / strideH + 1` (floor),
///   `ow = (w + padLeft + padRight − dilationW·(kw−1) − 1) / strideW + 1`.
///
///     output[i, o, y, x] = bias[o] + Σ_{cl < c/groups, ki < kh, kj < kw}
///         weight[o, cl, ki, kj] · input[i, g·(c/groups) + cl, y·strideH − padTop + ki·dilationH,
///                                                            x·strideW − padLeft + kj·dilationW]
///
/// where `g = o / (f/groups)` is the group of filter `o`, and input cells
/// outside `[0, h) × [0, w)` are zero (zero padding).
public struct Conv2DGeometry: Sendable, Hashable, CustomStringConvertible {
    public let n: Int, c: Int, h: Int, w: Int
    public let f: Int, kh: Int, kw: Int
    public let strideH: Int, strideW: Int
    public let padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    public let dilationH: Int, dilationW: Int
    public let groups: Int
    /// Output height and width.
    public let oh: Int, ow: Int

    /// Validates and computes the output size. Throws, with the numbers, when
    /// a size, stride, dilation or group count is not positive, a padding is
    /// negative, `c` or `f` is not divisible by `groups`, the dilated kernel
    /// is larger than the padded input, or the tensors are too large for
    /// 32-bit BLAS sizes.
    public init(n: Int, c: Int, h: Int, w: Int, filters f: Int, kernelH kh: Int, kernelW kw: Int,
                strideH: Int = 1, strideW: Int = 1,
                padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0,
                dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1) throws(KernelGeometryError) {
        for (name, v) in [("batch n", n), ("channels c", c), ("height h", h), ("width w", w), ("filters f", f),
                          ("kernel height kh", kh), ("kernel width kw", kw), ("strideH", strideH),
                          ("strideW", strideW), ("dilationH", dilationH), ("dilationW", dilationW),
                          ("groups", groups)] where v < 1 {
            throw KernelGeometryError("conv2d: \(name) = \(v) must be positive")
        }
        for (name, v) in [("padTop", padTop), ("padBottom", padBottom), ("padLeft", padLeft), ("padRight", padRight)] where v < 0 {
            throw KernelGeometryError("conv2d: \(name) = \(v) must not be negative")
        }
        if c % groups != 0 {
            throw KernelGeometryError("conv2d: input channels c = \(c) are not divisible by groups = \(groups)")
        }
        if f % groups != 0 {
            throw KernelGeometryError("conv2d: filters f = \(f) are not divisible by groups = \(groups)")
        }
        let extentH = dilationH * (kh - 1) + 1, extentW = dilationW * (kw - 1) + 1
        let paddedH = h + padTop + padBottom, paddedW = w + padLeft + padRight
        if extentH > paddedH {
            throw KernelGeometryError("conv2d: output height (h + padTop + padBottom − dilationH·(kh−1) − 1)/strideH + 1 = (\(h) + \(padTop) + \(padBottom) − \(dilationH)·(\(kh)−1) − 1)/\(strideH) + 1 is not positive: the kernel extent \(extentH) exceeds the padded height \(paddedH)")
        }
        if extentW > paddedW {
            throw KernelGeometryError("conv2d: output width (w + padLeft + padRight − dilationW·(kw−1) − 1)/strideW + 1 = (\(w) + \(padLeft) + \(padRight) − \(dilationW)·(\(kw)−1) − 1)/\(strideW) + 1 is not positive: the kernel extent \(extentW) exceeds the padded width \(paddedW)")
        }
        let oh = (paddedH - extentH) / strideH + 1, ow = (paddedW - extentW) / strideW + 1
        // Every count used as a BLAS size (filters per group, column rows,
        // one image's output plane) and every tensor's element count must fit.
        let limit = Int(Int32.max)
        let colRows = (c / groups) * kh * kw
        let products: [(String, [Int])] = [("input", [n, c, h, w]), ("output", [n, f, oh, ow]),
                                          ("weight", [f, c / groups, kh, kw]), ("im2col rows × plane", [colRows, oh, ow])]
        for (name, factors) in products {
            var p = 1
            for x in factors {
                let (r, o) = p.multipliedReportingOverflow(by: x)
                if o || r > limit * 64 {
                    throw KernelGeometryError("conv2d: the \(name) size \(factors.map(String.init).joined(separator: "×")) is too large")
                }
                p = r
            }
        }
        if colRows > limit || oh * ow > limit || f > limit {
            throw KernelGeometryError("conv2d: c/groups·kh·kw = \(colRows) or oh·ow = \(oh * ow) exceeds the BLAS limit \(limit)")
        }
        self.n = n; self.c = c; self.h = h; self.w = w
        self.f = f; self.kh = kh; self.kw = kw
        self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padBottom = padBottom; self.padLeft = padLeft; self.padRight = padRight
        self.dilationH = dilationH; self.dilationW = dilationW
        self.groups = groups
        self.oh = oh; self.ow = ow
    }

    /// A convolution whose output size the caller chose: the compiler's shape
    /// rule with its rounding (floor, or ceil, whose last window may run past
    /// the input). The padding after the input becomes what the last window
    /// reaches (the cells past the input read zeros), so the floor formula
    /// gives exactly `outputHeight` × `outputWidth`; throws when it cannot
    /// (an output size smaller than the floor formula's, or not positive).
    public init(n: Int, c: Int, h: Int, w: Int, filters f: Int, kernelH kh: Int, kernelW kw: Int,
                strideH: Int = 1, strideW: Int = 1,
                padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0,
                dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1,
                outputHeight: Int, outputWidth: Int) throws(KernelGeometryError) {
        if outputHeight < 1 || outputWidth < 1 {
            throw KernelGeometryError("conv2d: output size \(outputHeight)×\(outputWidth) must be positive")
        }
        let extentH = dilationH * (kh - 1) + 1, extentW = dilationW * (kw - 1) + 1
        let bottom = max(padBottom, (outputHeight - 1) * strideH + extentH - h - padTop)
        let right = max(padRight, (outputWidth - 1) * strideW + extentW - w - padLeft)
        try self.init(n: n, c: c, h: h, w: w, filters: f, kernelH: kh, kernelW: kw, strideH: strideH, strideW: strideW,
                      padTop: padTop, padBottom: bottom, padLeft: padLeft, padRight: right, dilationH: dilationH,
                      dilationW: dilationW, groups: groups)
        guard oh == outputHeight, ow == outputWidth else {
            throw KernelGeometryError("conv2d: an output of \(outputHeight)×\(outputWidth) does not fit the windows of \(description)")
        }
    }

    /// Input channels per group, `c / groups`.
    @inlinable public var channelsPerGroup: Int { c / groups }
    /// Filters per group, `f / groups`.
    @inlinable public var filtersPerGroup: Int { f / groups }
    /// Rows of the im2col matrix of one group: `c/groups · kh · kw`.
    @inlinable public var colRows: Int { channelsPerGroup * kh * kw }
    @inlinable public var inputPlane: Int { h * w }
    @inlinable public var outputPlane: Int { oh * ow }
    @inlinable public var inputCount: Int { n * c * h * w }
    @inlinable public var weightCount: Int { f * channelsPerGroup * kh * kw }
    @inlinable public var outputCount: Int { n * f * oh * ow }
    /// Depthwise: one group per input channel (groups == c > 1); such a
    /// convolution runs on a direct (non-GEMM) path.
    @inlinable public var isDepthwise: Bool { groups == c && groups > 1 }
    /// A 1×1, stride-1, unpadded convolution: a plain GEMM on the input, no im2col.
    @inlinable public var isPointwise: Bool {
        kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padBottom == 0 && padLeft == 0 && padRight == 0
    }
    /// Floating-point operations of the forward pass: 2·n·f·oh·ow·(c/groups)·kh·kw.
    public var forwardFlops: Int { 2 * outputCount * colRows }

    public var description: String {
        "conv2d [\(n),\(c),\(h),\(w)] * [\(f),\(channelsPerGroup),\(kh),\(kw)] stride \(strideH)×\(strideW) pad t\(padTop) b\(padBottom) l\(padLeft) r\(padRight) dilation \(dilationH)×\(dilationW) groups \(groups) → [\(n),\(f),\(oh),\(ow)]"
    }
}

/// Convolution kernels over a `Conv2DGeometry`: im2col + GEMM, with direct
/// paths for depthwise (groups == c > 1) and pointwise (1×1, stride 1,
/// unpadded) convolutions.
///
/// Workspace: every entry point takes a caller-provided scratch buffer of at
/// least `workspaceCount(_:for:threads:as:)` elements (computed once, by the
/// runtime, with the same `threads`); kernels never allocate. The batch is
/// processed in chunks of images, each chunk folded into the N dimension of
/// one GEMM per group; a chunk holds as many images as fit in
/// `chunkTargetBytes` of scratch (cache-sized) and in the workspace, at
/// least one. `workspaceCount` stays within `maxBytes` (default 64 MiB)
/// unless one image per worker alone needs more.
///
/// Threads (see `Threads`): with `threads > 1` and a batch of at least two
/// images, the batch is split into `min(threads, n)` contiguous parts, each
/// processed by one thread with single-threaded GEMMs over chunks of its
/// images. With one image (or `threads == 1`) each GEMM uses all `threads`
/// OpenBLAS threads, and im2col/col2im and the epilogue are parallel over
/// (image, channel) units. Results are deterministic for a given thread
/// count and workspace size.
public enum Conv2D {
    /// The three entry points, for `workspaceCount`.
    public enum Pass: Sendable, Hashable {
        case forward, backwardInput, backwardWeight
    }

    /// The default bound on the workspace: 64 MiB.
    public static let defaultWorkspaceBytes = 64 << 20

    /// Scratch per worker that a GEMM chunk aims at: 512 KiB, so that the
    /// column matrix a chunk packs is still in the core's cache when the
    /// GEMM reads it. A chunk holds as many images as fit (at least one);
    /// on a 2-core AVX-512 machine this ran im2col convolutions 1.3–1.5×
    /// faster than chunks of 32 MiB.
    public static let chunkTargetBytes = 512 << 10

    /// Images per GEMM chunk: as many as fit in `chunkTargetBytes` and in
    /// the worker's share of the workspace, at least one, at most the
    /// worker's images, and few enough for 32-bit BLAS sizes.
    @inlinable
    static func imagesPerChunk(_ g: Conv2DGeometry, perImage: Int, available: Int, elementSize: Int,
                               imagesPerWorker: Int) -> Int {
        let target = chunkTargetBytes / max(1, elementSize * perImage)
        return max(1, min(available / perImage, target, imagesPerWorker, Int(Int32.max) / g.outputPlane))
    }

    /// Elements of `T` the workspace of `pass` needs for `geometry` when run
    /// with `threads` threads by `algorithm` (nil: the one chosen for this
    /// machine, `algorithm(_:for:as:)`), keeping it within `maxBytes` where
    /// one image per thread allows (never less than what one image needs).
    public static func workspaceCount<T: KernelScalar>(_ pass: Pass, for g: Conv2DGeometry, threads: Int,
                                                       as _: T.Type, maxBytes: Int = defaultWorkspaceBytes,
                                                       algorithm: Algorithm? = nil) -> Int {
        if g.isDepthwise { return 0 }
        if resolve(algorithm, pass, g, T.self) == .implicitGemm {
            return ImplicitPlan.workspaceCount(pass, g, threads: threads, maxBytes: maxBytes)
        }
        let budget = max(0, maxBytes) / MemoryLayout<T>.stride
        let workers = min(max(1, threads), g.n)
        if g.isPointwise {
            // Only the weight gradient needs scratch: one partial per worker.
            return pass == .backwardWeight && workers > 1 ? workers * g.weightCount : 0
        }
        let perImage = imageWorkspace(g)
        let partials = pass == .backwardWeight && workers > 1 ? workers * g.weightCount : 0
        let perWorker = max(0, budget - partials) / workers
        let imagesPerWorker = (g.n + workers - 1) / workers
        let chunk = imagesPerChunk(g, perImage: perImage, available: perWorker, elementSize: MemoryLayout<T>.stride,
                                   imagesPerWorker: imagesPerWorker)
        return workers * chunk * perImage + partials
    }

    /// Scratch for one image of one group on the im2col path: the column
    /// matrix (colRows × plane) plus the GEMM's output or gathered gradient
    /// (filtersPerGroup × plane).
    @inlinable
    static func imageWorkspace(_ g: Conv2DGeometry) -> Int { (g.colRows + g.filtersPerGroup) * g.outputPlane }

    /// How a call splits its batch, given the workspace it received.
    @usableFromInline
    struct Schedule {
        /// Threads working on disjoint parts of the batch (1: one part, GEMMs use all threads).
        @usableFromInline var workers: Int
        /// Images per GEMM chunk of one worker.
        @usableFromInline var chunk: Int
        /// Workspace elements owned by one worker (column matrix + GEMM buffer).
        @usableFromInline var slice: Int
        /// Elements of one weight-gradient partial (0 when there are none).
        @usableFromInline var partial: Int
        @inlinable init(workers: Int, chunk: Int, slice: Int, partial: Int) {
            self.workers = workers; self.chunk = chunk; self.slice = slice; self.partial = partial
        }
    }

    @inlinable
    static func schedule(_ g: Conv2DGeometry, pass: Pass, threads: Int, workspace: Int, elementSize: Int) -> Schedule {
        let perImage = g.isPointwise ? 0 : imageWorkspace(g)
        let needsPartials = pass == .backwardWeight
        var workers = min(max(1, threads), g.n)
        if workers > 1 {
            // Shrink the number of workers to what the workspace holds.
            let perWorker = perImage + (needsPartials ? g.weightCount : 0)
            if perWorker > 0 { workers = min(workers, workspace / perWorker) }
            if workers < 2 { workers = 1 }
        }
        let partial = needsPartials && workers > 1 ? g.weightCount : 0
        precondition(workspace >= perImage + partial,
                     "conv2d: workspace of \(workspace) elements is smaller than the \(perImage + partial) one image needs; use Conv2D.workspaceCount")
        if g.isPointwise { return Schedule(workers: workers, chunk: 1, slice: 0, partial: partial) }
        let slice = (workspace - workers * partial) / workers
        let imagesPerWorker = (g.n + workers - 1) / workers
        let chunk = imagesPerChunk(g, perImage: perImage, available: slice, elementSize: elementSize,
                                   imagesPerWorker: imagesPerWorker)
        return Schedule(workers: workers, chunk: chunk, slice: slice, partial: partial)
    }

    // MARK: Forward

    /// `output ← epilogue(conv(input, weight) + bias)` for the whole batch.
    ///
    /// - input `[n, c, h, w]`, weight `[f, c/groups, kh, kw]`, bias `[f]` or
    ///   nil (no bias), output `[n, f, oh, ow]` (overwritten); output must not
    ///   overlap the other operands.
    /// - workspace: at least `workspaceCount(.forward, for: g, threads: threads, as: T.self)` elements.
    /// - imageByImage: on the im2col path, one GEMM per image and OpenBLAS on
    ///   one thread, so that each image's result is the same whatever the
    ///   batch (a GEMM over several images' columns may sum in another order:
    ///   OpenBLAS picks its kernels by the product's size). The implicit GEMM
    ///   computes each image alone in any case.
    @inlinable
    public static func forward<T: KernelScalar>(_ g: Conv2DGeometry, input: UnsafePointer<T>, weight: UnsafePointer<T>,
                                                bias: UnsafePointer<T>?, epilogue: UnaryFunction? = nil,
                                                output: UnsafeMutablePointer<T>, workspace: UnsafeMutableBufferPointer<T>,
                                                threads: Int = Threads.count, algorithm: Algorithm? = nil,
                                                imageByImage: Bool = false) {
        if g.isDepthwise {
            depthwiseForward(g, input: input, weight: weight, bias: bias, epilogue: epilogue, output: output, threads: threads)
            return
        }
        #if arch(x86_64)
        if resolve(algorithm, .forward, g, T.self) == .implicitGemm {
            implicitProduct(g, pass: .forward, source: f32(input), weight: f32(weight), bias: bias.map(f32),
                            epilogue: epilogue, accumulate: false, output: f32(output), workspace: f32(workspace),
                            threads: threads)
            return
        }
        #endif
        var s = schedule(g, pass: .forward, threads: threads, workspace: workspace.count,
                         elementSize: MemoryLayout<T>.stride)
        if imageByImage { s.chunk = 1 }
        let ws = workspace.baseAddress
        if s.workers == 1 {
            Threads.setBLASThreads(imageByImage ? 1 : threads)
            var i0 = 0
            while i0 < g.n {
                let count = min(s.chunk, g.n - i0)
                forwardChunk(g, input: input, weight: weight, bias: bias, epilogue: epilogue, output: output,
                             firstImage: i0, count: count, workspace: ws, threads: threads)
                i0 += count
            }
        } else {
            Threads.setBLASThreads(1)
            Threads.parallelChunks(0 ..< g.n, threads: s.workers) { t, images in
                let mine = ws.map { $0 + t * s.slice }
                var i0 = images.lowerBound
                while i0 < images.upperBound {
                    let count = min(s.chunk, images.upperBound - i0)
                    forwardChunk(g, input: input, weight: weight, bias: bias, epilogue: epilogue, output: output,
                                 firstImage: i0, count: count, workspace: mine, threads: 1)
                    i0 += count
                }
            }
        }
    }

    /// Forward over images `firstImage ..< firstImage + count`, all groups.
    /// GEMMs run with OpenBLAS's current thread count; the loops of
    /// im2col and epilogue use `threads`.
    @inlinable
    static func forwardChunk<T: KernelScalar>(_ g: Conv2DGeometry, input: UnsafePointer<T>, weight: UnsafePointer<T>,
                                              bias: UnsafePointer<T>?, epilogue: UnaryFunction?,
                                              output: UnsafeMutablePointer<T>, firstImage i0: Int, count: Int,
                                              workspace: UnsafeMutablePointer<T>?, threads: Int) {
        let fg = g.filtersPerGroup, cg = g.channelsPerGroup, p = g.outputPlane, k = g.colRows
        for group in 0 ..< g.groups {
            let wg = weight + group * fg * k
            if g.isPointwise {
                for i in i0 ..< i0 + count {
                    let out = output + (i * g.f + group * fg) * p
                    T.blasGemm(transA: false, transB: false, m: fg, n: p, k: cg, alpha: 1,
                               a: wg, lda: cg, b: input + (i * g.c + group * cg) * p, ldb: p,
                               beta: 0, c: out, ldc: p)
                    applyEpilogueRows(out, rows: fg, plane: p, bias: bias.map { $0 + group * fg },
                                      epilogue: epilogue, threads: threads)
                }
                continue
            }
            guard let col = workspace else { preconditionFailure("conv2d: im2col needs a workspace") }
            let columns = count * p
            Threads.parallelFor(0 ..< count * cg, threads: threads) { units in
                im2col(g, input: input, firstImage: i0, images: count, group: group, col: col, units: units)
            }
            if count == 1 {
                let out = output + (i0 * g.f + group * fg) * p
                T.blasGemm(transA: false, transB: false, m: fg, n: p, k: k, alpha: 1, a: wg, lda: k,
                           b: col, ldb: p, beta: 0, c: out, ldc: p)
                applyEpilogueRows(out, rows: fg, plane: p, bias: bias.map { $0 + group * fg },
                                  epilogue: epilogue, threads: threads)
            } else {
                let tmp = col + k * columns
                T.blasGemm(transA: false, transB: false, m: fg, n: columns, k: k, alpha: 1, a: wg, lda: k,
                           b: col, ldb: columns, beta: 0, c: tmp, ldc: columns)
                Threads.parallelFor(0 ..< count * fg, threads: threads) { units in
                    for u in units {
                        let j = u / fg, fl = u % fg
                        let o = group * fg + fl
                        applyEpilogue(tmp + fl * columns + j * p, output + ((i0 + j) * g.f + o) * p, count: p,
                                      bias: bias.map { $0[o] } ?? 0, epilogue: epilogue)
                    }
                }
            }
        }
    }

    // MARK: Backward with respect to the input

    /// `gradInput ← ∂L/∂input` from `gradOutput = ∂L/∂output` (the gradient
    /// with respect to the convolution's output before any epilogue):
    /// the transposed convolution, computed as GEMM (Wᵀ·dY) + col2im,
    /// accumulating overlapping windows.
    ///
    /// - gradOutput `[n, f, oh, ow]`, weight `[f, c/groups, kh, kw]`,
    ///   gradInput `[n, c, h, w]`: overwritten, or added to when `accumulate`.
    /// - workspace: at least `workspaceCount(.backwardInput, for: g, threads: threads, as: T.self)` elements.
    @inlinable
    public static func backwardInput<T: KernelScalar>(_ g: Conv2DGeometry, gradOutput: UnsafePointer<T>,
                                                      weight: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
                                                      accumulate: Bool = false,
                                                      workspace: UnsafeMutableBufferPointer<T>,
                                                      threads: Int = Threads.count, algorithm: Algorithm? = nil) {
        if g.isDepthwise {
            depthwiseBackwardInput(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput,
                                   accumulate: accumulate, threads: threads)
            return
        }
        #if arch(x86_64)
        if resolve(algorithm, .backwardInput, g, T.self) == .implicitGemm {
            implicitProduct(g, pass: .backwardInput, source: f32(gradOutput), weight: f32(weight), bias: nil,
                            epilogue: nil, accumulate: accumulate, output: f32(gradInput), workspace: f32(workspace),
                            threads: threads)
            return
        }
        #endif
        let s = schedule(g, pass: .backwardInput, threads: threads, workspace: workspace.count,
                             elementSize: MemoryLayout<T>.stride)
        let ws = workspace.baseAddress
        if s.workers == 1 {
            Threads.setBLASThreads(threads)
            var i0 = 0
            while i0 < g.n {
                let count = min(s.chunk, g.n - i0)
                backwardInputChunk(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput, accumulate: accumulate,
                                   firstImage: i0, count: count, workspace: ws, threads: threads)
                i0 += count
            }
        } else {
            Threads.setBLASThreads(1)
            Threads.parallelChunks(0 ..< g.n, threads: s.workers) { t, images in
                let mine = ws.map { $0 + t * s.slice }
                var i0 = images.lowerBound
                while i0 < images.upperBound {
                    let count = min(s.chunk, images.upperBound - i0)
                    backwardInputChunk(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput,
                                       accumulate: accumulate, firstImage: i0, count: count, workspace: mine, threads: 1)
                    i0 += count
                }
            }
        }
    }

    @inlinable
    static func backwardInputChunk<T: KernelScalar>(_ g: Conv2DGeometry, gradOutput: UnsafePointer<T>,
                                                    weight: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
                                                    accumulate: Bool, firstImage i0: Int, count: Int,
                                                    workspace: UnsafeMutablePointer<T>?, threads: Int) {
        let fg = g.filtersPerGroup, cg = g.channelsPerGroup, p = g.outputPlane, k = g.colRows
        for group in 0 ..< g.groups {
            let wg = weight + group * fg * k
            if g.isPointwise {
                for i in i0 ..< i0 + count {
                    T.blasGemm(transA: true, transB: false, m: cg, n: p, k: fg, alpha: 1, a: wg, lda: cg,
                               b: gradOutput + (i * g.f + group * fg) * p, ldb: p,
                               beta: accumulate ? 1 : 0, c: gradInput + (i * g.c + group * cg) * p, ldc: p)
                }
                continue
            }
            guard let col = workspace else { preconditionFailure("conv2d: col2im needs a workspace") }
            let columns = count * p
            let dy: UnsafePointer<T>
            if count == 1 {
                dy = gradOutput + (i0 * g.f + group * fg) * p
            } else {
                let buffer = col + k * columns
                gatherGroupRows(g, from: gradOutput, firstImage: i0, images: count, group: group, into: buffer, threads: threads)
                dy = UnsafePointer(buffer)
            }
            T.blasGemm(transA: true, transB: false, m: k, n: columns, k: fg, alpha: 1, a: wg, lda: k,
                       b: dy, ldb: columns, beta: 0, c: col, ldc: columns)
            Threads.parallelFor(0 ..< count * cg, threads: threads) { units in
                col2im(g, col: col, firstImage: i0, images: count, group: group, gradInput: gradInput,
                       accumulate: accumulate, units: units)
            }
        }
    }

    // MARK: Backward with respect to the weight and bias

    /// `gradWeight ← ∂L/∂weight` and `gradBias ← ∂L/∂bias` from
    /// `gradOutput = ∂L/∂output` (before any epilogue):
    /// `gradWeight[o] = Σ_images dY[o] · im2col(input)ᵀ`,
    /// `gradBias[o] = Σ_{i, y, x} gradOutput[i, o, y, x]`.
    ///
    /// - input `[n, c, h, w]`, gradOutput `[n, f, oh, ow]`,
    ///   gradWeight `[f, c/groups, kh, kw]`, gradBias `[f]` or nil (not
    ///   computed): overwritten, or added to when `accumulate`.
    /// - workspace: at least `workspaceCount(.backwardWeight, for: g, threads: threads, as: T.self)` elements.
    ///   With several workers each sums its part of the batch into its own
    ///   partial, and the partials are added in worker order.
    @inlinable
    public static func backwardWeight<T: KernelScalar>(_ g: Conv2DGeometry, input: UnsafePointer<T>,
                                                       gradOutput: UnsafePointer<T>,
                                                       gradWeight: UnsafeMutablePointer<T>,
                                                       gradBias: UnsafeMutablePointer<T>?,
                                                       accumulate: Bool = false,
                                                       workspace: UnsafeMutableBufferPointer<T>,
                                                       threads: Int = Threads.count, algorithm: Algorithm? = nil) {
        if let gradBias {
            biasGradient(g, gradOutput: gradOutput, gradBias: gradBias, accumulate: accumulate, threads: threads)
        }
        if g.isDepthwise {
            depthwiseBackwardWeight(g, input: input, gradOutput: gradOutput, gradWeight: gradWeight,
                                    accumulate: accumulate, threads: threads)
            return
        }
        #if arch(x86_64)
        if resolve(algorithm, .backwardWeight, g, T.self) == .implicitGemm {
            implicitWeightGradient(g, input: f32(input), gradOutput: f32(gradOutput), gradWeight: f32(gradWeight),
                                   accumulate: accumulate, workspace: f32(workspace), threads: threads)
            return
        }
        #endif
        let s = schedule(g, pass: .backwardWeight, threads: threads, workspace: workspace.count,
                             elementSize: MemoryLayout<T>.stride)
        let ws = workspace.baseAddress
        if s.workers == 1 {
            Threads.setBLASThreads(threads)
            var i0 = 0
            while i0 < g.n {
                let count = min(s.chunk, g.n - i0)
                backwardWeightChunk(g, input: input, gradOutput: gradOutput, gradWeight: gradWeight,
                                    add: accumulate || i0 > 0, firstImage: i0, count: count, workspace: ws, threads: threads)
                i0 += count
            }
            return
        }
        guard let ws else { preconditionFailure("conv2d: the weight gradient needs a workspace for its partials") }
        Threads.setBLASThreads(1)
        let partials = ws + s.slice * s.workers
        Threads.parallelChunks(0 ..< g.n, threads: s.workers) { t, images in
            let mine = s.slice > 0 ? ws + t * s.slice : nil
            let partial = partials + t * s.partial
            var i0 = images.lowerBound
            while i0 < images.upperBound {
                let count = min(s.chunk, images.upperBound - i0)
                backwardWeightChunk(g, input: input, gradOutput: gradOutput, gradWeight: partial,
                                    add: i0 > images.lowerBound, firstImage: i0, count: count, workspace: mine, threads: 1)
                i0 += count
            }
        }
        // gradWeight = (accumulate ? gradWeight : 0) + partial₀ + partial₁ + … in worker order.
        let total = g.weightCount, workers = s.workers, stridePartial = s.partial
        Threads.parallelFor(0 ..< total, threads: threads, minChunk: 4096) { range in
            let dst = gradWeight + range.lowerBound
            if !accumulate { dst.update(from: partials + range.lowerBound, count: range.count) }
            for t in (accumulate ? 0 : 1) ..< workers {
                addRow(dst, partials + t * stridePartial + range.lowerBound, count: range.count)
            }
        }
    }

    /// Weight gradient of images `firstImage ..< firstImage + count` into
    /// `gradWeight` (added to it when `add`).
    @inlinable
    static func backwardWeightChunk<T: KernelScalar>(_ g: Conv2DGeometry, input: UnsafePointer<T>,
                                                     gradOutput: UnsafePointer<T>, gradWeight: UnsafeMutablePointer<T>,
                                                     add: Bool, firstImage i0: Int, count: Int,
                                                     workspace: UnsafeMutablePointer<T>?, threads: Int) {
        let fg = g.filtersPerGroup, cg = g.channelsPerGroup, p = g.outputPlane, k = g.colRows
        for group in 0 ..< g.groups {
            let dwg = gradWeight + group * fg * k
            if g.isPointwise {
                for i in i0 ..< i0 + count {
                    T.blasGemm(transA: false, transB: true, m: fg, n: cg, k: p, alpha: 1,
                               a: gradOutput + (i * g.f + group * fg) * p, lda: p,
                               b: input + (i * g.c + group * cg) * p, ldb: p,
                               beta: add || i > i0 ? 1 : 0, c: dwg, ldc: cg)
                }
                continue
            }
            guard let col = workspace else { preconditionFailure("conv2d: im2col needs a workspace") }
            let columns = count * p
            Threads.parallelFor(0 ..< count * cg, threads: threads) { units in
                im2col(g, input: input, firstImage: i0, images: count, group: group, col: col, units: units)
            }
            let dy: UnsafePointer<T>
            if count == 1 {
                dy = gradOutput + (i0 * g.f + group * fg) * p
            } else {
                let buffer = col + k * columns
                gatherGroupRows(g, from: gradOutput, firstImage: i0, images: count, group: group, into: buffer, threads: threads)
                dy = UnsafePointer(buffer)
            }
            T.blasGemm(transA: false, transB: true, m: fg, n: k, k: columns, alpha: 1, a: dy, lda: columns,
                       b: col, ldb: columns, beta: add ? 1 : 0, c: dwg, ldc: k)
        }
    }

    /// `gradBias[o] (+)= Σ_{i, y, x} gradOutput[i, o, y, x]`, parallel over filters.
    @inlinable
    static func biasGradient<T: KernelScalar>(_ g: Conv2DGeometry, gradOutput: UnsafePointer<T>,
                                              gradBias: UnsafeMutablePointer<T>, accumulate: Bool, threads: Int) {
        let p = g.outputPlane
        Threads.parallelFor(0 ..< g.f, threads: threads, minChunk: max(1, 16384 / max(1, p * g.n))) { filters in
            for o in filters {
                var sum: T = 0
                for i in 0 ..< g.n { sum += sumRow(gradOutput + (i * g.f + o) * p, count: p) }
                gradBias[o] = accumulate ? gradBias[o] + sum : sum
            }
        }
    }
}
