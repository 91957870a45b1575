import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Which of OpenBLAS's CPU-specific kernels run.
///
/// A `DYNAMIC_ARCH` OpenBLAS (Debian's) picks its kernels once, when the
/// library loads, from the CPU model. A CPU newer than the library falls back
/// to the generic `Prescott` (SSE3) kernels, three to four times slower than
/// the AVX-512 ones on the same machine. The variable `OPENBLAS_CORETYPE`
/// overrides the choice, but only if it is set before the library loads, so
/// `dlg` sets it and re-executes itself (`reexecutingForFasterKernels`).
public enum BLASCore {
    /// The kernel family OpenBLAS runs now, e.g. "SkylakeX", "Haswell", "Prescott".
    public static var current: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS's build configuration line.
    public static var configuration: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }

    /// The kernels a CPU with these `/proc/cpuinfo` flags supports best among those OpenBLAS
    /// names: SkylakeX with the AVX-512 subsets it uses, Haswell with AVX2 and FMA, else nil.
    public static func bestCoreType(cpuFlags: Set<Substring>) -> String? {
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].allSatisfy(cpuFlags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(cpuFlags.contains) { return "Haswell" }
        return nil
    }

    /// The flags of the first processor in `cpuinfo` (the text of /proc/cpuinfo).
    public static func cpuFlags(cpuinfo: String) -> Set<Substring> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " "))
        }
        return []
    }

    /// The core type to ask for when OpenBLAS fell back to its generic kernels on a CPU that
    /// can do better and nobody chose (`OPENBLAS_CORETYPE` unset); nil otherwise.
    public static func preferredCoreType(environment: [String: String], current: String, cpuinfo: String) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, current.lowercased() == "prescott" else { return nil }
        return bestCoreType(cpuFlags: cpuFlags(cpuinfo: cpuinfo))
    }

    /// When OpenBLAS runs its generic kernels on a CPU that has better ones, sets
    /// `OPENBLAS_CORETYPE` and replaces the process with a new run of the same executable and
    /// arguments (which then loads OpenBLAS with the right kernels). Returns when nothing is to
    /// be done or the re-execution failed; the process then goes on with the kernels it has.
    public static func reexecutingForFasterKernels() {
        var environment: [String: String] = [:]
        if let v = getenv("OPENBLAS_CORETYPE") { environment["OPENBLAS_CORETYPE"] = String(cString: v) }
        guard let text = readText("/proc/cpuinfo"),
              let core = preferredCoreType(environment: environment, current: current, cpuinfo: text) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }

    /// The whole text of a file, or nil when it cannot be opened.
    static func readText(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
