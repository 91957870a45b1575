import ArgumentParser
import DLGKernels
#if canImport(Glibc)
import Glibc
#endif

struct Benchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlg-benchmarks",
        abstract: "Release-build benchmarks of dlg's compiler and kernels.",
        subcommands: [FrontendBenchmark.self, AutodiffBenchmark.self,
                      GemmBenchmark.self, ConvBenchmark.self, ElementwiseBenchmark.self,
                      CompileBenchmark.self, FusionBenchmark.self, AllreduceBenchmark.self, LSTMScanBenchmark.self])
}

// As `dlg` does: OpenBLAS's AVX-512/AVX2 kernels where it fell back to its generic ones
// (set OPENBLAS_CORETYPE to choose; the gemm benchmark prints the family in use).
BLASCore.reexecutingForFasterKernels()
// As `dlg` does: the kernels' worker threads stay on their processors (DLG_PIN_THREADS=0: not).
Threads.pinsThreads = getenv("DLG_PIN_THREADS").map { String(cString: $0) } != "0"
// As `dlg` does: subnormal floats as zero (DLG_DENORMALS=keep: IEEE subnormals).
if getenv("DLG_DENORMALS").map({ String(cString: $0) }) != "keep" {
    Threads.flushesDenormals = true
    Threads.setFlushingDenormalsOnCurrentThread(true)
}
Benchmarks.main()
