// swift-tools-version:6.0
import PackageDescription
import Foundation

// DLGKernelsAVX512 holds the inner loops that are compiled for AVX-512
// (`-target-cpu skylake-avx512`), optimized in every configuration (in a debug
// build they would run a hundred times slower); DLGKernels calls them only on
// CPUs that have AVX-512 (CPUFeatures). Elsewhere the module is empty.
#if arch(x86_64)
let avx512Settings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "skylake-avx512", "-O"])]
#else
let avx512Settings: [SwiftSetting] = []
#endif

// One module per pipeline stage; dependencies point one way:
// Syntax → Graph → Compiler → Runtime → Train → dlg, with Kernels and Data
// underneath the runtime and the trainer. Source files, ranges and
// diagnostics (DLGSource) sit under all of them: only the compiler and the
// `dlg` executable read the parser's syntax tree. DLGOps, at the bottom too,
// holds the op names and the one definition of each elementwise function,
// which the graph, the compiler, the kernels and the AVX-512 loops all read.
let package = Package(
    name: "dlg",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dlg", targets: ["dlg"]),
        .library(name: "DLGSource", targets: ["DLGSource"]),
        .library(name: "DLGOps", targets: ["DLGOps"]),
        .library(name: "DLGSyntax", targets: ["DLGSyntax"]),
        .library(name: "DLGGraph", targets: ["DLGGraph"]),
        .library(name: "DLGCompiler", targets: ["DLGCompiler"]),
        .library(name: "DLGKernels", targets: ["DLGKernels"]),
        .library(name: "DLGRuntime", targets: ["DLGRuntime"]),
        .library(name: "DLGONNX", targets: ["DLGONNX"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "DLGSource"),
        .target(name: "DLGOps"),
        .target(name: "DLGSyntax", dependencies: ["DLGSource"]),
        .target(name: "DLGGraph", dependencies: ["DLGSource", "DLGOps"]),
        .target(name: "DLGCompiler", dependencies: ["DLGSource", "DLGSyntax", "DLGGraph"]),
        .target(name: "DLGKernelsAVX512", dependencies: ["DLGOps"], swiftSettings: avx512Settings),
        .target(name: "DLGKernels", dependencies: ["CBLAS", "DLGOps", "DLGKernelsAVX512"]),
        .target(name: "DLGRuntime", dependencies: ["DLGSource", "DLGGraph", "DLGCompiler", "DLGKernels", "DLGData"]),
        .target(name: "DLGData", dependencies: ["CZlib", "DLGKernels"]),
        .target(name: "DLGTrain", dependencies: ["DLGSource", "DLGCompiler", "DLGRuntime", "DLGData"]),
        // ONNX import and export. Proto/onnx.pb.swift is generated (Proto/generate.sh) and committed.
        .target(
            name: "DLGONNX",
            dependencies: ["DLGSource", "DLGOps", "DLGGraph", "DLGCompiler", "DLGData",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Proto/generate.sh"]
        ),
        .executableTarget(
            name: "dlg",
            dependencies: [
                "DLGSource", "DLGSyntax", "DLGGraph", "DLGCompiler", "DLGRuntime", "DLGData", "DLGTrain", "DLGONNX",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "DLGSyntaxTests", dependencies: ["DLGSource", "DLGSyntax"]),
        .testTarget(
            name: "DLGCompilerTests",
            dependencies: ["DLGSource", "DLGSyntax", "DLGGraph", "DLGCompiler"],
            resources: [.copy("Snapshots")]
        ),
        .testTarget(name: "DLGKernelsTests", dependencies: ["DLGOps", "DLGKernels", "DLGKernelsAVX512"]),
        .testTarget(name: "DLGRuntimeTests", dependencies: ["DLGSource", "DLGSyntax", "DLGCompiler", "DLGRuntime", "DLGKernels"]),
        .testTarget(name: "DLGDataTests", dependencies: ["DLGData"]),
        .testTarget(name: "DLGTrainTests", dependencies: ["DLGSource", "DLGSyntax", "DLGTrain", "DLGData"]),
        .testTarget(name: "DLGONNXTests", dependencies: ["DLGONNX", "DLGData", "DLGGraph"]),
        .testTarget(name: "dlgTests", dependencies: ["dlg", "DLGCompiler", "DLGONNX"]),
    ],
    swiftLanguageModes: [.v6]
)

// While the project grows, a test target is declared only once its folder exists.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
package.targets = package.targets.filter {
    $0.type != .test || FileManager.default.fileExists(atPath: packageRoot + "/Tests/" + $0.name)
}
