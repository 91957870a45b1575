import DLGGraph
import DLGKernels

/// Draws parameters' initial values. Each parameter has its own random stream,
/// seeded from the run's seed and the parameter's name, so adding a layer
/// does not change how the others start.
public enum ParameterInit {
    /// FNV-1a of the name: a stable 64-bit hash (Swift's Hasher is randomized per process).
    public static func nameHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    /// The bound a or standard deviation s of the fan-based initializers:
    /// U(−1/√fan_in, 1/√fan_in); Glorot U(±√(6/(fan_in+fan_out))), N(0, √(2/(fan_in+fan_out)));
    /// He U(±√(6/fan_in)), N(0, √(2/fan_in)); LeCun U(±√(3/fan_in)) and, as Keras and JAX draw it, a
    /// normal truncated at ±2σ with σ = √(1/fan_in)/0.87962566103423978, so that the variance is 1/fan_in.
    public static func values(_ i: Initializer, count: Int, fanIn: Int, fanOut: Int, seed: UInt64, name: String) -> [Double] {
        var rng = RandomStream(seed: seed ^ nameHash(name))
        let fi = Double(max(fanIn, 1)), fo = Double(max(fanOut, 1))
        func uniform(_ a: Double, _ b: Double) -> [Double] { (0..<count).map { _ in rng.uniform(a, b) } }
        func normal(_ m: Double, _ s: Double) -> [Double] { (0..<count).map { _ in m + s * rng.normal(Double.self) } }
        switch i {
        case .zeros: return Array(repeating: 0, count: count)
        case .ones: return Array(repeating: 1, count: count)
        case .constant(let v): return Array(repeating: v, count: count)
        case .uniform(let a, let b): return uniform(a, b)
        case .normal(let m, let s): return normal(m, s)
        case .uniformFanIn:
            let a = 1 / fi.squareRoot()
            return uniform(-a, a)
        case .xavierUniform:
            let a = (6 / (fi + fo)).squareRoot()
            return uniform(-a, a)
        case .xavierNormal: return normal(0, (2 / (fi + fo)).squareRoot())
        case .heUniform:
            let a = (6 / fi).squareRoot()
            return uniform(-a, a)
        case .heNormal: return normal(0, (2 / fi).squareRoot())
        case .lecunUniform:
            let a = (3 / fi).squareRoot()
            return uniform(-a, a)
        case .lecunNormal:
            // The standard deviation of a standard normal truncated to [−2, 2] is 0.8796…: dividing by
            // it makes the truncated draw's variance 1/fan_in. Rejection keeps each draw in [−2σ, 2σ].
            let s = (1 / fi).squareRoot() / 0.87962566103423978
            return (0..<count).map { _ in
                var z = rng.normal(Double.self)
                while Swift.abs(z) > 2 { z = rng.normal(Double.self) }
                return s * z
            }
        case .literal(let t): return t.values
        }
    }
}
