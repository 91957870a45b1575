#if canImport(Glibc)
import Glibc
#endif
#if arch(x86_64)
import DLGKernelsAVX512
#endif

/// What the processor this process runs on can execute, for the kernels that
/// have code compiled for more than the baseline instruction set (the
/// `DLGKernelsAVX512` module).
public enum CPUFeatures {
    /// The `/proc/cpuinfo` flags the AVX-512 kernels need: the module is
    /// compiled for `skylake-avx512`, which uses AVX-512 F, CD, BW, DQ and VL.
    /// Linux lists them only when the kernel saves the zmm registers too.
    public static let avx512Flags = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    /// Whether the CPU runs the AVX-512 kernels (read once from `/proc/cpuinfo`;
    /// false where that file is missing or on other architectures).
    public static let hasAVX512: Bool = {
        #if arch(x86_64)
        guard let text = BLASCore.readText("/proc/cpuinfo") else { return false }
        let flags = BLASCore.cpuFlags(cpuinfo: text)
        return avx512Flags.allSatisfy { flags.contains(Substring($0)) }
        #else
        return false
        #endif
    }()

    /// Whether the kernels use their AVX-512 code: `hasAVX512`, unless the
    /// environment variable `DLG_KERNELS` is `baseline` (which keeps every
    /// kernel on its portable path, for comparisons).
    public static let useAVX512: Bool = {
        if let v = getenv("DLG_KERNELS"), String(cString: v) == "baseline" { return false }
        return hasAVX512
    }()
}

// Generic kernels reach their f32-only AVX-512 code after checking that T is Float.
@inlinable @inline(__always)
func f32<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inlinable @inline(__always)
func f32<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inlinable @inline(__always)
func f32<T>(_ b: UnsafeMutableBufferPointer<T>) -> UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: b.baseAddress.map(f32), count: b.count)
}

/// Whether a kernel over `T` takes its AVX-512 code.
@inlinable @inline(__always)
func usesAVX512<T>(_: T.Type) -> Bool {
    T.self == Float.self && CPUFeatures.useAVX512
}
