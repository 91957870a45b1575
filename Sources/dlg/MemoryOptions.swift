import ArgumentParser
import DLGData

/// A byte count written as a number with an optional suffix K, M or G
/// (powers of 1024): `512M`, `1.5G`, `1048576`. NaN, infinity, negative
/// numbers and counts beyond 2⁶³ − 1 bytes are refused.
struct ByteCount: ExpressibleByArgument, Sendable, Equatable {
    var bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let units: [Character: Double] = ["K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024]
        var text = Substring(argument)
        var unit = 1.0
        if let last = text.last, let u = units[Character(last.uppercased())] {
            unit = u
            text = text.dropLast()
        }
        // Digits with at most one point: no sign, exponent, nan or inf.
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              text.filter({ $0 == "." }).count <= 1, text != ".", let v = Double(text) else { return nil }
        let total = (v * unit).rounded(.down)
        guard total.isFinite, total < 9.2e18, let b = Int(exactly: total), b > 0 else { return nil }
        bytes = b
    }

    static var defaultValueDescription: String { "BYTES" }
}

/// `--max-memory`, on every command that allocates: the most memory the
/// run may hold (parameters, optimizer state, arenas and data), checked
/// before each large allocation (see `MemoryBudget`).
struct MemoryOptions: ParsableArguments {
    @Option(name: .customLong("max-memory"),
            help: ArgumentHelp("The most memory the run may use: parameters, optimizer state, arenas and data (suffixes K, M, G; e.g. 512M, 1.5G).",
                               valueName: "BYTES"),
            transform: { text in
                guard let b = ByteCount(argument: text) else {
                    throw ValidationError("--max-memory takes a positive byte count such as 512M or 1.5G, got '\(text)'")
                }
                return b
            })
    var maxMemory: ByteCount?

    /// Sets the process's memory limit.
    func apply() {
        MemoryBudget.limit = maxMemory?.bytes
    }
}
