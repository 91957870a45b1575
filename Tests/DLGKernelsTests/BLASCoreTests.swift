import Testing
@testable import DLGKernels

/// Choosing OpenBLAS's kernels: only when it fell back to the generic ones, only when the user
/// set nothing, and then the best family the CPU's flags allow.
@Suite struct BLASCoreTests {
    // Flag lines shaped like /proc/cpuinfo's, cut down to what matters.
    static let avx512 = "processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 fma avx avx2 avx512f avx512dq avx512cd avx512bw avx512vl\n"
    static let avx2 = "processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 fma avx avx2\n"
    static let sse = "processor\t: 0\nflags\t\t: fpu sse sse2 ssse3\n"

    @Test func flagsAreReadFromTheFlagsLine() {
        let f = BLASCore.cpuFlags(cpuinfo: Self.avx2)
        #expect(f == ["fpu", "sse", "sse2", "ssse3", "fma", "avx", "avx2"])
        #expect(BLASCore.cpuFlags(cpuinfo: "processor\t: 0\n").isEmpty)
    }

    @Test func bestFamilyForTheFlags() {
        #expect(BLASCore.bestCoreType(cpuFlags: BLASCore.cpuFlags(cpuinfo: Self.avx512)) == "SkylakeX")
        #expect(BLASCore.bestCoreType(cpuFlags: BLASCore.cpuFlags(cpuinfo: Self.avx2)) == "Haswell")
        #expect(BLASCore.bestCoreType(cpuFlags: BLASCore.cpuFlags(cpuinfo: Self.sse)) == nil)
        // avx512f alone (no bw/vl, as on Knights Landing) is not SkylakeX.
        #expect(BLASCore.bestCoreType(cpuFlags: ["avx512f", "avx2", "fma"]) == "Haswell")
    }

    @Test func onlyAGenericFallbackIsReplaced() {
        #expect(BLASCore.preferredCoreType(environment: [:], current: "Prescott", cpuinfo: Self.avx512) == "SkylakeX")
        // OpenBLAS recognised the CPU: leave it.
        #expect(BLASCore.preferredCoreType(environment: [:], current: "SkylakeX", cpuinfo: Self.avx512) == nil)
        #expect(BLASCore.preferredCoreType(environment: [:], current: "Haswell", cpuinfo: Self.avx512) == nil)
        // The user chose (even the generic kernels): leave it; this also ends the re-execution.
        #expect(BLASCore.preferredCoreType(environment: ["OPENBLAS_CORETYPE": "Prescott"], current: "Prescott",
                                           cpuinfo: Self.avx512) == nil)
        // Nothing better to pick.
        #expect(BLASCore.preferredCoreType(environment: [:], current: "Prescott", cpuinfo: Self.sse) == nil)
    }
}
