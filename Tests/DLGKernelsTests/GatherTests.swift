import Testing
@testable import DLGKernels

/// `gatherRows` and `scatterAddRows` against plain loops written here, on one
/// thread and split over two (positions for the gather, 16-column blocks for
/// the scatter-add, whose sums must come out bit for bit the same), with
/// repeated indices and a width that leaves a partial vector. f32 takes the
/// AVX-512 loop on CPUs that have it (`ScatterRows`, prefetching rows ahead),
/// f64 the portable one.
@Suite struct GatherTests {
    static func problem(rows: Int, width: Int, count: Int, seed: UInt64) -> (table: [Float], dy: [Float], indices: [Int32]) {
        var r = RandomStream(seed: seed)
        let table = (0 ..< rows * width).map { _ in r.uniform(Float(-1), Float(1)) }
        let dy = (0 ..< count * width).map { _ in r.uniform(Float(-1), Float(1)) }
        let indices = (0 ..< count).map { _ in Int32(r.below(rows)) }
        return (table, dy, indices)
    }

    @Test(arguments: [(5, 37, 900), (64, 1024, 40), (3, 16, 2048), (7, 1000, 300), (2, 48, 5)])
    func gatherAndScatterAddMatchPlainLoops(rows: Int, width: Int, count: Int) throws {
        let (table, dy, indices) = Self.problem(rows: rows, width: width, count: count, seed: UInt64(width))
        var wantGather = [Float](), wantScatter = [Float](repeating: 0, count: rows * width)
        for p in 0 ..< count {
            let i = Int(indices[p])
            wantGather += table[i * width ..< (i + 1) * width]
            for c in 0 ..< width { wantScatter[i * width + c] += dy[p * width + c] }
        }
        for threads in [1, 2] {
            var out = [Float](repeating: .nan, count: count * width), dtable = [Float](repeating: .nan, count: rows * width)
            try indices.withUnsafeBufferPointer { ip in
                try gatherRows(table: table, rows: rows, width: width, indices: ip.baseAddress!, count: count, &out, threads: threads)
                try scatterAddRows(dy: dy, rows: rows, width: width, indices: ip.baseAddress!, count: count, &dtable, threads: threads)
            }
            #expect(out == wantGather, "gather, \(threads) threads")
            #expect(dtable.map(\.bitPattern) == wantScatter.map(\.bitPattern), "scatter-add, \(threads) threads")
        }
    }

    @Test func scatterAddInDoubleMatchesAPlainLoop() throws {
        let (_, dy32, indices) = Self.problem(rows: 6, width: 41, count: 500, seed: 9)
        let dy = dy32.map { Double($0) * 1.000_000_1 }
        var want = [Double](repeating: 0, count: 6 * 41)
        for p in 0 ..< 500 {
            for c in 0 ..< 41 { want[Int(indices[p]) * 41 + c] += dy[p * 41 + c] }
        }
        for threads in [1, 2] {
            var dtable = [Double](repeating: .nan, count: 6 * 41)
            try indices.withUnsafeBufferPointer { ip in
                try scatterAddRows(dy: dy, rows: 6, width: 41, indices: ip.baseAddress!, count: 500, &dtable, threads: threads)
            }
            #expect(dtable.map(\.bitPattern) == want.map(\.bitPattern), "\(threads) threads")
        }
    }

    @Test func badIndexWritesNothingAndNamesThePosition() {
        let (table, dy, _) = Self.problem(rows: 4, width: 20, count: 3, seed: 1)
        var out = [Float](repeating: 7, count: 60), dtable = [Float](repeating: 7, count: 80)
        let indices: [Int32] = [1, 4, 0]
        indices.withUnsafeBufferPointer { ip in
            #expect(throws: IndexError(position: 1, index: 4, rows: 4)) {
                try gatherRows(table: table, rows: 4, width: 20, indices: ip.baseAddress!, count: 3, &out, threads: 2)
            }
            #expect(throws: IndexError(position: 1, index: 4, rows: 4)) {
                try scatterAddRows(dy: dy, rows: 4, width: 20, indices: ip.baseAddress!, count: 3, &dtable, threads: 2)
            }
        }
        #expect(out.allSatisfy { $0 == 7 } && dtable.allSatisfy { $0 == 7 })
    }
}
