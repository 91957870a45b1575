import ArgumentParser
import DLGKernels

@main
struct DLG: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlg",
        abstract: "A compiler and runtime for neural networks described in .dlg files.",
        version: "0.1.0",
        subcommands: [Check.self, Summary.self, Dump.self, Run.self, GradCheck.self, Train.self, Eval.self, Predict.self, Compile.self, Bench.self]
    )

    static func main() {
        // OpenBLAS chose its kernels when it loaded; on a CPU it does not know it runs the
        // generic ones. Start again with the right ones selected (see BLASCore).
        BLASCore.reexecutingForFasterKernels()
        main(nil)
    }
}
