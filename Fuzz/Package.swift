// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets: the dlg front end (lexer, parser, elaborator, shape
// inference and the IR printers), and one per reader of input files: npy,
// npz, safetensors, IDX (plain and gzip), CSV, text corpora, CIFAR-10, compiled programs
// (.dlgc), checkpoint metadata and ONNX files. FuzzSeeds writes valid files of each
// format to start the readers' corpora. Build and run them with
// Fuzz/run.sh; see Docs/fuzzing.md. The package is separate from the main
// one so that the fuzzer's build flags never touch a normal build.
let libFuzzerTarget: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

/// A reader's target: FuzzSupport and DLGData, and what else it reads through.
func readerTarget(_ name: String, _ more: [Target.Dependency] = []) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport", .product(name: "DLGData", package: "dlg")] + more,
                      swiftSettings: libFuzzerTarget)
}

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
        readerTarget("FuzzNPY"),
        readerTarget("FuzzNPZ"),
        readerTarget("FuzzSafetensors"),
        readerTarget("FuzzIDX"),
        readerTarget("FuzzCSV"),
        // The text() data source's reader: text cut into token windows, with its vocabulary.
        readerTarget("FuzzText"),
        readerTarget("FuzzCIFAR"),
        readerTarget("FuzzCompiled", ["FuzzSeeds", .product(name: "DLGRuntime", package: "dlg"), .product(name: "DLGKernels", package: "dlg")]),
        readerTarget("FuzzCheckpoint", [.product(name: "DLGTrain", package: "dlg")]),
        // The ONNX reader and importer (`dlg import`); seeds: exported Graphs/ models and Fuzz/seeds/onnx.
        .executableTarget(name: "FuzzONNX", dependencies: [.product(name: "DLGONNX", package: "dlg")],
                          swiftSettings: libFuzzerTarget),
        // Writes the seed files (through FuzzCompiled, see FuzzSeeds.swift).
        .target(name: "FuzzSeeds",
                          dependencies: [.product(name: "DLGData", package: "dlg"), .product(name: "DLGRuntime", package: "dlg"),
                                         .product(name: "DLGTrain", package: "dlg"), .product(name: "DLGCompiler", package: "dlg")]),
    ],
    swiftLanguageModes: [.v6]
)
