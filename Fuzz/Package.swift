// swift-tools-version:6.0
import PackageDescription

// A libFuzzer target for the dlg front end (lexer, parser, elaborator, shape
// inference and the IR printers). Build and run it with Fuzz/run.sh; see
// Docs/fuzzing.md. The package is separate from the main one so that the
// fuzzer's build flags never touch a normal build.
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
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        // The ONNX reader and importer (`dlg import`); seeds: exported Graphs/ models (Docs/onnx.md).
        .executableTarget(
            name: "FuzzONNX",
            dependencies: [.product(name: "DLGONNX", package: "dlg")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
