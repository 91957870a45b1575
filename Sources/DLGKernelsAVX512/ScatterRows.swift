// The scatter-add behind an embedding's gradient (DLGKernels' `scatterAddRows`)
// compiled for AVX-512: the same additions in the same order as the portable
// loop, so the same bits, 16 lanes at a time instead of the SSE build's 4.
//
// The rows of dy are the memory side: each thread reads its columns of every
// row (a block of a row, then a jump to the next row), a pattern the hardware
// prefetchers pick up again at every row. `perf annotate` put seven in ten of
// the portable loop's samples on the add waiting for dy's load. So the loop
// prefetches the row `ahead` positions on while it adds the current one.

#if arch(x86_64)
import CPrefetch

public enum ScatterRows {
    /// Rows of dy between the one added and the one prefetched.
    static let ahead = 8

    /// dtable[indices[p], c] += dy[p, c] for c in `columns`, p = 0, 1, …, count − 1
    /// in order (repeated indices accumulate in that order); rows of `width` floats.
    /// The indices must be valid (the caller checks them).
    public static func add(dy: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>, count: Int,
                           columns: Range<Int>, into dtable: UnsafeMutablePointer<Float>) {
        let c0 = columns.lowerBound, n = columns.count
        for p in 0 ..< count {
            if p &+ ahead < count {
                let next = dy + ((p &+ ahead) &* width &+ c0)
                var q = 0
                while q < n {
                    dlg_prefetch(next + q)
                    q &+= 16
                }
            }
            let x = dy + (p &* width &+ c0), y = dtable + (Int(indices[p]) &* width &+ c0)
            var i = 0
            while i &+ 16 <= n {
                store(load(y + i) + load(x + i), y + i)
                i &+= 16
            }
            while i < n {
                y[i] += x[i]
                i &+= 1
            }
        }
    }
}

#endif
