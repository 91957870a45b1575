import DLGKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The symbols of token-id data: id `k` stands for `symbols[k]` (character
/// level), or for the byte `k` (byte level, 256 ids).
public struct Vocabulary: Sendable, Equatable {
    public enum Level: String, Sendable, Equatable, CaseIterable {
        /// One token per Unicode scalar of UTF-8 text.
        case char
        /// One token per byte, ids 0…255.
        case byte
    }

    public let level: Level
    /// Character level: the scalars in id order. Byte level: empty.
    public let symbols: [Unicode.Scalar]
    private let ids: [UInt32: Int32]

    /// A character-level vocabulary with these symbols, in id order (distinct).
    public init(symbols: [Unicode.Scalar]) {
        level = .char
        self.symbols = symbols
        var ids = [UInt32: Int32]()
        // conversion: a vocabulary holds at most 0x110000 distinct scalars, far below Int32.max
        for (k, s) in symbols.enumerated() where ids[s.value] == nil { ids[s.value] = Int32(k) }
        self.ids = ids
    }

    /// The byte-level vocabulary.
    public static let bytes = Vocabulary(level: .byte)

    private init(level: Level) {
        self.level = level
        symbols = []
        ids = [:]
    }

    /// The number of token ids.
    public var size: Int { level == .byte ? 256 : symbols.count }

    /// The id of a character-level symbol, nil when it is not in the vocabulary.
    public func id(of scalar: Unicode.Scalar) -> Int32? { ids[scalar.value] }

    /// Token ids as text: the symbols (character level) or the bytes decoded as
    /// UTF-8, with U+FFFD for bytes that do not form UTF-8 (byte level). Ids
    /// outside the vocabulary become U+FFFD.
    public func decode(_ tokens: [Int]) -> String {
        switch level {
        case .byte:
            // conversion: ids outside 0…255 are replaced, the others are bytes
            return String(decoding: tokens.map { (0...255).contains($0) ? UInt8($0) : 0x3F }, as: UTF8.self)
        case .char:
            var s = String.UnicodeScalarView()
            for t in tokens { s.append(t >= 0 && t < symbols.count ? symbols[t] : "\u{FFFD}") }
            return String(s)
        }
    }

    /// Text as token ids; a symbol outside the vocabulary is an error naming
    /// `file`, its byte offset and the symbol.
    public func encode(_ text: String, file: String) throws -> [Int32] {
        try TextCorpus.tokens(Array(text.utf8), file: file, level: level, vocabulary: self).ids
    }

    /// The checkpoint metadata that records it (safetensors `__metadata__`).
    public var metadata: [String: String] {
        var m = ["vocabulary_level": level.rawValue]
        if level == .char {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: symbols)
            m["vocabulary"] = String(s)
        }
        return m
    }

    /// The vocabulary recorded in checkpoint metadata, nil when there is none;
    /// an unreadable record is an error naming `file` and the field.
    public init?(metadata: [String: String], file: String) throws {
        guard let level = metadata["vocabulary_level"] else { return nil }
        switch level {
        case "byte": self.init(level: .byte)
        case "char":
            guard let text = metadata["vocabulary"], !text.isEmpty else {
                throw DataError(file: file, .badHeader(field: "__metadata__.vocabulary",
                                                       message: "missing or empty; a character-level vocabulary lists its symbols"))
            }
            let symbols = Array(text.unicodeScalars)
            guard Set(symbols.map(\.value)).count == symbols.count else {
                throw DataError(file: file, .badHeader(field: "__metadata__.vocabulary", message: "repeats a symbol"))
            }
            self.init(symbols: symbols)
        default:
            throw DataError(file: file, .badHeader(field: "__metadata__.vocabulary_level",
                                                   message: "'\(level)' is not char or byte"))
        }
    }
}

/// What a sequence dataset's labels are and how predictions are scored.
public struct SequenceInfo: Sendable, Equatable {
    public enum Scored: Sendable, Equatable {
        /// Language modelling: the label at every position is the next token;
        /// scored by per-token loss and perplexity (and next-token accuracy).
        case everyToken
        /// One answer per example at these label positions (`adder`, `copy`,
        /// `reverse`): an example is right when the most likely token at every
        /// one of them is the label (exact match).
        case answer(Range<Int>)
        /// Real-valued targets (time-series windows): scored by mean squared error.
        case forecast
    }

    /// The symbols of the token ids (features and labels), for token data.
    public var vocabulary: Vocabulary?
    public var scored: Scored

    public init(vocabulary: Vocabulary?, scored: Scored) {
        self.vocabulary = vocabulary
        self.scored = scored
    }
}

/// Text files as token windows for language models.
public enum TextCorpus {
    /// Reads a text file and cuts it into windows (see `dataset(bytes:…)`).
    public static func read(_ path: String, seq: Int, level: Vocabulary.Level = .char, stride: Int? = nil,
                            vocabulary: Vocabulary? = nil) throws -> Dataset {
        try dataset(bytes: try readFileBytes(path), file: path, seq: seq, level: level, stride: stride, vocabulary: vocabulary)
    }

    /// The corpus as token ids, then windows of `seq + 1` tokens starting every
    /// `stride` tokens (default `seq`, so that consecutive windows share one
    /// token): window i covers tokens `i·stride ..< i·stride + seq + 1`; its
    /// features are the first `seq` (i32 `[N, seq]`), its labels the last
    /// `seq` (i32 `[N, seq]`, the next token at every position). A corpus of
    /// L tokens gives N = ⌊(L − seq − 1) / stride⌋ + 1 windows. Without a
    /// `vocabulary` a character-level one is made of the distinct scalars,
    /// sorted by code point.
    public static func dataset(bytes: [UInt8], file: String, seq: Int, level: Vocabulary.Level = .char, stride: Int? = nil,
                               vocabulary: Vocabulary? = nil) throws -> Dataset {
        guard seq >= 1 else { throw DataError(file: file, .invalid("seq \(seq) must be a positive window length")) }
        let step = stride ?? seq
        guard step >= 1 else { throw DataError(file: file, .invalid("stride \(step) must be a positive number of tokens")) }
        guard !bytes.isEmpty else { throw DataError(file: file, .emptyDataset(detail: "the text file is empty")) }
        if let vocabulary, vocabulary.level != level {
            throw DataError(file: file, .invalid(
                "the vocabulary is \(vocabulary.level)-level but the text is read by \(level) (level: \(level))"))
        }
        let (ids, vocab) = try tokens(bytes, file: file, level: level, vocabulary: vocabulary)
        let unit = level == .char ? "characters" : "bytes"
        guard ids.count >= seq + 1 else {
            throw DataError(file: file, .invalid(
                "the text has \(ids.count) \(unit); seq: \(seq) needs at least \(seq + 1) (a window of seq + 1 tokens)"))
        }
        let n = (ids.count - seq - 1) / step + 1
        guard let elements = MemoryBudget.product(n, seq), let bytesNeeded = MemoryBudget.product(elements, 8) else {
            throw DataError(file: file, .invalid("\(n) windows of \(seq) tokens are too many to hold"))
        }
        try MemoryBudget.require(bytesNeeded, for: "\(n) windows of \(seq) tokens (features and labels)", file: file)
        var x = [Int32](), y = [Int32]()
        x.reserveCapacity(elements)
        y.reserveCapacity(elements)
        for i in 0..<n {
            let s = i * step
            x.append(contentsOf: ids[s..<(s + seq)])
            y.append(contentsOf: ids[(s + 1)..<(s + seq + 1)])
        }
        var d = Dataset(unchecked: file, features: NDArray(unchecked: [n, seq], .i32(x)),
                        labels: NDArray(unchecked: [n, seq], .i32(y)), classCount: vocab.size)
        d.sequence = SequenceInfo(vocabulary: vocab, scored: .everyToken)
        return d
    }

    /// Token ids of text bytes. Character level: the bytes must be UTF-8 (the
    /// first invalid sequence is an error naming its byte offset and line);
    /// with a `vocabulary`, every scalar must be in it (else an error naming
    /// the symbol and its offset); without, the vocabulary is the distinct
    /// scalars sorted by code point. Byte level: id = byte.
    public static func tokens(_ bytes: [UInt8], file: String, level: Vocabulary.Level,
                              vocabulary: Vocabulary?) throws -> (ids: [Int32], vocabulary: Vocabulary) {
        if level == .byte {
            // conversion: widens UInt8
            return (bytes.map { Int32($0) }, .bytes)
        }
        try MemoryBudget.require(MemoryBudget.product(bytes.count, 8) ?? Int.max, for: "the text's characters", file: file)
        var scalars = [Unicode.Scalar]()
        scalars.reserveCapacity(bytes.count)
        var offsets = [Int]()
        if vocabulary != nil { offsets.reserveCapacity(bytes.count) }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        decoding: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                scalars.append(Unicode.UTF8.decode(encoded))
                if vocabulary != nil { offsets.append(offset) }
                offset += encoded.count
            case .emptyInput:
                break decoding
            case .error(let length):
                let shown = bytes[offset..<min(bytes.count, offset + max(length, 1))]
                    .map { "0x" + String($0, radix: 16, uppercase: true) }.joined(separator: " ")
                let line = 1 + bytes[..<offset].reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
                throw DataError(file: file, .invalid(
                    "invalid UTF-8 at byte offset \(offset) (line \(line)): \(shown); text read by character must be UTF-8 (read it by byte with level: byte)"))
            }
        }
        if let vocabulary {
            var ids = [Int32]()
            ids.reserveCapacity(scalars.count)
            for (k, s) in scalars.enumerated() {
                guard let id = vocabulary.id(of: s) else {
                    throw DataError(file: file, .invalid(
                        "character \(describe(s)) at byte offset \(offsets[k]) is not in the vocabulary of \(vocabulary.size) symbols"))
                }
                ids.append(id)
            }
            return (ids, vocabulary)
        }
        let symbols = Set(scalars.map(\.value)).sorted().compactMap(Unicode.Scalar.init)
        let vocab = Vocabulary(symbols: symbols)
        return (scalars.map { vocab.id(of: $0)! }, vocab)
    }

    /// A symbol for messages: printable ones quoted, others as U+XXXX.
    public static func describe(_ s: Unicode.Scalar) -> String {
        let hex = String(s.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        return s.properties.generalCategory == .control || s == " " ? code : "'\(s)' (\(code))"
    }
}

/// Time-series windows from the rows of a table (one row per time step).
public enum TimeSeries {
    /// Windows of `window` consecutive rows and the `horizon` rows after them:
    /// window i (i = 0 … R − window − horizon) has features rows `i ..< i + window`
    /// of every column (f32 `[N, window, C]`) and labels the `target` column at
    /// rows `i + window ..< i + window + horizon` (f32 `[N, horizon]`), or every
    /// column there when `target` is nil (f32 `[N, horizon·C]`, step by step).
    /// `values` is `[R, C]`.
    public static func windows(_ values: NDArray, columns: [String], target: Int?, window: Int, horizon: Int,
                               file: String) throws -> Dataset {
        guard window >= 1, horizon >= 1 else {
            throw DataError(file: file, .invalid("window \(window) and horizon \(horizon) must be positive"))
        }
        guard values.rank == 2 else { throw DataError(file: file, .invalid("time series \(values) must be [rows, columns]")) }
        let rows = values.shape[0], c = values.shape[1]
        guard rows >= window + horizon else {
            throw DataError(file: file, .invalid(
                "\(rows) rows (time steps) are fewer than window \(window) + horizon \(horizon) = \(window + horizon); no window fits"))
        }
        let n = rows - window - horizon + 1
        let outWidth = target == nil ? horizon * c : horizon
        guard let xCount = MemoryBudget.product(n, window * c), let yCount = MemoryBudget.product(n, outWidth),
              let bytes = MemoryBudget.product(xCount + yCount, 4) else {
            throw DataError(file: file, .invalid("\(n) windows of \(window) rows are too many to hold"))
        }
        try MemoryBudget.require(bytes, for: "\(n) windows of \(window) rows", file: file)
        let v = values.toFloats()
        var x = [Float](), y = [Float]()
        x.reserveCapacity(xCount)
        y.reserveCapacity(yCount)
        for i in 0..<n {
            x.append(contentsOf: v[(i * c)..<((i + window) * c)])
            for h in 0..<horizon {
                let r = i + window + h
                if let t = target { y.append(v[r * c + t]) } else { y.append(contentsOf: v[(r * c)..<((r + 1) * c)]) }
            }
        }
        var d = Dataset(unchecked: file, features: NDArray(unchecked: [n, window, c], .f32(x)),
                        labels: NDArray(unchecked: [n, outWidth], .f32(y)), classCount: nil)
        d.sequence = SequenceInfo(vocabulary: nil, scored: .forecast)
        return d
    }

    /// A CSV file (header row, one row per time step, every cell a number) as windows;
    /// `label` names the target column (nil: every column is forecast).
    public static func readCSV(_ path: String, label: String?, window: Int, horizon: Int, allowNonFinite: Bool = false) throws -> Dataset {
        let bytes = try readFileBytes(path)
        let table = try CSV.dataset(from: bytes, file: path, allowNonFinite: allowNonFinite)
        var parser = CSV.Parser(bytes: bytes, file: path, delimiter: UInt8(ascii: ","))
        let header = try parser.nextRecord()?.1 ?? []
        var target: Int?
        if let label {
            guard let k = header.firstIndex(of: label) else {
                throw DataError(file: path, .labelColumnNotFound(label: label, columns: header))
            }
            target = k
        }
        return try windows(table.features, columns: header, target: target, window: window, horizon: horizon, file: path)
    }
}

extension Synthetic {
    /// The adder's symbols: digits are their own ids, `+` is 10, `=` is 11.
    public static let adderVocabulary = Vocabulary(symbols: Array("0123456789+=".unicodeScalars))

    /// Sums "a+b=c" of `digits`-digit numbers (1…3), each written with leading
    /// zeros: a and b with `digits` digits, c with `digits` + 1 ("37+48=085").
    /// The 10^(2·digits) problems are put in an order drawn from `seed` and the
    /// first `count` (default all) kept, so no problem occurs twice and the
    /// last ones (a train block's `validation`/`test` part) are held out. A
    /// problem of L = 3·digits + 3 tokens gives features = its first L − 1
    /// tokens and labels = its last L − 1 (i32 `[count, L − 1]`); the answer
    /// is label positions 2·digits + 1 ..< 3·digits + 2.
    public static func adder(digits: Int, count: Int? = nil, seed: UInt64) throws -> Dataset {
        let what = "dataset 'adder'"
        guard (1...3).contains(digits) else { throw DataError(file: what, .invalid("digits \(digits) must be 1, 2 or 3")) }
        var base = 1
        for _ in 0..<digits { base *= 10 }
        let problems = base * base
        let n = count ?? problems
        guard n >= 1, n <= problems else {
            throw DataError(file: what, .invalid("n \(n) must be in 1…\(problems) (the distinct \(digits)-digit problems)"))
        }
        var rng = RandomStream(seed: seed)
        let order = rng.permutation(problems)
        let length = 3 * digits + 3
        var x = [Int32](), y = [Int32]()
        x.reserveCapacity(n * (length - 1))
        y.reserveCapacity(n * (length - 1))
        func digitsOf(_ v: Int, _ width: Int) -> [Int32] {
            var out = [Int32](repeating: 0, count: width)
            var v = v
            // conversion: a decimal digit 0…9
            for k in stride(from: width - 1, through: 0, by: -1) { out[k] = Int32(v % 10); v /= 10 }
            return out
        }
        for k in order.prefix(n) {
            let a = k / base, b = k % base
            let tokens = digitsOf(a, digits) + [10] + digitsOf(b, digits) + [11] + digitsOf(a + b, digits + 1)
            x.append(contentsOf: tokens.dropLast())
            y.append(contentsOf: tokens.dropFirst())
        }
        var d = Dataset(unchecked: "adder", features: NDArray(unchecked: [n, length - 1], .i32(x)),
                        labels: NDArray(unchecked: [n, length - 1], .i32(y)), classCount: adderVocabulary.size)
        d.sequence = SequenceInfo(vocabulary: adderVocabulary, scored: .answer((2 * digits + 1)..<(3 * digits + 2)))
        return d
    }

    /// The symbols of `copy` and `reverse` with `symbols` letters: the letters
    /// a, b, … are ids 0 ..< symbols, the separator `|` is id `symbols`.
    public static func copyVocabulary(symbols: Int) -> Vocabulary {
        Vocabulary(symbols: Array("abcdefghijklmnopqrstuvwxyz".unicodeScalars.prefix(symbols)) + ["|"])
    }

    /// `count` random strings s of `length` letters drawn uniformly from the
    /// first `symbols` (1…26), each followed by the separator and then s again
    /// (`reverse`: s reversed), e.g. "cab|cab" ("cab|bac"). A sequence of
    /// 2·length + 1 tokens gives features = its first 2·length tokens and labels
    /// its last 2·length (i32 `[count, 2·length]`); the answer is label
    /// positions length ..< 2·length.
    public static func copy(length: Int, symbols: Int, count: Int, reverse: Bool, seed: UInt64) throws -> Dataset {
        let name = reverse ? "reverse" : "copy"
        let what = "dataset '\(name)'"
        guard length >= 1, length <= 4096 else { throw DataError(file: what, .invalid("length \(length) must be in 1…4096")) }
        guard (1...26).contains(symbols) else { throw DataError(file: what, .invalid("symbols \(symbols) must be in 1…26")) }
        guard count >= 1 else { throw DataError(file: what, .emptyDataset(detail: "n \(count) must be positive")) }
        guard let elements = MemoryBudget.product(count, 2 * length), let bytes = MemoryBudget.product(elements, 8) else {
            throw DataError(file: what, .invalid("\(count) strings of \(length) are too many to hold"))
        }
        try MemoryBudget.require(bytes, for: "\(count) sequences of \(2 * length) tokens", file: what)
        var rng = RandomStream(seed: seed)
        var x = [Int32](), y = [Int32]()
        x.reserveCapacity(elements)
        y.reserveCapacity(elements)
        // conversion: the separator's id is symbols ≤ 26
        let separator = Int32(symbols)
        for _ in 0..<count {
            // conversion: a letter's id below symbols ≤ 26
            let s = (0..<length).map { _ in Int32(rng.below(symbols)) }
            let tokens = s + [separator] + (reverse ? s.reversed() : s)
            x.append(contentsOf: tokens.dropLast())
            y.append(contentsOf: tokens.dropFirst())
        }
        var d = Dataset(unchecked: name, features: NDArray(unchecked: [count, 2 * length], .i32(x)),
                        labels: NDArray(unchecked: [count, 2 * length], .i32(y)), classCount: symbols + 1)
        d.sequence = SequenceInfo(vocabulary: copyVocabulary(symbols: symbols), scored: .answer(length..<(2 * length)))
        return d
    }

    /// Sequence classification: `count` random strings of `length` letters drawn uniformly
    /// from the first `symbols` (features i32 `[count, length]`, ids 0 ..< symbols as in `copy`),
    /// each labelled with its first letter (labels i32 `[count]`, `symbols` classes). A model
    /// reading the string forward must keep the first letter through every later one; the
    /// backward direction of a bidirectional layer ends on it.
    public static func firstSymbol(length: Int, symbols: Int, count: Int, seed: UInt64) throws -> Dataset {
        let what = "dataset 'first_symbol'"
        guard length >= 1, length <= 4096 else { throw DataError(file: what, .invalid("length \(length) must be in 1…4096")) }
        guard (2...26).contains(symbols) else { throw DataError(file: what, .invalid("symbols \(symbols) must be in 2…26")) }
        guard count >= 1 else { throw DataError(file: what, .emptyDataset(detail: "n \(count) must be positive")) }
        guard let elements = MemoryBudget.product(count, length + 1), let bytes = MemoryBudget.product(elements, 4) else {
            throw DataError(file: what, .invalid("\(count) strings of \(length) are too many to hold"))
        }
        try MemoryBudget.require(bytes, for: "\(count) sequences of \(length) tokens", file: what)
        var rng = RandomStream(seed: seed)
        var x = [Int32](), y = [Int32]()
        x.reserveCapacity(count * length)
        y.reserveCapacity(count)
        for _ in 0..<count {
            // conversion: a letter's id below symbols ≤ 26
            let s = (0..<length).map { _ in Int32(rng.below(symbols)) }
            x.append(contentsOf: s)
            y.append(s[0])
        }
        // A classification set: scored by accuracy and a confusion matrix, like any other.
        return Dataset(unchecked: "first_symbol", features: NDArray(unchecked: [count, length], .i32(x)),
                       labels: NDArray(unchecked: [count], .i32(y)), classCount: symbols)
    }

    /// Sine forecasting: `count` series x_t = sin(2π·t / period + φ) with φ
    /// uniform in [0, 2π) per series, t = 0 ..< window + horizon. Features are
    /// the first `window` values plus normal noise of standard deviation
    /// `noise` (f32 `[count, window, 1]`), labels the next `horizon` values
    /// without noise (f32 `[count, horizon]`).
    public static func sineSequence(count: Int, window: Int, horizon: Int, period: Double, noise: Double,
                                    seed: UInt64) throws -> Dataset {
        let what = "dataset 'sine_sequence'"
        guard count >= 1 else { throw DataError(file: what, .emptyDataset(detail: "n \(count) must be positive")) }
        guard window >= 1, window <= 100_000, horizon >= 1, horizon <= 100_000 else {
            throw DataError(file: what, .invalid("window \(window) and horizon \(horizon) must be in 1…100000"))
        }
        guard period.isFinite, period > 0 else { throw DataError(file: what, .invalid("period \(period) must be positive")) }
        guard noise.isFinite, noise >= 0 else { throw DataError(file: what, .invalid("noise \(noise) must be a finite non-negative number")) }
        guard let xCount = MemoryBudget.product(count, window), let yCount = MemoryBudget.product(count, horizon),
              let bytes = MemoryBudget.product(xCount + yCount, 4) else {
            throw DataError(file: what, .invalid("\(count) series are too many to hold"))
        }
        try MemoryBudget.require(bytes, for: "\(count) series", file: what)
        var rng = RandomStream(seed: seed)
        var x = [Float](), y = [Float]()
        x.reserveCapacity(xCount)
        y.reserveCapacity(yCount)
        for _ in 0..<count {
            let phase: Double = rng.uniform(0, 2 * Double.pi)
            for t in 0..<window {
                let clean = sin(2 * Double.pi * Double(t) / period + phase)
                x.append(Float(clean + (noise > 0 ? noise * rng.normal(Double.self) : 0)))
            }
            for t in window..<(window + horizon) { y.append(Float(sin(2 * Double.pi * Double(t) / period + phase))) }
        }
        var d = Dataset(unchecked: "sine_sequence", features: NDArray(unchecked: [count, window, 1], .f32(x)),
                        labels: NDArray(unchecked: [count, horizon], .f32(y)), classCount: nil)
        d.sequence = SequenceInfo(vocabulary: nil, scored: .forecast)
        return d
    }
}
