/// Seeded, reproducible random numbers.
///
/// Two flavours:
/// - `RandomStream`, a sequential generator (xoshiro256**, seeded through
///   SplitMix64) for initializers, shuffling and synthetic data;
/// - `CounterRandom`, a stateless hash of (seed, counter) for dropout masks,
///   so element i gets the same number whichever thread computes it.

/// SplitMix64's output function: a bijective 64-bit mixer.
@inlinable @inline(__always)
public func splitMix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

public struct RandomStream: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func nextSeed() -> UInt64 {
            x = x &+ 0x9E37_79B9_7F4A_7C15
            return splitMix64(x &- 0x9E37_79B9_7F4A_7C15)
        }
        s0 = nextSeed(); s1 = nextSeed(); s2 = nextSeed(); s3 = nextSeed()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 (Double) or 24 (Float) random bits.
    @inlinable
    public mutating func uniform<T: BinaryFloatingPoint>(_: T.Type = T.self) -> T {
        if T.significandBitCount > 23 {
            return T(Double(next() >> 11) * 0x1.0p-53)
        }
        return T(Float(next() >> 40) * 0x1.0p-24)
    }

    /// Uniform in [a, b).
    @inlinable
    public mutating func uniform<T: BinaryFloatingPoint>(_ a: T, _ b: T) -> T {
        a + (b - a) * uniform(T.self)
    }

    /// Standard normal by the Box–Muller transform (one draw per call; the
    /// second value is discarded so that the stream position is simple).
    @inlinable
    public mutating func normal<T: BinaryFloatingPoint>(_: T.Type = T.self) -> T {
        var u1 = Double(next() >> 11) * 0x1.0p-53
        if u1 < 0x1.0p-60 { u1 = 0x1.0p-60 }
        let u2 = Double(next() >> 11) * 0x1.0p-53
        return T((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// A uniformly random integer in 0..<n (n > 0), without modulo bias.
    @inlinable
    public mutating func below(_ n: Int) -> Int {
        Int(next(upperBound: UInt64(n)))
    }

    /// Fisher–Yates shuffle of indices 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                p.swapAt(i, below(i + 1))
            }
        }
        return p
    }
}

public enum CounterRandom {
    /// 64 random bits for (seed, counter); a pure function.
    @inlinable @inline(__always)
    public static func bits(seed: UInt64, counter: UInt64) -> UInt64 {
        splitMix64(splitMix64(seed) ^ (counter &* 0xD605_BBB5_8C8A_BBB5))
    }

    /// Uniform in [0, 1) for (seed, counter).
    @inlinable @inline(__always)
    public static func uniform(seed: UInt64, counter: UInt64) -> Double {
        Double(bits(seed: seed, counter: counter) >> 11) * 0x1.0p-53
    }
}

#if canImport(Glibc)
import Glibc
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#elseif canImport(Darwin)
import Darwin
@usableFromInline func _log(_ x: Double) -> Double { Darwin.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
