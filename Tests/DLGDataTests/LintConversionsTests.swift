import Foundation
import Testing

/// Scripts/lint-conversions.py: every integer conversion on an input path
/// either cannot trap or says why its value fits.
@Suite("Unchecked conversions on input paths")
struct LintConversionsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    func lint(_ root: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.python!)
        p.arguments = [Self.root.appendingPathComponent("Scripts/lint-conversions.py").path, root]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(.enabled(if: python != nil, "python3 is not installed"))
    func everyConversionJustified() throws {
        let (status, output) = try lint(Self.root.path)
        #expect(status == 0, "\(output)")
        #expect(output.contains(", 0 not"), "\(output)")
    }

    /// The lint finds an unjustified conversion, and accepts it once justified.
    @Test(.enabled(if: python != nil, "python3 is not installed"))
    func findsAnUnjustifiedConversion() throws {
        let dir = NSTemporaryDirectory() + "dlg-lint-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/Sources/DLGData", withIntermediateDirectories: true)
        let bad = "func f(_ x: Double, _ n: Int) -> (Int, UInt64, Int32) {\n    (Int(x), UInt64(n), Int32(exactly: x) ?? 0)\n}\n"
        try bad.write(toFile: dir + "/Sources/DLGData/Bad.swift", atomically: true, encoding: .utf8)
        let (status, output) = try lint(dir)
        #expect(status == 1)
        #expect(output.contains("Sources/DLGData/Bad.swift:2: unchecked conversion"), "\(output)")
        #expect(output.contains("2 conversions on input paths, 0 justified, 2 not"), "\(output)")
        let fixed = bad.replacingOccurrences(of: "    (Int(x)", with: "    // conversion: x is checked by the caller\n    (Int(x)")
        try fixed.write(toFile: dir + "/Sources/DLGData/Bad.swift", atomically: true, encoding: .utf8)
        #expect(try lint(dir).status == 0)
    }
}
