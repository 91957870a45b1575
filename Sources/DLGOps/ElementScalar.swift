import CVectorMath
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element types the elementwise functions are generic over: Float and
/// Double. Transcendental functions dispatch to the precision-specific libm
/// routine; everything else is plain Swift arithmetic on `Self` and
/// `SIMD16<Self>`. (The kernels' `KernelScalar` adds BLAS on top.)
public protocol ElementScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, CustomStringConvertible {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func expm1(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
    static func erfc(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func sqrt(_ x: Self) -> Self
    /// √x lane by lane, as one vector operation (SIMD16's `squareRoot()` is a scalar loop).
    static func sqrt(_ x: SIMD16<Self>) -> SIMD16<Self>
}

extension Float: ElementScalar {
    @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable public static func expm1(_ x: Float) -> Float { expm1f(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable public static func erf(_ x: Float) -> Float { erff(x) }
    @inlinable public static func erfc(_ x: Float) -> Float { erfcf(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inlinable public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
    @inlinable public static func sqrt(_ x: SIMD16<Float>) -> SIMD16<Float> { dlg_sqrt_float16(x) }
}

extension Double: ElementScalar {
    @inlinable public static func exp(_ x: Double) -> Double { libmExp(x) }
    @inlinable public static func log(_ x: Double) -> Double { libmLog(x) }
    @inlinable public static func log1p(_ x: Double) -> Double { libmLog1p(x) }
    @inlinable public static func expm1(_ x: Double) -> Double { libmExpm1(x) }
    @inlinable public static func tanh(_ x: Double) -> Double { libmTanh(x) }
    @inlinable public static func erf(_ x: Double) -> Double { libmErf(x) }
    @inlinable public static func erfc(_ x: Double) -> Double { libmErfc(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { libmPow(x, y) }
    @inlinable public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
    @inlinable public static func sqrt(_ x: SIMD16<Double>) -> SIMD16<Double> { dlg_sqrt_double16(x) }
}

// The double-precision libm routines under names the static requirements above do not shadow.
@inlinable @inline(__always) func libmExp(_ x: Double) -> Double { exp(x) }
@inlinable @inline(__always) func libmLog(_ x: Double) -> Double { log(x) }
@inlinable @inline(__always) func libmLog1p(_ x: Double) -> Double { log1p(x) }
@inlinable @inline(__always) func libmExpm1(_ x: Double) -> Double { expm1(x) }
@inlinable @inline(__always) func libmTanh(_ x: Double) -> Double { tanh(x) }
@inlinable @inline(__always) func libmErf(_ x: Double) -> Double { erf(x) }
@inlinable @inline(__always) func libmErfc(_ x: Double) -> Double { erfc(x) }
@inlinable @inline(__always) func libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
