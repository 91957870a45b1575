import ArgumentParser
import Foundation
import DLGKernels

@main
struct DLG: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlg",
        abstract: "A compiler and runtime for neural networks described in .dlg files.",
        version: "0.1.0",
        subcommands: [Check.self, Summary.self, Dump.self, Run.self, GradCheck.self, Train.self, Eval.self, Predict.self, Generate.self, Compile.self, Bench.self, Augment.self, Tune.self, Serve.self, Export.self, Import.self]
    )

    static func main() {
        // OpenBLAS chose its kernels when it loaded; on a CPU it does not know it runs the
        // generic ones. Start again with the right ones selected (see BLASCore).
        BLASCore.reexecutingForFasterKernels()
        // A trial of `dlg tune` ends when the search that started it does.
        TrialRunner.endWithParent()
        // Kernels find their part of a tensor in the cache of the core that wrote it when the
        // worker pool's threads stay on their processors (see Threads.pinsThreads).
        Threads.pinsThreads = ProcessInfo.processInfo.environment["DLG_PIN_THREADS"] != "0"
        // Subnormal floats as zero on the threads that run kernels (see Threads.flushesDenormals).
        if ProcessInfo.processInfo.environment["DLG_DENORMALS"] != "keep" {
            Threads.flushesDenormals = true
            Threads.setFlushingDenormalsOnCurrentThread(true)
        }
        main(nil)
    }
}
