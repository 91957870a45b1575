import CBLAS
// The op names and the elementwise functions' definitions (`SIMDMath`,
// `UnaryFunction`, …) are part of the kernels' interface.
@_exported import DLGOps

/// The element types kernels are generic over: Float and Double. The
/// transcendental functions come from `ElementScalar`; GEMM dispatches to the
/// precision-specific BLAS routine.
public protocol KernelScalar: ElementScalar {
    /// Row-major C = alpha·op(A)·op(B) + beta·C through cblas_?gemm.
    static func blasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                         alpha: Self, a: UnsafePointer<Self>, lda: Int,
                         b: UnsafePointer<Self>, ldb: Int,
                         beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// Row-major y = alpha·op(A)·x + beta·y through cblas_?gemv, A stored
    /// m×n with row stride lda (op(A) = Aᵀ when `trans`).
    static func blasGemv(trans: Bool, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
                         x: UnsafePointer<Self>, incx: Int, beta: Self, y: UnsafeMutablePointer<Self>, incy: Int)
    /// A short name for messages and benchmark labels ("f32", "f64").
    static var dtypeName: String { get }
}

extension Float: KernelScalar {
    @inlinable public static func blasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                           alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                           b: UnsafePointer<Float>, ldb: Int,
                                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inlinable public static func blasGemv(trans: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                           x: UnsafePointer<Float>, incx: Int, beta: Float,
                                           y: UnsafeMutablePointer<Float>, incy: Int) {
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, Int32(incx), beta, y, Int32(incy))
    }
    public static var dtypeName: String { "f32" }
}

extension Double: KernelScalar {
    @inlinable public static func blasGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                           alpha: Double, a: UnsafePointer<Double>, lda: Int,
                                           b: UnsafePointer<Double>, ldb: Int,
                                           beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inlinable public static func blasGemv(trans: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                                           x: UnsafePointer<Double>, incx: Int, beta: Double,
                                           y: UnsafeMutablePointer<Double>, incy: Int) {
        cblas_dgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, Int32(incx), beta, y, Int32(incy))
    }
    public static var dtypeName: String { "f64" }
}
