import CBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element types kernels are generic over: Float and Double.
/// Transcendental functions and GEMM dispatch to the precision-specific C
/// routine; everything else is plain Swift arithmetic on `Self` and
/// `SIMD16<Self>`.
public protocol KernelScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, CustomStringConvertible {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func expm1(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func sqrt(_ x: Self) -> Self
    /// Row-major C = alpha·op(A)·op(B) + beta·C through cblas_?gemm.
    static func blasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                         alpha: Self, a: UnsafePointer<Self>, lda: Int,
                         b: UnsafePointer<Self>, ldb: Int,
                         beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// A short name for messages and benchmark labels ("f32", "f64").
    static var dtypeName: String { get }
}

extension Float: KernelScalar {
    @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable public static func expm1(_ x: Float) -> Float { expm1f(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable public static func erf(_ x: Float) -> Float { erff(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inlinable public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
    @inlinable public static func blasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                           alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                           b: UnsafePointer<Float>, ldb: Int,
                                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static var dtypeName: String { "f32" }
}

extension Double: KernelScalar {
    @inlinable public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inlinable public static func log1p(_ x: Double) -> Double { Glibc.log1p(x) }
    @inlinable public static func expm1(_ x: Double) -> Double { Glibc.expm1(x) }
    @inlinable public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
    @inlinable public static func erf(_ x: Double) -> Double { Glibc.erf(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
    @inlinable public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
    @inlinable public static func blasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                           alpha: Double, a: UnsafePointer<Double>, lda: Int,
                                           b: UnsafePointer<Double>, ldb: Int,
                                           beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    public static var dtypeName: String { "f64" }
}
