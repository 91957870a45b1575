// Direct (non-GEMM) depthwise convolution: groups == c, each input channel
// ch feeds the filters ch·M ..< (ch+1)·M, M = f / c (the channel multiplier).
// Loops run along output rows; with stride 1 along the width, each kernel tap
// is one SIMD multiply-add of a contiguous input row segment.

extension Conv2D {
    /// Forward of a depthwise convolution, parallel over the n·f output planes.
    /// Each output row starts at the bias, gathers the kernel taps and gets
    /// the activation applied while it is still in cache.
    @inlinable
    static func depthwiseForward<T: KernelScalar>(_ g: Conv2DGeometry, input: UnsafePointer<T>, weight: UnsafePointer<T>,
                                                  bias: UnsafePointer<T>?, epilogue: UnaryFunction?,
                                                  output: UnsafeMutablePointer<T>, threads: Int) {
        Threads.parallelFor(0 ..< g.n * g.f, threads: threads) { units in
            depthwiseForwardPlanes(g, input: input, weight: weight, bias: bias, epilogue: epilogue, output: output,
                                   units: units)
        }
    }

    /// `depthwiseForward` for the output planes `units` (i·f + o). Not
    /// inlined into the parallel loop's closure, so that its loops keep
    /// bounds and pointers in registers.
    @inlinable @inline(never)
    static func depthwiseForwardPlanes<T: KernelScalar>(_ g: Conv2DGeometry, input: UnsafePointer<T>,
                                                        weight: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                                        epilogue: UnaryFunction?, output: UnsafeMutablePointer<T>,
                                                        units: Range<Int>) {
        let m = g.filtersPerGroup
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let (sh, sw) = (g.strideH, g.strideW)
        let taps = g.kh * g.kw
        for u in units {
            let i = u / g.f, o = u % g.f, ch = o / m
            let plane = input + (i * g.c + ch) * h * w
            let out = output + u * oh * ow
            let wo = weight + o * taps
            let b = bias.map { $0[o] } ?? 0
            for y in 0 ..< oh {
                let d = out + y * ow
                d.update(repeating: b, count: ow)
                for ki in 0 ..< g.kh {
                    let iy = y * sh - g.padTop + ki * g.dilationH
                    if iy < 0 || iy >= h { continue }
                    let src = plane + iy * w
                    for kj in 0 ..< g.kw {
                        let offset = kj * g.dilationW - g.padLeft
                        let valid = validRange(offset: offset, stride: sw, inSize: w, outSize: ow)
                        if valid.isEmpty { continue }
                        let wv = wo[ki * g.kw + kj]
                        if sw == 1 {
                            axpyRow(d + valid.lowerBound, src + (valid.lowerBound + offset), alpha: wv, count: valid.count)
                        } else {
                            for x in valid { d[x] += wv * src[x * sw + offset] }
                        }
                    }
                }
                applyEpilogueInPlace(d, count: ow, bias: 0, epilogue: epilogue)
            }
        }
    }

    /// Input gradient of a depthwise convolution, parallel over the n·c
    /// input planes: each plane gathers the contributions of its M filters.
    @inlinable
    static func depthwiseBackwardInput<T: KernelScalar>(_ g: Conv2DGeometry, gradOutput: UnsafePointer<T>,
                                                        weight: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
                                                        accumulate: Bool, threads: Int) {
        Threads.parallelFor(0 ..< g.n * g.c, threads: threads) { units in
            depthwiseBackwardInputPlanes(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput,
                                         accumulate: accumulate, units: units)
        }
    }

    /// `depthwiseBackwardInput` for the input planes `units` (i·c + ch),
    /// not inlined (see `depthwiseForwardPlanes`).
    @inlinable @inline(never)
    static func depthwiseBackwardInputPlanes<T: KernelScalar>(_ g: Conv2DGeometry, gradOutput: UnsafePointer<T>,
                                                              weight: UnsafePointer<T>, gradInput: UnsafeMutablePointer<T>,
                                                              accumulate: Bool, units: Range<Int>) {
        let m = g.filtersPerGroup
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let (sh, sw) = (g.strideH, g.strideW)
        let taps = g.kh * g.kw
        for u in units {
            let i = u / g.c, ch = u % g.c
            let dx = gradInput + u * h * w
            if !accumulate { dx.update(repeating: 0, count: h * w) }
            for mm in 0 ..< m {
                let o = ch * m + mm
                let dyPlane = gradOutput + (i * g.f + o) * oh * ow
                let wo = weight + o * taps
                for y in 0 ..< oh {
                    let dy = dyPlane + y * ow
                    for ki in 0 ..< g.kh {
                        let iy = y * sh - g.padTop + ki * g.dilationH
                        if iy < 0 || iy >= h { continue }
                        let dst = dx + iy * w
                        for kj in 0 ..< g.kw {
                            let offset = kj * g.dilationW - g.padLeft
                            let valid = validRange(offset: offset, stride: sw, inSize: w, outSize: ow)
                            if valid.isEmpty { continue }
                            let wv = wo[ki * g.kw + kj]
                            if sw == 1 {
                                axpyRow(dst + (valid.lowerBound + offset), dy + valid.lowerBound, alpha: wv, count: valid.count)
                            } else {
                                for x in valid { dst[x * sw + offset] += wv * dy[x] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Weight gradient of a depthwise convolution, parallel over filters:
    /// each tap of filter o sums dY·x over the batch and the output plane.
    @inlinable
    static func depthwiseBackwardWeight<T: KernelScalar>(_ g: Conv2DGeometry, input: UnsafePointer<T>,
                                                         gradOutput: UnsafePointer<T>, gradWeight: UnsafeMutablePointer<T>,
                                                         accumulate: Bool, threads: Int) {
        Threads.parallelFor(0 ..< g.f, threads: threads) { filters in
            depthwiseBackwardWeightFilters(g, input: input, gradOutput: gradOutput, gradWeight: gradWeight,
                                           accumulate: accumulate, filters: filters)
        }
    }

    /// `depthwiseBackwardWeight` for the filters `filters`, not inlined
    /// (see `depthwiseForwardPlanes`).
    @inlinable @inline(never)
    static func depthwiseBackwardWeightFilters<T: KernelScalar>(_ g: Conv2DGeometry, input: UnsafePointer<T>,
                                                                gradOutput: UnsafePointer<T>, gradWeight: UnsafeMutablePointer<T>,
                                                                accumulate: Bool, filters: Range<Int>) {
        let m = g.filtersPerGroup
        let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow)
        let (sh, sw) = (g.strideH, g.strideW)
        let taps = g.kh * g.kw
        for o in filters {
            let ch = o / m
            for ki in 0 ..< g.kh {
                let rowOffset = ki * g.dilationH - g.padTop
                let validY = validRange(offset: rowOffset, stride: sh, inSize: h, outSize: oh)
                for kj in 0 ..< g.kw {
                    let offset = kj * g.dilationW - g.padLeft
                    let valid = validRange(offset: offset, stride: sw, inSize: w, outSize: ow)
                    var acc: T = 0
                    if !valid.isEmpty {
                        for i in 0 ..< g.n {
                            let dyPlane = gradOutput + (i * g.f + o) * oh * ow
                            let xPlane = input + (i * g.c + ch) * h * w
                            for y in validY {
                                let dy = dyPlane + y * ow
                                let x = xPlane + (y * sh + rowOffset) * w
                                if sw == 1 {
                                    acc += dotRow(dy + valid.lowerBound, x + (valid.lowerBound + offset), count: valid.count)
                                } else {
                                    for c in valid { acc += dy[c] * x[c * sw + offset] }
                                }
                            }
                        }
                    }
                    let slot = gradWeight + o * taps + ki * g.kw + kj
                    slot.pointee = accumulate ? slot.pointee + acc : acc
                }
            }
        }
    }
}
