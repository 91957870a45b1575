/// Inverted dropout with counter-based randomness.
///
/// Element i (a global index into the tensor) is kept when
/// `CounterRandom.uniform(seed: seed, counter: offset + i) >= rate`; kept
/// elements are scaled by 1/(1 − rate), so the expectation of y equals x and
/// nothing changes at inference. Because each element's draw depends only on
/// (seed, offset + i), a mask computed over any split of [0, count) into
/// sub-ranges — by any number of threads — is identical.

/// A dropout rate outside [0, 1).
public struct DropoutError: Error, Hashable, Sendable, CustomStringConvertible {
    public let rate: Double

    public init(rate: Double) { self.rate = rate }

    public var description: String {
        "dropout rate \(rate) is outside [0, 1)"
    }
}

@usableFromInline
func checkedDropoutScale(_ rate: Double) throws(DropoutError) -> Double {
    guard rate >= 0 && rate < 1 else { throw DropoutError(rate: rate) }
    return 1 / (1 - rate)
}

/// mask[i] = (CounterRandom.uniform(seed, counter: offset + i) ≥ rate) ? 1/(1 − rate) : 0
/// for i in `range`. `mask` points at element 0 of the whole mask; only
/// `range` is written. rate = 0 gives all ones. Throws for a rate outside
/// [0, 1) (NaN included) without writing anything.
@inlinable
public func dropoutMask<T: KernelScalar>(_ mask: UnsafeMutablePointer<T>, range: Range<Int>,
                                         rate: Double, seed: UInt64, offset: UInt64) throws(DropoutError) {
    let scale = T(try checkedDropoutScale(rate))
    for i in range {
        let u = CounterRandom.uniform(seed: seed, counter: offset &+ UInt64(i))
        mask[i] = u >= rate ? scale : 0
    }
}

/// Writes the mask for `range` (as `dropoutMask`) and y[i] = x[i]·mask[i]
/// there. All three pointers address element 0 of their tensors; `y` may
/// equal `x`.
@inlinable
public func dropout<T: KernelScalar>(_ x: UnsafePointer<T>, mask: UnsafeMutablePointer<T>, _ y: UnsafeMutablePointer<T>,
                                     range: Range<Int>, rate: Double, seed: UInt64, offset: UInt64) throws(DropoutError) {
    try dropoutMask(mask, range: range, rate: rate, seed: seed, offset: offset)
    let start = range.lowerBound
    SIMDMath.map2(x + start, UnsafePointer(mask + start), y + start, range.count) { $0 * $1 }
}

/// dx[i] = dy[i]·mask[i] for i in `range` (pointers address element 0);
/// `dx` may equal `dy`.
@inlinable
public func dropoutBackward<T: KernelScalar>(_ dy: UnsafePointer<T>, mask: UnsafePointer<T>,
                                             _ dx: UnsafeMutablePointer<T>, range: Range<Int>) {
    let start = range.lowerBound
    SIMDMath.map2(dy + start, mask + start, dx + start, range.count) { $0 * $1 }
}
