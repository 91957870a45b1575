import Testing
@testable import DLGKernels

@Suite struct DropoutTests {
    func mask<T: KernelScalar>(_: T.Type, n: Int, ranges: [Range<Int>], rate: Double, seed: UInt64,
                               offset: UInt64) throws(DropoutError) -> [T] {
        var m = [T](repeating: -7, count: n + 1)
        var err: DropoutError? = nil
        m.withUnsafeMutableBufferPointer { mp in
            for r in ranges {
                do throws(DropoutError) {
                    try dropoutMask(mp.baseAddress!, range: r, rate: rate, seed: seed, offset: offset)
                } catch { err = error }
            }
        }
        if let err { throw err }
        return Array(m.prefix(n))
    }

    /// mask[i] straight from the definition, for Float and Double.
    @Test func maskFollowsTheDefinition() throws {
        let n = 1000, rate = 0.3, seed: UInt64 = 17, offset: UInt64 = 12_345
        let want = (0..<n).map { i in
            CounterRandom.uniform(seed: seed, counter: offset + UInt64(i)) >= rate ? 1 / (1 - rate) : 0
        }
        let f = try mask(Float.self, n: n, ranges: [0..<n], rate: rate, seed: seed, offset: offset)
        #expect(f == want.map { Float($0) })
        let d = try mask(Double.self, n: n, ranges: [0..<n], rate: rate, seed: seed, offset: offset)
        #expect(d == want)
    }

    /// Any split of [0, n) into sub-ranges, in any order, gives the same mask.
    @Test func maskIsIndependentOfTheSplit() throws {
        let n = 777
        let whole = try mask(Float.self, n: n, ranges: [0..<n], rate: 0.5, seed: 3, offset: 40)
        var rng = RandomStream(seed: 8)
        for _ in 0..<10 {
            let cuts = ([0, n] + (0..<3).map { _ in rng.below(n + 1) }).sorted()
            var ranges = (0..<(cuts.count - 1)).map { cuts[$0]..<cuts[$0 + 1] }
            ranges.reverse()
            #expect(try mask(Float.self, n: n, ranges: ranges, rate: 0.5, seed: 3, offset: 40) == whole)
        }
        // The offset shifts the counter: offset + 5 at i equals offset at i + 5.
        let shifted = try mask(Float.self, n: n - 5, ranges: [0..<(n - 5)], rate: 0.5, seed: 3, offset: 45)
        #expect(shifted == Array(whole[5...]))
        #expect(try mask(Float.self, n: n, ranges: [0..<n], rate: 0.5, seed: 4, offset: 40) != whole)
    }

    /// Over 100,000 elements the kept fraction is 1 − rate within 6 standard
    /// errors (σ = √(0.3·0.7/100000) ≈ 0.00145), and every kept value is
    /// exactly 1/(1 − rate) in the element type.
    @Test func keepFractionAndScale() throws {
        let n = 100_000, rate = 0.3
        let m = try mask(Float.self, n: n, ranges: [0..<n], rate: rate, seed: 11, offset: 0)
        let kept = m.filter { $0 != 0 }
        #expect(Swift.abs(Double(kept.count) / Double(n) - 0.7) < 6 * 0.00145)
        #expect(kept.allSatisfy { $0 == Float(1 / (1 - rate)) })
    }

    @Test func forwardAndBackwardMultiplyByTheMask() throws {
        let n = 37
        let x = EWSupport.values(n, -2, 2, seed: 1).map { Float($0) }
        let dy = EWSupport.values(n, -2, 2, seed: 2).map { Float($0) }
        var m = [Float](repeating: 0, count: n), y = [Float](repeating: 0, count: n), dx = y
        try x.withUnsafeBufferPointer { xp throws(DropoutError) in
            try m.withUnsafeMutableBufferPointer { mp throws(DropoutError) in
                try y.withUnsafeMutableBufferPointer { yp throws(DropoutError) in
                    // Two sub-ranges, as two threads would do it.
                    try dropout(xp.baseAddress!, mask: mp.baseAddress!, yp.baseAddress!, range: 0..<20,
                                rate: 0.25, seed: 5, offset: 100)
                    try dropout(xp.baseAddress!, mask: mp.baseAddress!, yp.baseAddress!, range: 20..<n,
                                rate: 0.25, seed: 5, offset: 100)
                }
            }
        }
        #expect(m == (try mask(Float.self, n: n, ranges: [0..<n], rate: 0.25, seed: 5, offset: 100)))
        #expect(y == zip(x, m).map { $0 * $1 })
        dy.withUnsafeBufferPointer { gp in
            m.withUnsafeBufferPointer { mp in
                dx.withUnsafeMutableBufferPointer { dp in
                    dropoutBackward(gp.baseAddress!, mask: mp.baseAddress!, dp.baseAddress!, range: 0..<n)
                }
            }
        }
        #expect(dx == zip(dy, m).map { $0 * $1 })
    }

    @Test func rateZeroKeepsEverything() throws {
        let m = try mask(Double.self, n: 100, ranges: [0..<100], rate: 0, seed: 1, offset: 0)
        #expect(m == [Double](repeating: 1, count: 100))
    }

    @Test func invalidRateIsAnErrorValueAndWritesNothing() {
        for rate in [1.0, -0.1, 1.5, .nan] {
            var m = [Float](repeating: -7, count: 4)
            var caught: DropoutError? = nil
            m.withUnsafeMutableBufferPointer { mp in
                do throws(DropoutError) {
                    try dropoutMask(mp.baseAddress!, range: 0..<4, rate: rate, seed: 1, offset: 0)
                } catch { caught = error }
            }
            #expect(caught != nil && caught!.description.contains("outside [0, 1)"), "rate \(rate)")
            #expect(m == [-7, -7, -7, -7])
        }
    }
}
