import Testing
@testable import DLGKernels

@Suite struct RandomTests {
    @Test func sameSeedSameStream() {
        var a = RandomStream(seed: 42), b = RandomStream(seed: 42), c = RandomStream(seed: 43)
        let xa = (0..<8).map { _ in a.next() }
        #expect(xa == (0..<8).map { _ in b.next() })
        #expect(xa != (0..<8).map { _ in c.next() })
    }

    /// Sample moments of 200,000 draws against the distributions' true moments:
    /// U[0,1) has mean 1/2 and variance 1/12; N(0,1) has mean 0 and variance 1.
    /// The tolerances are about 6 standard errors.
    @Test func momentsMatchTheDistributions() {
        var r = RandomStream(seed: 7)
        let n = 200_000
        var s = 0.0, s2 = 0.0, t = 0.0, t2 = 0.0
        for _ in 0..<n {
            let u: Double = r.uniform()
            #expect(u >= 0 && u < 1)
            s += u; s2 += u * u
            let z: Double = r.normal()
            t += z; t2 += z * z
        }
        #expect(abs(s / Double(n) - 0.5) < 0.004)
        #expect(abs(s2 / Double(n) - (s / Double(n)) * (s / Double(n)) - 1.0 / 12) < 0.002)
        #expect(abs(t / Double(n)) < 0.014)
        #expect(abs(t2 / Double(n) - 1) < 0.02)
    }

    @Test func permutationIsAPermutation() {
        var r = RandomStream(seed: 1)
        let p = r.permutation(1000)
        #expect(p.sorted() == Array(0..<1000))
        #expect(p != Array(0..<1000))
    }

    @Test func counterRandomIsAPureFunctionOfSeedAndCounter() {
        #expect(CounterRandom.bits(seed: 3, counter: 10) == CounterRandom.bits(seed: 3, counter: 10))
        #expect(CounterRandom.bits(seed: 3, counter: 10) != CounterRandom.bits(seed: 3, counter: 11))
        #expect(CounterRandom.bits(seed: 3, counter: 10) != CounterRandom.bits(seed: 4, counter: 10))
        // Fraction below 0.3 over many counters ≈ 0.3.
        var below = 0
        for i in 0..<100_000 where CounterRandom.uniform(seed: 9, counter: UInt64(i)) < 0.3 { below += 1 }
        #expect(abs(Double(below) / 100_000 - 0.3) < 0.01)
    }
}
