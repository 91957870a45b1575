import ArgumentParser

struct Benchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlg-benchmarks",
        abstract: "Release-build benchmarks of dlg's compiler and kernels.",
        subcommands: [FrontendBenchmark.self, AutodiffBenchmark.self])
}

Benchmarks.main()
