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

// Open MPI, for data-parallel training (`mpirun -np N dlg train`, Docs/distributed.md):
// the CMPI module, and the code in DLGDistributed that uses it, are part of the build
// only where pkg-config finds Open MPI (Debian: libopenmpi-dev); elsewhere dlg builds
// and trains in one process, and says so when started by mpirun. DLG_MPI=0 leaves MPI
// out even where it is installed.
func pkgConfigFinds(_ name: String) -> Bool {
    #if os(Linux)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["pkg-config", "--exists", name]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
    #else
    return false
    #endif
}
let withMPI = ProcessInfo.processInfo.environment["DLG_MPI"] != "0" && pkgConfigFinds("ompi")
let mpiDependency: [Target.Dependency] = withMPI ? ["CMPI"] : []

// One module per pipeline stage; dependencies point one way:
// Syntax → Graph → Compiler → Runtime → Train → dlg, with Kernels and Data
// underneath the runtime and the trainer, and Serve (the inference server)
// beside Train. Source files, ranges and diagnostics (DLGSource) sit under
// all of them: only the compiler and the `dlg` executable read the parser's
// syntax tree. DLGOps, at the bottom too, holds the op names and the one
// definition of each elementwise function, which the graph, the compiler, the
// kernels and the AVX-512 loops all read.
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
        .library(name: "DLGData", targets: ["DLGData"]),
        .library(name: "DLGTrain", targets: ["DLGTrain"]),
        .library(name: "DLGDistributed", targets: ["DLGDistributed"]),
        .library(name: "DLGONNX", targets: ["DLGONNX"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // dlg serve: HTTP server, logs, metrics in Prometheus' format, the source's SHA-256.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // dlg import/export: ONNX files.
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
        // Vector square roots (a C header of inline functions) for the elementwise math.
        .systemLibrary(name: "CVectorMath"),
        .target(name: "DLGOps", dependencies: ["CVectorMath"]),
        .target(name: "DLGSyntax", dependencies: ["DLGSource"]),
        .target(name: "DLGGraph", dependencies: ["DLGSource", "DLGOps"]),
        .target(name: "DLGCompiler", dependencies: ["DLGSource", "DLGSyntax", "DLGGraph"]),
        // Prefetch hints (a C header of two inline functions) for the kernels' streaming loops.
        .systemLibrary(name: "CPrefetch"),
        .target(name: "DLGKernelsAVX512", dependencies: ["DLGOps", "CPrefetch"], swiftSettings: avx512Settings),
        .target(name: "DLGKernels", dependencies: ["CBLAS", "DLGOps", "DLGKernelsAVX512"]),
        .target(name: "DLGRuntime", dependencies: ["DLGSource", "DLGGraph", "DLGCompiler", "DLGKernels", "DLGData"]),
        .target(name: "DLGData", dependencies: ["CZlib", "DLGKernels"]),
        .target(name: "DLGTrain", dependencies: ["DLGSource", "DLGCompiler", "DLGRuntime", "DLGData"]),
        .target(name: "DLGDistributed", dependencies: ["DLGGraph", "DLGRuntime"] + mpiDependency),
        // The inference server of `dlg serve`: above the runtime, beside the trainer.
        .target(
            name: "DLGServe",
            dependencies: [
                "DLGSource", "DLGGraph", "DLGCompiler", "DLGRuntime", "DLGData", "DLGKernels", "DLGTrain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
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
                "DLGSource", "DLGSyntax", "DLGGraph", "DLGCompiler", "DLGRuntime", "DLGData", "DLGTrain", "DLGDistributed", "DLGServe", "DLGONNX",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
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
        .testTarget(name: "DLGTrainTests", dependencies: ["DLGSource", "DLGSyntax", "DLGTrain", "DLGData", "DLGDistributed"]),
        .testTarget(name: "DLGONNXTests", dependencies: ["DLGONNX", "DLGData", "DLGGraph"]),
        .testTarget(name: "dlgTests", dependencies: ["dlg", "DLGCompiler", "DLGONNX"]),
    ],
    swiftLanguageModes: [.v6]
)

if withMPI {
    package.targets.append(.systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]))
}

// While the project grows, a test target is declared only once its folder exists.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
package.targets = package.targets.filter {
    $0.type != .test || FileManager.default.fileExists(atPath: packageRoot + "/Tests/" + $0.name)
}
