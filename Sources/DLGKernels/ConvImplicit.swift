// The implicit-GEMM convolution: convolutions of f32 tensors on CPUs with
// AVX-512 (their gradients at stride 1), without an im2col matrix.
//
// The input planes of a chunk of images are copied ("staged") once into a
// layout where every kernel tap is a constant shift: each channel holds its
// images one below the other, rows `pitch` elements apart, with zero columns
// at the end of every row and zero rows between images, so that the zero
// padding of one row or image serves its neighbour too. An output position
// (image j, row y, column x) is the grid position
//
//     pos = j·R·pitch + y·pitch + x          (R = rows per staged image)
//
// and tap (ci, ky, kx) reads the staged buffer at `pos + offset(ci, ky, kx)`.
// The product `out[o, pos] = Σ_taps W[o, tap] · staged[pos + offset(tap)]` runs
// over every grid position — columns x ≥ ow and rows y ≥ oh compute values
// that are discarded — in AVX-512 tiles (`DLGKernelsAVX512`) that read the
// staged planes straight from cache. The input gradient is the same product
// on the staged output gradient with the kernel flipped and transposed; the
// weight gradient correlates the output gradient, laid out on the same grid
// with zeros at the discarded positions, with the staged input — row-major
// (`ShiftedCorrelation`), or, for a multiple of 16 filters and a 3-wide
// kernel, position-major with the filters in the vector lanes (`LaneGradient`).

#if arch(x86_64)
import DLGKernelsAVX512
#endif

extension Conv2D {
    /// How a convolution computes its products.
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        /// Columns packed by im2col (read in place for 1×1 stride-1
        /// convolutions) and multiplied by BLAS; depthwise convolutions by
        /// direct loops.
        case im2col
        /// Ungrouped f32 convolutions on AVX-512 CPUs (their gradients at
        /// stride 1): staged planes read at shifted offsets by AVX-512 product
        /// tiles (see the top of ConvImplicit.swift).
        case implicitGemm
    }

    /// The algorithm `pass` runs with for `g` and element type `T` on this
    /// machine when the caller does not choose: the implicit GEMM where it
    /// applies and the CPU has AVX-512, else im2col.
    public static func algorithm<T: KernelScalar>(_ pass: Pass, for g: Conv2DGeometry, as _: T.Type) -> Algorithm {
        resolve(nil, pass, g, T.self)
    }

    /// The algorithm that runs when `requested` is asked for: im2col when the
    /// implicit GEMM cannot run `pass` of `g` (see `implicitApplies`).
    @usableFromInline
    static func resolve<T: KernelScalar>(_ requested: Algorithm?, _ pass: Pass, _ g: Conv2DGeometry,
                                         _: T.Type) -> Algorithm {
        if requested == .im2col { return .im2col }
        return T.self == Float.self && CPUFeatures.useAVX512 && implicitApplies(pass, g) ? .implicitGemm : .im2col
    }

    /// The largest weight (filters × taps) the implicit GEMM takes: every
    /// position tile reads the whole packed weight, which must stay in cache.
    public static let implicitWeightLimitBytes = 256 << 10

    /// Scratch per worker an implicit-GEMM chunk aims at (staged planes and
    /// the output grid): as many images as fit, at least one.
    public static let implicitChunkTargetBytes = 1 << 20

    /// Whether the implicit GEMM computes `pass` of `g` (on any CPU): one
    /// group, not a 1×1 stride-1 unpadded convolution (BLAS reads those in
    /// place), a weight within `implicitWeightLimitBytes`; for the gradients
    /// stride 1 (a strided weight gradient over phase planes ran slower than
    /// im2col + OpenBLAS on ResNet-20's layers: 51 against 93 GFLOP/s for
    /// the 32 → 64 filters at 16×16); and at stride 1 paddings the staged layout holds:
    /// no more than the kernel extent minus one on at least one side of each
    /// axis (on both sides for the input gradient, whose staged output
    /// gradient is padded by the extent minus one minus the padding).
    public static func implicitApplies(_ pass: Pass, _ g: Conv2DGeometry) -> Bool {
        guard g.groups == 1, !g.isPointwise, g.weightCount * 4 <= implicitWeightLimitBytes,
              pass == .forward || (g.strideH == 1 && g.strideW == 1) else { return false }
        return ShiftedConv(pass, g).isValid
    }

    /// A stride-1 correlation of a staged tensor, the form both the forward
    /// pass and the input gradient take, with its staged layout.
    @usableFromInline
    struct ShiftedConv: Sendable {
        /// The staged tensor: channels and plane size.
        @usableFromInline var inC: Int, inH: Int, inW: Int
        /// Its zero padding.
        @usableFromInline var pt: Int, pb: Int, pl: Int, pr: Int
        @usableFromInline var kh: Int, kw: Int, dh: Int, dw: Int
        /// The stride: above 1, the staged planes are the input's phases (see `isStrided`).
        @usableFromInline var sh: Int = 1, sw: Int = 1
        /// The result: channels and plane size.
        @usableFromInline var outC: Int, outH: Int, outW: Int

        /// The forward form of `g` (also the weight gradient's), or for
        /// `.backwardInput` the transposed convolution: the output gradient
        /// padded by extent − 1 − padding, giving planes of the input's size.
        init(_ pass: Pass, _ g: Conv2DGeometry) {
            kh = g.kh; kw = g.kw; dh = g.dilationH; dw = g.dilationW
            let eh = g.dilationH * (g.kh - 1) + 1, ew = g.dilationW * (g.kw - 1) + 1
            if pass == .backwardInput {
                inC = g.f; inH = g.oh; inW = g.ow
                pt = eh - 1 - g.padTop; pb = eh - 1 - g.padBottom; pl = ew - 1 - g.padLeft; pr = ew - 1 - g.padRight
                outC = g.c; outH = g.h; outW = g.w
            } else {
                inC = g.c; inH = g.h; inW = g.w
                pt = g.padTop; pb = g.padBottom; pl = g.padLeft; pr = g.padRight
                outC = g.f; outH = g.oh; outW = g.ow
                sh = g.strideH; sw = g.strideW
            }
        }

        /// A strided convolution stages each input channel as `sh·sw` phase
        /// planes with their padding written out: phase (ry, rx) holds the
        /// padded input's cells (u·sh + ry, v·sw + rx). Output (y, x) and tap
        /// (ky, kx) read phase ((ky·dh) mod sh, (kx·dw) mod sw) at
        /// (y + ⌊ky·dh/sh⌋, x + ⌊kx·dw/sw⌋): a stride-1 correlation again,
        /// over `sh·sw` times the channels. Used for the forward pass only
        /// (see `implicitApplies`).
        @usableFromInline var isStrided: Bool { sh > 1 || sw > 1 }
        /// Staged channels: the input's, times the phases.
        @usableFromInline var stagedChannels: Int { inC * sh * sw }

        var extentH: Int { dh * (kh - 1) + 1 }
        var extentW: Int { dw * (kw - 1) + 1 }
        /// Paddings are not negative and the output fits the grid (outH ≤ R, outW ≤ pitch).
        var isValid: Bool {
            if isStrided { return min(pt, pb, pl, pr) >= 0 && outH >= 1 && outW >= 1 }
            return min(pt, pb, pl, pr) >= 0 && min(pt, pb) <= extentH - 1 && min(pl, pr) <= extentW - 1
                && outH == inH + pt + pb - extentH + 1 && outW == inW + pl + pr - extentW + 1
        }
        /// Zero rows below each image (shared as the next one's top padding); none between phase planes.
        @usableFromInline var gap: Int { isStrided ? 0 : max(pt, pb) }
        /// Row stride: the row, then zero columns serving as its right and the next row's left padding;
        /// for phase planes, their width.
        @usableFromInline var pitch: Int { isStrided ? (inW + pl + pr + sw - 1) / sw : inW + max(pl, pr) }
        /// Zero rows before the first image: its top padding, plus one for the left padding's reach
        /// (none for phase planes, which hold their padding).
        @usableFromInline var lead: Int { isStrided ? 0 : gap + 1 }
        /// Rows per staged image (phase plane).
        @usableFromInline var rowsPerImage: Int { isStrided ? (inH + pt + pb + sh - 1) / sh : inH + gap }
        @usableFromInline var taps: Int { inC * kh * kw }

        /// Grid positions computed for `images` images, rounded up to whole
        /// tiles of every width (48 and 64).
        @usableFromInline func gridCount(images: Int) -> Int {
            (images * rowsPerImage * pitch + 191) / 192 * 192
        }

        /// Elements per staged channel for chunks of up to `images` images:
        /// the lead rows, the images, and zeros far enough past the grid for
        /// every tap's reads.
        @usableFromInline func channelStride(images: Int) -> Int {
            ((lead + extentH + 1) * pitch + extentW + gridCount(images: images) + 15) / 16 * 16
        }

        /// Offset of tap (ci, ky, kx) from the grid's origin in the staged buffer.
        @usableFromInline func offset(channel ci: Int, ky: Int, kx: Int, channelStride cs: Int) -> Int {
            if isStrided {
                let phase = (ci * sh + ky * dh % sh) * sw + kx * dw % sw
                return phase * cs + (ky * dh / sh) * pitch + kx * dw / sw
            }
            return ci * cs + (lead + ky * dh - pt) * pitch + kx * dw - pl
        }
    }

    /// How an implicit-GEMM call lays out its workspace and splits its batch.
    @usableFromInline
    struct ImplicitPlan {
        @usableFromInline var conv: ShiftedConv
        @usableFromInline var pass: Pass
        /// Threads working on disjoint parts of the batch, each single-threaded (1: one part,
        /// every phase parallel over `threads`).
        @usableFromInline var workers: Int
        /// Images per chunk.
        @usableFromInline var chunk: Int
        /// Rows per product tile (8 or 6) and the packed weight's row length.
        @usableFromInline var rowsPerTile: Int, lda: Int
        /// Elements (f32) of the shared part: tap offsets (as Int) and the packed weight.
        @usableFromInline var shared: Int
        /// Elements of one worker's part: staged planes and the grid.
        @usableFromInline var slice: Int
        /// Elements of one weight-gradient partial (0 when there are none).
        @usableFromInline var partial: Int
        /// Rows of the grid: the product's output channels, or the weight
        /// gradient's output-gradient channels.
        @usableFromInline var gridRows: Int

        @usableFromInline var channelStride: Int { conv.channelStride(images: chunk) }
        @usableFromInline var gridStride: Int { conv.gridCount(images: chunk) }
        @usableFromInline var total: Int { shared + workers * (slice + partial) }

        /// Elements of one worker's part for chunks of `images` images.
        func slice(images: Int) -> Int {
            conv.stagedChannels * conv.channelStride(images: images) + gridRows * conv.gridCount(images: images)
        }

        /// The plan for `pass` with `threads` threads within `available`
        /// elements of workspace: as many workers as fit (one image each at
        /// least), and chunks as large as fit in each worker's share and in
        /// `implicitChunkTargetBytes`.
        init(_ pass: Pass, _ g: Conv2DGeometry, threads: Int, available: Int) {
            self.pass = pass
            conv = ShiftedConv(pass, g)
            rowsPerTile = pass == .backwardWeight ? 8 : ShiftedProductTiles.rowsPerTile(m: conv.outC)
            lda = (conv.outC + rowsPerTile - 1) / rowsPerTile * rowsPerTile
            // Offsets as Int (two f32 slots each, two more for alignment), then the packed weight.
            shared = 2 * conv.taps + 2 + (pass == .backwardWeight ? 0 : conv.taps * lda)
            gridRows = pass == .backwardWeight ? g.f : conv.outC
            workers = 1; chunk = 1; slice = 0; partial = 0
            let gradientPartial = pass == .backwardWeight ? g.weightCount : 0
            var workers = min(max(1, threads), g.n)
            if workers > 1 {
                workers = min(workers, max(0, available - shared) / (slice(images: 1) + gradientPartial))
                if workers < 2 { workers = 1 }
            }
            let partial = workers > 1 ? gradientPartial : 0
            let budget = min(Conv2D.implicitChunkTargetBytes / 4, max(0, available - shared) / workers - partial)
            let perWorker = (g.n + workers - 1) / workers
            // slice(images:) is affine in the images but for the rounding of the grid: estimate, then adjust.
            var chunk = max(1, min(perWorker, budget / max(1, slice(images: 1))))
            while chunk < perWorker && slice(images: chunk + 1) <= budget { chunk += 1 }
            while chunk > 1 && slice(images: chunk) > budget { chunk -= 1 }
            self.workers = workers
            self.partial = partial
            self.chunk = chunk
            self.slice = slice(images: chunk)
        }

        /// Workspace elements for `pass` with `threads` threads: every
        /// worker's chunk within `maxBytes` and `implicitChunkTargetBytes`,
        /// never less than one image per worker.
        static func workspaceCount(_ pass: Pass, _ g: Conv2DGeometry, threads: Int, maxBytes: Int) -> Int {
            let one = ImplicitPlan(pass, g, threads: 1, available: 0)
            let workers = min(max(1, threads), g.n)
            let partial = workers > 1 && pass == .backwardWeight ? g.weightCount : 0
            let perWorker = max(one.slice(images: 1),
                                min(Conv2D.implicitChunkTargetBytes / 4, max(0, maxBytes / 4 - one.shared) / workers - partial))
            return ImplicitPlan(pass, g, threads: threads, available: one.shared + workers * (perWorker + partial)).total
        }
    }
}

/// Rows per product tile: the tile shapes of `ShiftedProduct`, available on every architecture.
@usableFromInline
enum ShiftedProductTiles {
    /// 6 when that pads fewer rows than 8 does, else 8.
    @usableFromInline static func rowsPerTile(m: Int) -> Int {
        let pad8 = (8 - m % 8) % 8, pad6 = (6 - m % 6) % 6
        return pad6 < pad8 ? 6 : 8
    }
}

#if arch(x86_64)
extension Conv2D {
    // MARK: Staging

    /// Copies `images` planes of `rows × cols` (the first at `src`, the next
    /// `imageStride` further) into one staged channel at `dst`: `lead` zero
    /// rows, then each image's rows `pitch` apart with zeros after `cols`,
    /// followed by `rowsPerImage − rows` zero rows, then zeros up to `count`.
    @inline(never)
    static func stageChannel(_ dst: UnsafeMutablePointer<Float>, count: Int, src: UnsafePointer<Float>,
                             imageStride: Int, images: Int, rows: Int, cols: Int, pitch: Int, lead: Int,
                             rowsPerImage: Int) {
        dst.update(repeating: 0, count: lead * pitch)
        var d = dst + lead * pitch
        let gap = (rowsPerImage - rows) * pitch
        for j in 0 ..< images {
            var s = src + j * imageStride
            for _ in 0 ..< rows {
                copyRow(s, d, count: cols)
                (d + cols).update(repeating: 0, count: pitch - cols)
                s += cols
                d += pitch
            }
            d.update(repeating: 0, count: gap)
            d += gap
        }
        d.update(repeating: 0, count: count - (d - dst))
    }

    /// `dst[i] = src[i]` for i < count, 16 at a time.
    @inlinable @inline(__always)
    static func copyRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            store16(load16(src + i), dst + i)
            i += 16
        }
        while i < count { dst[i] = src[i]; i += 1 }
    }

    /// Stages channels `channels` of images `i0 ..< i0 + images` of the
    /// NCHW tensor `src` (`total` channels) into `staged`.
    static func stage(_ s: ShiftedConv, src: UnsafePointer<Float>, totalChannels: Int, firstImage i0: Int,
                      images: Int, staged: UnsafeMutablePointer<Float>, channelStride cs: Int, channels: Range<Int>) {
        let plane = s.inH * s.inW
        if s.isStrided {
            for ci in channels {
                for ry in 0 ..< s.sh {
                    for rx in 0 ..< s.sw {
                        stagePhase(s, src: src + (i0 * totalChannels + ci) * plane, imageStride: totalChannels * plane,
                                   images: images, ry: ry, rx: rx,
                                   into: staged + ((ci * s.sh + ry) * s.sw + rx) * cs, count: cs)
                    }
                }
            }
            return
        }
        for ci in channels {
            stageChannel(staged + ci * cs, count: cs, src: src + (i0 * totalChannels + ci) * plane,
                         imageStride: totalChannels * plane, images: images, rows: s.inH, cols: s.inW,
                         pitch: s.pitch, lead: s.lead, rowsPerImage: s.rowsPerImage)
        }
    }

    /// Phase (ry, rx) of one input channel of `images` images (see
    /// `ShiftedConv.isStrided`): the padded input's cells (u·sh + ry,
    /// v·sw + rx), `rowsPerImage × pitch` per image, then zeros up to `count`.
    @inline(never)
    static func stagePhase(_ s: ShiftedConv, src: UnsafePointer<Float>, imageStride: Int, images: Int, ry: Int, rx: Int,
                           into dst: UnsafeMutablePointer<Float>, count: Int) {
        let (rows, cols) = (s.rowsPerImage, s.pitch)
        var d = dst
        for j in 0 ..< images {
            let image = src + j * imageStride
            for u in 0 ..< rows {
                let iy = u * s.sh + ry - s.pt
                if iy < 0 || iy >= s.inH {
                    d.update(repeating: 0, count: cols)
                } else {
                    let row = image + iy * s.inW
                    for v in 0 ..< cols {
                        let ix = v * s.sw + rx - s.pl
                        d[v] = ix >= 0 && ix < s.inW ? row[ix] : 0
                    }
                }
                d += cols
            }
        }
        d.update(repeating: 0, count: count - (d - dst))
    }

    /// The tap offsets of `s` for staged channels `cs` apart, into `offsets[taps]`.
    static func fillOffsets(_ s: ShiftedConv, channelStride cs: Int, into offsets: UnsafeMutablePointer<Int>) {
        var t = 0
        for ci in 0 ..< s.inC {
            for ky in 0 ..< s.kh {
                for kx in 0 ..< s.kw {
                    offsets[t] = s.offset(channel: ci, ky: ky, kx: kx, channelStride: cs)
                    t += 1
                }
            }
        }
    }

    /// The workspace's first `2·taps + 2` elements as an 8-byte-aligned `Int` table.
    static func offsetTable(_ ws: UnsafeMutablePointer<Float>, taps: Int) -> UnsafeMutablePointer<Int> {
        let raw = UnsafeMutableRawPointer(ws)
        let aligned = raw.alignedUp(for: Int.self)
        return aligned.bindMemory(to: Int.self, capacity: taps)
    }

    // MARK: Forward and input gradient

    /// The forward pass (`transposed == false`) or the input gradient
    /// (`transposed == true`, accumulating when `accumulate`) by the implicit GEMM.
    @usableFromInline
    static func implicitProduct(_ g: Conv2DGeometry, pass: Pass, source: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                epilogue: UnaryFunction?, accumulate: Bool,
                                output: UnsafeMutablePointer<Float>, workspace: UnsafeMutableBufferPointer<Float>,
                                threads: Int) {
        let plan = ImplicitPlan(pass, g, threads: threads, available: workspace.count)
        precondition(workspace.count >= plan.total,
                     "conv2d: workspace of \(workspace.count) elements is smaller than the \(plan.total) the implicit GEMM needs; use Conv2D.workspaceCount")
        let s = plan.conv
        guard let ws = workspace.baseAddress else { return }
        let offsets = offsetTable(ws, taps: s.taps)
        let packed = ws + (2 * s.taps + 2)
        let cs = plan.channelStride
        fillOffsets(s, channelStride: cs, into: offsets)
        packWeight(g, pass: pass, weight: weight, lda: plan.lda, into: packed)
        let slices = packed + s.taps * plan.lda
        if plan.workers == 1 {
            var i0 = 0
            while i0 < g.n {
                let count = min(plan.chunk, g.n - i0)
                implicitProductChunk(plan, source: source, packed: packed, offsets: offsets, bias: bias,
                                     epilogue: epilogue, accumulate: accumulate, output: output, firstImage: i0,
                                     count: count, slice: slices, threads: threads)
                i0 += count
            }
            return
        }
        Threads.parallelChunks(0 ..< g.n, threads: plan.workers) { t, images in
            let mine = slices + t * plan.slice
            var i0 = images.lowerBound
            while i0 < images.upperBound {
                let count = min(plan.chunk, images.upperBound - i0)
                implicitProductChunk(plan, source: source, packed: packed, offsets: offsets, bias: bias,
                                     epilogue: epilogue, accumulate: accumulate, output: output, firstImage: i0,
                                     count: count, slice: mine, threads: 1)
                i0 += count
            }
        }
    }

    /// Packs the weight as the product's A, stored transposed (`lda` per
    /// tap, zeros past the output channels): for the forward pass
    /// `A[tap (ci, ky, kx)][o] = W[o, ci, ky, kx]`, for the input gradient
    /// `A[tap (o, ky, kx)][ci] = W[o, ci, kh − 1 − ky, kw − 1 − kx]`.
    static func packWeight(_ g: Conv2DGeometry, pass: Pass, weight: UnsafePointer<Float>, lda: Int,
                           into packed: UnsafeMutablePointer<Float>) {
        let taps = g.kh * g.kw
        if pass == .backwardInput {
            for o in 0 ..< g.f {
                for t in 0 ..< taps {
                    let row = packed + (o * taps + t) * lda
                    let src = weight + o * g.c * taps + (taps - 1 - t)
                    for ci in 0 ..< g.c { row[ci] = src[ci * taps] }
                    (row + g.c).update(repeating: 0, count: lda - g.c)
                }
            }
        } else {
            let k = g.c * taps
            for t in 0 ..< k {
                let row = packed + t * lda
                for o in 0 ..< g.f { row[o] = weight[o * k + t] }
                (row + g.f).update(repeating: 0, count: lda - g.f)
            }
        }
    }

    /// One chunk of images: stage, multiply, write out.
    static func implicitProductChunk(_ plan: ImplicitPlan, source: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                                     offsets: UnsafePointer<Int>, bias: UnsafePointer<Float>?,
                                     epilogue: UnaryFunction?, accumulate: Bool,
                                     output: UnsafeMutablePointer<Float>, firstImage i0: Int, count: Int,
                                     slice: UnsafeMutablePointer<Float>, threads: Int) {
        let s = plan.conv, cs = plan.channelStride, ld = plan.gridStride
        let staged = slice, grid = slice + s.stagedChannels * cs
        Threads.parallelFor(0 ..< s.inC, threads: threads) { channels in
            stage(s, src: source, totalChannels: s.inC, firstImage: i0, images: count, staged: staged,
                  channelStride: cs, channels: channels)
        }
        let width = ShiftedProduct.tileWidth(rows: plan.rowsPerTile)
        let tiles = s.gridCount(images: count) / width
        Threads.parallelFor(0 ..< tiles, threads: threads) { range in
            ShiftedProduct.run(a: packed, lda: plan.lda, m: s.outC, rowsPerTile: plan.rowsPerTile, offsets: offsets,
                               k: s.taps, b: staged, positions: range.lowerBound * width ..< range.upperBound * width,
                               c: grid, ldc: ld)
        }
        Threads.parallelFor(0 ..< s.outC, threads: threads) { channels in
            extract(s, grid: grid, ld: ld, images: count, channels: channels, bias: bias, epilogue: epilogue,
                    accumulate: accumulate, output: output, firstImage: i0)
        }
    }

    /// Writes the valid grid positions of `channels` into the NCHW output
    /// (`outC` channels of `outH × outW`): `epilogue(grid + bias)`, or for
    /// the input gradient the grid itself, added when `accumulate`.
    @inline(never)
    static func extract(_ s: ShiftedConv, grid: UnsafePointer<Float>, ld: Int, images: Int, channels: Range<Int>,
                        bias: UnsafePointer<Float>?, epilogue: UnaryFunction?, accumulate: Bool,
                        output: UnsafeMutablePointer<Float>, firstImage i0: Int) {
        let plane = s.outH * s.outW, imageRows = s.rowsPerImage * s.pitch
        for o in channels {
            let b = bias.map { $0[o] } ?? 0
            for j in 0 ..< images {
                let src = grid + o * ld + j * imageRows
                let dst = output + ((i0 + j) * s.outC + o) * plane
                for y in 0 ..< s.outH {
                    if accumulate {
                        addRow(dst + y * s.outW, src + y * s.pitch, count: s.outW)
                    } else if bias == nil && epilogue == nil {
                        copyRow(src + y * s.pitch, dst + y * s.outW, count: s.outW)
                    } else {
                        applyEpilogue(src + y * s.pitch, dst + y * s.outW, count: s.outW, bias: b, epilogue: epilogue)
                    }
                }
            }
        }
    }

    // MARK: Weight gradient

    /// `gradWeight (+)= Σ_images dY · staged inputᵀ` by the implicit GEMM.
    @usableFromInline
    static func implicitWeightGradient(_ g: Conv2DGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                       gradWeight: UnsafeMutablePointer<Float>, accumulate: Bool,
                                       workspace: UnsafeMutableBufferPointer<Float>, threads: Int) {
        let plan = ImplicitPlan(.backwardWeight, g, threads: threads, available: workspace.count)
        precondition(workspace.count >= plan.total,
                     "conv2d: workspace of \(workspace.count) elements is smaller than the \(plan.total) the implicit GEMM needs; use Conv2D.workspaceCount")
        let s = plan.conv
        guard let ws = workspace.baseAddress else { return }
        let offsets = offsetTable(ws, taps: s.taps)
        fillOffsets(s, channelStride: plan.channelStride, into: offsets)
        let slices = ws + plan.shared
        if plan.workers == 1 {
            var i0 = 0
            while i0 < g.n {
                let count = min(plan.chunk, g.n - i0)
                implicitWeightChunk(plan, g, input: input, gradOutput: gradOutput, offsets: offsets,
                                    gradWeight: gradWeight, add: accumulate || i0 > 0, firstImage: i0, count: count,
                                    slice: slices, threads: threads)
                i0 += count
            }
            return
        }
        let partials = slices + plan.workers * plan.slice
        Threads.parallelChunks(0 ..< g.n, threads: plan.workers) { t, images in
            let mine = slices + t * plan.slice, partial = partials + t * plan.partial
            var i0 = images.lowerBound
            while i0 < images.upperBound {
                let count = min(plan.chunk, images.upperBound - i0)
                implicitWeightChunk(plan, g, input: input, gradOutput: gradOutput, offsets: offsets,
                                    gradWeight: partial, add: i0 > images.lowerBound, firstImage: i0, count: count,
                                    slice: mine, threads: 1)
                i0 += count
            }
        }
        sumPartials(partials, stride: plan.partial, workers: plan.workers, into: gradWeight, count: g.weightCount,
                    accumulate: accumulate, threads: threads)
    }

    /// `dst = (accumulate ? dst : 0) + partial₀ + partial₁ + …`, in worker order.
    @inlinable
    static func sumPartials<T: KernelScalar>(_ partials: UnsafeMutablePointer<T>, stride: Int, workers: Int,
                                             into dst: UnsafeMutablePointer<T>, count: Int, accumulate: Bool,
                                             threads: Int) {
        Threads.parallelFor(0 ..< count, threads: threads, minChunk: 4096) { range in
            let d = dst + range.lowerBound
            if !accumulate { d.update(from: partials + range.lowerBound, count: range.count) }
            for t in (accumulate ? 0 : 1) ..< workers {
                addRow(d, partials + t * stride + range.lowerBound, count: range.count)
            }
        }
    }

    /// Whether the weight gradient keeps the filters in the vector lanes
    /// (`LaneGradient`): 16, 32, 48… filters and a 3-wide kernel at dilation 1.
    static func lanesFilters(_ g: Conv2DGeometry) -> Bool {
        g.f % 16 == 0 && g.kw == 3 && g.dilationW == 1
    }

    static func implicitWeightChunk(_ plan: ImplicitPlan, _ g: Conv2DGeometry, input: UnsafePointer<Float>,
                                    gradOutput: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
                                    gradWeight: UnsafeMutablePointer<Float>, add: Bool, firstImage i0: Int, count: Int,
                                    slice: UnsafeMutablePointer<Float>, threads: Int) {
        let s = plan.conv, cs = plan.channelStride, ld = plan.gridStride
        let staged = slice, rows = slice + s.stagedChannels * cs
        let positions = s.gridCount(images: count)
        let lanes = lanesFilters(g) && !s.isStrided
        if lanes {
            // The output gradient position-major: the filters of one grid position adjacent, zeros at
            // the discarded positions.
            rows.update(repeating: 0, count: positions * g.f)
        }
        Threads.parallelFor(0 ..< s.inC + (lanes ? count : g.f), threads: threads) { units in
            for u in units {
                if u < s.inC {
                    stage(s, src: input, totalChannels: g.c, firstImage: i0, images: count, staged: staged,
                          channelStride: cs, channels: u ..< u + 1)
                } else if lanes {
                    LaneGradient.stageTransposed(gradOutput + (i0 + u - s.inC) * g.f * g.outputPlane, filters: g.f,
                                                 rows: g.oh, cols: g.ow, pitch: s.pitch,
                                                 into: rows + (u - s.inC) * s.rowsPerImage * s.pitch * g.f)
                } else {
                    // The output gradient on the grid: rows `pitch` apart, zeros at the discarded positions.
                    let o = u - s.inC
                    stageChannel(rows + o * ld, count: positions, src: gradOutput + (i0 * g.f + o) * g.outputPlane,
                                 imageStride: g.f * g.outputPlane, images: count, rows: g.oh, cols: g.ow,
                                 pitch: s.pitch, lead: 0, rowsPerImage: s.rowsPerImage)
                }
            }
        }
        if lanes {
            let kernelRows = s.inC * g.kh
            Threads.parallelFor(0 ..< kernelRows, threads: threads) { range in
                LaneGradient.run(dy: rows, ldd: g.f, filters: g.f, rowOffsets: offsets, rowStride: g.kw, rows: range,
                                 b: staged, count: positions, out: gradWeight, ldo: s.taps, accumulate: add)
            }
            return
        }
        let perTile = ShiftedCorrelation.tapsPerTile(rows: g.f, taps: s.taps)
        let tapTiles = (s.taps + perTile - 1) / perTile
        Threads.parallelFor(0 ..< tapTiles, threads: threads) { range in
            ShiftedCorrelation.run(rows: rows, ldr: ld, rowRange: 0 ..< g.f, offsets: offsets,
                                   taps: range.lowerBound * perTile ..< min(s.taps, range.upperBound * perTile),
                                   tapsPerTile: perTile, b: staged, count: positions, out: gradWeight, ldo: s.taps,
                                   accumulate: add)
        }
    }

}
#endif
