// swift-tools-version:6.0
import PackageDescription

// Release-build benchmarks of dlg, kept out of the main package so that CI
// and `make test` don't build them. Run: `make bench` or
// `swift run -c release --package-path Benchmarks dlg-benchmarks --help`.
let package = Package(
    name: "DLGBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "dlg", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(
            name: "dlg-benchmarks",
            dependencies: [
                .product(name: "DLGSource", package: "dlg"),
                .product(name: "DLGSyntax", package: "dlg"),
                .product(name: "DLGGraph", package: "dlg"),
                .product(name: "DLGCompiler", package: "dlg"),
                .product(name: "DLGKernels", package: "dlg"),
                .product(name: "DLGRuntime", package: "dlg"),
                .product(name: "DLGDistributed", package: "dlg"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/DLGBenchmarks"
        ),
    ],
    swiftLanguageModes: [.v6]
)
