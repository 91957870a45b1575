import DLGData

/// What every reader's fuzz target shares.
///
/// A finding is anything that stops the process: a trap, a memory error
/// (address sanitizer), a stack overflow, a time-out, or memory beyond
/// libFuzzer's limit. Two invariants are checked on purpose: an error the
/// reader throws must name the file it was given, and an allocation the
/// input asks for must go through `MemoryBudget`, whose limit the targets
/// set to `memoryLimit` (below libFuzzer's `-rss_limit_mb` of 2 GB) so that a
/// header claiming gigabytes is refused as `dlg --max-memory` would refuse it.
public enum FuzzSupport {
    public static let file = "fuzz-input"
    public static let memoryLimit = 1 << 30

    public static func setUp() {
        MemoryBudget.limit = memoryLimit
    }

    /// The input's bytes.
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Runs `body`; an error must name the file.
    public static func expectNamed(_ body: () throws -> Void) {
        do { try body() } catch {
            let text = "\(error)"
            if !text.contains(file) { fatalError("an error that does not name the file: \(text)") }
        }
    }

    /// A target's whole entry point: the limits set, then `body` on the input's
    /// bytes, whose errors must name the file. Returns libFuzzer's 0.
    public static func run(_ data: UnsafePointer<UInt8>?, _ size: Int, _ body: ([UInt8]) throws -> Void) -> CInt {
        setUp()
        let input = bytes(data, size)
        expectNamed { try body(input) }
        return 0
    }
}
