// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets: the dlg front end (lexer, parser, elaborator, shape
// inference and the IR printers), and one per reader of input files: npy,
// npz, safetensors, IDX (plain and gzip), CSV, CIFAR-10, compiled programs
// (.dlgc) and checkpoint metadata. FuzzSeeds writes valid files of each
// format to start the readers' corpora. Build and run them with
// Fuzz/run.sh; see Docs/fuzzing.md. The package is separate from the main
// one so that the fuzzer's build flags never touch a normal build.
let libFuzzerTarget: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "dlg-fuzz",
    dependencies: [
        .package(name: "dlg", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "FuzzFrontend",
            dependencies: [
                .product(name: "DLGSource", package: "dlg"),
                .product(name: "DLGSyntax", package: "dlg"),
                .product(name: "DLGGraph", package: "dlg"),
                .product(name: "DLGCompiler", package: "dlg"),
            ],
            // libFuzzer supplies `main`; this file only defines LLVMFuzzerTestOneInput.
            swiftSettings: libFuzzerTarget
        ),
        .target(name: "FuzzSupport", dependencies: [.product(name: "DLGData", package: "dlg")]),
        .executableTarget(name: "FuzzNPY", dependencies: ["FuzzSupport", .product(name: "DLGData", package: "dlg")],
                          swiftSettings: libFuzzerTarget),
        .executableTarget(name: "FuzzNPZ", dependencies: ["FuzzSupport", .product(name: "DLGData", package: "dlg")],
                          swiftSettings: libFuzzerTarget),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport", .product(name: "DLGData", package: "dlg")],
                          swiftSettings: libFuzzerTarget),
        .executableTarget(name: "FuzzIDX", dependencies: ["FuzzSupport", .product(name: "DLGData", package: "dlg")],
                          swiftSettings: libFuzzerTarget),
        .executableTarget(name: "FuzzCSV", dependencies: ["FuzzSupport", .product(name: "DLGData", package: "dlg")],
                          swiftSettings: libFuzzerTarget),
        .executableTarget(name: "FuzzCIFAR", dependencies: ["FuzzSupport", .product(name: "DLGData", package: "dlg")],
                          swiftSettings: libFuzzerTarget),
        .executableTarget(name: "FuzzCompiled",
                          dependencies: ["FuzzSupport", "FuzzSeeds", .product(name: "DLGData", package: "dlg"),
                                         .product(name: "DLGRuntime", package: "dlg"), .product(name: "DLGKernels", package: "dlg")],
                          swiftSettings: libFuzzerTarget),
        .executableTarget(name: "FuzzCheckpoint",
                          dependencies: ["FuzzSupport", .product(name: "DLGData", package: "dlg"),
                                         .product(name: "DLGTrain", package: "dlg")],
                          swiftSettings: libFuzzerTarget),
        // Writes the seed files (through FuzzCompiled, see FuzzSeeds.swift).
        .target(name: "FuzzSeeds",
                          dependencies: [.product(name: "DLGData", package: "dlg"), .product(name: "DLGRuntime", package: "dlg"),
                                         .product(name: "DLGTrain", package: "dlg"), .product(name: "DLGCompiler", package: "dlg")]),
    ],
    swiftLanguageModes: [.v6]
)
