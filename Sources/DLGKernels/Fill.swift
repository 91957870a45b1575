/// Fills for parameter initializers, driven by a caller-owned `RandomStream`
/// so that a model's parameters are reproducible from one seed. Elements are
/// drawn in index order, one stream step per element for uniform and two per
/// element (one Box–Muller draw) for normal. Fan-based initializers (Xavier,
/// He, ±1/√fan_in) are these fills with bounds or std computed by the caller.

/// y[i] = value for i in 0..<count.
@inlinable
public func fillConstant<T: KernelScalar>(_ y: UnsafeMutablePointer<T>, count: Int, value: T) {
    y.update(repeating: value, count: count)
}

/// y[i] = low + (high − low)·u with u uniform in [0, 1) (24 random bits for
/// Float, 53 for Double), in index order; values lie in [low, high) up to the
/// final rounding.
@inlinable
public func fillUniform<T: KernelScalar>(_ y: UnsafeMutablePointer<T>, count: Int, low: T, high: T,
                                         using rng: inout RandomStream) {
    for i in 0..<count { y[i] = rng.uniform(low, high) }
}

/// y[i] = mean + std·z with z standard normal (`RandomStream.normal`), in index order.
@inlinable
public func fillNormal<T: KernelScalar>(_ y: UnsafeMutablePointer<T>, count: Int, mean: T, std: T,
                                        using rng: inout RandomStream) {
    for i in 0..<count {
        let z: T = rng.normal()
        y[i] = mean + std * z
    }
}

/// y[i] = mean + std·z with z standard normal conditioned on |z| ≤ 2: draws
/// with |z| > 2 are rejected and redrawn (about 4.6% of them), so every value
/// lies within two standard deviations of the mean.
@inlinable
public func fillTruncatedNormal<T: KernelScalar>(_ y: UnsafeMutablePointer<T>, count: Int, mean: T, std: T,
                                                 using rng: inout RandomStream) {
    for i in 0..<count {
        var z: Double = rng.normal()
        while Swift.abs(z) > 2 { z = rng.normal() }
        y[i] = mean + std * T(z)
    }
}
