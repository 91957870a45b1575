import DLGData
import Foundation
import Testing

/// Runs the `dlg` binary: $DLG_BIN when set, else the `dlg` built next to this test bundle
/// (the package's .build/debug).
enum CLI {
    /// The package root (Tests/dlgTests/CLI.swift → root).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var graphs: String { root.appendingPathComponent("Graphs").path }
    static func graph(_ name: String) -> String { graphs + "/" + name }

    /// Set when the tests run against a release binary chosen on purpose (make test).
    static var releaseBinary: String? {
        guard let b = ProcessInfo.processInfo.environment["DLG_BIN"], !b.isEmpty else { return nil }
        return b
    }

    static let binary: String = {
        if let b = releaseBinary { return b }
        // The test bundle's own directory holds the products of the same build.
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let sibling = exe.deletingLastPathComponent().appendingPathComponent("dlg").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        return root.appendingPathComponent(".build/debug/dlg").path
    }()

    /// The MNIST sample's directory: $DLG_MNIST_DIR, else ../shared/data/mnist beside the package; nil when absent.
    static let mnistDirectory: String? = {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["DLG_MNIST_DIR"],
                          root.deletingLastPathComponent().appendingPathComponent("shared/data/mnist").path]
        for case let d? in candidates where !d.isEmpty
            && FileManager.default.fileExists(atPath: d + "/t10k-images-idx3-ubyte.gz")
            && FileManager.default.fileExists(atPath: d + "/t10k-labels-idx1-ubyte.gz") {
            // Absolute: the commands run in scratch directories.
            return URL(fileURLWithPath: d).standardizedFileURL.path
        }
        return nil
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs dlg with the arguments in `directory`; the environment gets DLG_MNIST_DIR
    /// when the sample exists, NO_COLOR, and `environment`.
    /// `executable` runs another program instead (a shell that sets limits and then runs dlg).
    static func run(_ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
                    executable: String? = nil) throws -> Result {
        let scratch = try Scratch()
        let status = try execute(executable ?? binary, arguments, in: directory, environment: environment,
                                 stdout: scratch.file("out"), stderr: scratch.file("err"))
        return Result(status: status,
                      stdout: try String(contentsOfFile: scratch.file("out"), encoding: .utf8),
                      stderr: try String(contentsOfFile: scratch.file("err"), encoding: .utf8))
    }

    /// Runs a program to its end with the tests' environment — NO_COLOR, and DLG_MNIST_DIR
    /// when the sample exists — plus `environment`; standard output and standard error go to
    /// the files named (files rather than pipes: nothing blocks however much either stream
    /// holds), which may be one file, written in the order the program writes. Returns the exit status.
    static func execute(_ executable: String, _ arguments: [String], in directory: String? = nil,
                        environment: [String: String] = [:], stdout: String, stderr: String) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        if let m = mnistDirectory { env["DLG_MNIST_DIR"] = m }
        for (k, v) in environment { env[k] = v }
        p.environment = env
        _ = FileManager.default.createFile(atPath: stdout, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
        var err = out
        if stderr != stdout {
            _ = FileManager.default.createFile(atPath: stderr, contents: nil)
            err = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        }
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        if stderr != stdout { try err.close() }
        return p.terminationStatus
    }
}

/// A fresh directory under /tmp, removed with its files when released.
final class Scratch {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "dlg-cli-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: file(name), atomically: false, encoding: .utf8)
        return file(name)
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }

    /// Names in the directory, sorted.
    func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Checks a failed run: exit status 1, and standard error contains every fragment.
func expectFailure(_ r: CLI.Result, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == 1, "exit status \(r.status); stderr: \(r.stderr)", sourceLocation: sourceLocation)
    for f in fragments where !r.stderr.contains(f) {
        Issue.record("stderr lacks \"\(f)\":\n\(r.stderr)", sourceLocation: sourceLocation)
    }
    #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Backtrace"), sourceLocation: sourceLocation)
}

/// Checks a successful run (exit status 0).
func expectSuccess(_ r: CLI.Result, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == 0, "exit status \(r.status); stderr: \(r.stderr)", sourceLocation: sourceLocation)
}

/// The JSON object printed on standard output.
func jsonObject(_ r: CLI.Result, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let v = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    return try #require(v as? [String: Any], "not a JSON object: \(r.stdout)", sourceLocation: sourceLocation)
}
