import Testing
@testable import DLGData
#if canImport(Glibc)
import Glibc
#endif

/// Text windows, time-series windows and the synthetic sequence tasks, checked
/// against windows and answers worked out by hand or decoded independently.
@Suite struct SequenceDataTests {
    func ints(_ a: NDArray?) -> [Int32] { a?.values(as: Int32.self) ?? [] }

    @Test func textWindowsByHand() throws {
        // "hello": the sorted distinct characters e, h, l, o are ids 0, 1, 2, 3,
        // so the text is 1 0 2 2 3.
        let d = try TextCorpus.dataset(bytes: Array("hello".utf8), file: "t.txt", seq: 2)
        #expect(d.sequence?.vocabulary?.symbols.map(String.init) == ["e", "h", "l", "o"])
        #expect(d.sequence?.scored == .everyToken)
        // Windows of 3 tokens every 2: tokens 0…2 and 2…4.
        #expect(d.features.description == "i32[2, 2]")
        #expect(ints(d.features) == [1, 0, 2, 2])
        #expect(ints(d.labels) == [0, 2, 2, 3])
        // Every token: ⌊(5 − 3) / 1⌋ + 1 = 3 windows.
        let s = try TextCorpus.dataset(bytes: Array("hello".utf8), file: "t.txt", seq: 2, stride: 1)
        #expect(ints(s.features) == [1, 0, 0, 2, 2, 2])
        #expect(ints(s.labels) == [0, 2, 2, 2, 2, 3])
        #expect(s.classCount == 4)
    }

    @Test func charactersAreUnicodeScalarsAndBytesAreBytes() throws {
        // "héé": h (U+0068) and é (U+00E9, two bytes in UTF-8) are ids 0 and 1.
        let text: [UInt8] = [0x68, 0xC3, 0xA9, 0xC3, 0xA9]
        let c = try TextCorpus.dataset(bytes: text, file: "t.txt", seq: 1, stride: 1)
        #expect(c.sequence?.vocabulary?.size == 2)
        #expect(ints(c.features) == [0, 1])
        #expect(ints(c.labels) == [1, 1])
        let b = try TextCorpus.dataset(bytes: text, file: "t.txt", seq: 2, level: .byte, stride: 1)
        #expect(b.sequence?.vocabulary?.size == 256)
        #expect(ints(b.features) == [0x68, 0xC3, 0xC3, 0xA9, 0xA9, 0xC3])
        #expect(ints(b.labels) == [0xC3, 0xA9, 0xA9, 0xC3, 0xC3, 0xA9])
        #expect(Vocabulary.bytes.decode([0x68, 0xC3, 0xA9]) == "hé")
        #expect(c.sequence?.vocabulary?.decode([1, 0]) == "éh")
    }

    @Test func invalidUTF8IsALocatedDataError() {
        // "a\nb" then 0xC3 0x28: a lead byte followed by a byte that cannot continue it.
        expectDataError(["bad.txt", "invalid UTF-8 at byte offset 3 (line 2)", "0xC3", "level: byte"]) {
            _ = try TextCorpus.dataset(bytes: [0x61, 0x0A, 0x62, 0xC3, 0x28, 0x62], file: "bad.txt", seq: 1)
        }
        // A truncated sequence at the very end.
        expectDataError(["invalid UTF-8 at byte offset 2 (line 1)"]) {
            _ = try TextCorpus.dataset(bytes: [0x61, 0x62, 0xE2, 0x82], file: "t.txt", seq: 1)
        }
        // Read by byte, the same file is fine.
        #expect((try? TextCorpus.dataset(bytes: [0x61, 0x0A, 0x62, 0xC3, 0x28, 0x62], file: "bad.txt", seq: 1, level: .byte)) != nil)
    }

    @Test func badTextSettingsAreErrors() {
        expectDataError(["e.txt", "empty dataset", "the text file is empty"]) {
            _ = try TextCorpus.dataset(bytes: [], file: "e.txt", seq: 4)
        }
        expectDataError(["the text has 5 characters; seq: 5 needs at least 6"]) {
            _ = try TextCorpus.dataset(bytes: Array("hello".utf8), file: "t.txt", seq: 5)
        }
        expectDataError(["seq 0 must be a positive window length"]) {
            _ = try TextCorpus.dataset(bytes: Array("hello".utf8), file: "t.txt", seq: 0)
        }
        expectDataError(["stride -1 must be a positive number of tokens"]) {
            _ = try TextCorpus.dataset(bytes: Array("hello".utf8), file: "t.txt", seq: 1, stride: -1)
        }
        expectDataError(["the vocabulary is byte-level but the text is read by char"]) {
            _ = try TextCorpus.dataset(bytes: Array("hello".utf8), file: "t.txt", seq: 1, vocabulary: .bytes)
        }
        // A missing file names itself.
        expectDataError(["/nonexistent/corpus.txt", "cannot open for reading"]) {
            _ = try TextCorpus.read("/nonexistent/corpus.txt", seq: 4)
        }
    }

    @Test func aGivenVocabularyIsKeptAndChecked() throws {
        let v = Vocabulary(symbols: Array("olhe".unicodeScalars))
        let d = try TextCorpus.dataset(bytes: Array("hello".utf8), file: "t.txt", seq: 4, vocabulary: v)
        #expect(ints(d.features) == [2, 3, 1, 1])
        #expect(ints(d.labels) == [3, 1, 1, 0])
        #expect(d.sequence?.vocabulary == v)
        expectDataError(["t.txt", "character 'z' (U+007A) at byte offset 3 is not in the vocabulary of 4 symbols"]) {
            _ = try TextCorpus.dataset(bytes: Array("helzo".utf8), file: "t.txt", seq: 1, vocabulary: v)
        }
        expectDataError(["character U+000A at byte offset 1"]) {
            _ = try TextCorpus.dataset(bytes: Array("h\nlo".utf8), file: "t.txt", seq: 1, vocabulary: v)
        }
    }

    @Test func vocabularyMetadataRoundTrips() throws {
        let v = Vocabulary(symbols: Array("\n ab€".unicodeScalars))
        #expect(v.metadata == ["vocabulary_level": "char", "vocabulary": "\n ab€"])
        #expect(try Vocabulary(metadata: v.metadata, file: "c") == v)
        #expect(try Vocabulary(metadata: Vocabulary.bytes.metadata, file: "c") == .bytes)
        #expect(try Vocabulary(metadata: ["format": "dlg-checkpoint/1"], file: "c") == nil)
        expectDataError(["c.safetensors", "__metadata__.vocabulary_level", "'word' is not char or byte"]) {
            _ = try Vocabulary(metadata: ["vocabulary_level": "word"], file: "c.safetensors")
        }
        expectDataError(["__metadata__.vocabulary", "repeats a symbol"]) {
            _ = try Vocabulary(metadata: ["vocabulary_level": "char", "vocabulary": "abca"], file: "c.safetensors")
        }
        expectDataError(["__metadata__.vocabulary", "missing or empty"]) {
            _ = try Vocabulary(metadata: ["vocabulary_level": "char"], file: "c.safetensors")
        }
    }

    @Test func timeSeriesWindowsByHand() throws {
        // Columns a, b over five time steps.
        let values = try NDArray([Float](arrayLiteral: 1, 10, 2, 20, 3, 30, 4, 40, 5, 50), shape: [5, 2])
        let d = try TimeSeries.windows(values, columns: ["a", "b"], target: 1, window: 2, horizon: 2, file: "s.csv")
        // 5 − 2 − 2 + 1 = 2 windows.
        #expect(d.features.description == "f32[2, 2, 2]")
        #expect(d.features.toFloats() == [1, 10, 2, 20, 2, 20, 3, 30])
        #expect(d.labels?.description == "f32[2, 2]")
        #expect(d.labels?.toFloats() == [30, 40, 40, 50])
        #expect(d.sequence?.scored == .forecast)
        let all = try TimeSeries.windows(values, columns: ["a", "b"], target: nil, window: 3, horizon: 1, file: "s.csv")
        #expect(all.labels?.toFloats() == [4, 40, 5, 50])
        expectDataError(["s.csv", "5 rows (time steps) are fewer than window 4 + horizon 2 = 6"]) {
            _ = try TimeSeries.windows(values, columns: ["a", "b"], target: 1, window: 4, horizon: 2, file: "s.csv")
        }
        expectDataError(["window 0 and horizon 1 must be positive"]) {
            _ = try TimeSeries.windows(values, columns: ["a", "b"], target: 1, window: 0, horizon: 1, file: "s.csv")
        }
    }

    @Test func timeSeriesFromACSVFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.csv")
        writeRaw(Array("t,y\n0,0.5\n1,1.5\n2,2.5\n3,3.5\n".utf8), to: path)
        let d = try TimeSeries.readCSV(path, label: "y", window: 2, horizon: 1)
        #expect(d.features.toFloats() == [0, 0.5, 1, 1.5, 1, 1.5, 2, 2.5])
        #expect(d.labels?.toFloats() == [2.5, 3.5])
        expectDataError(["label column \"z\" not found"]) { _ = try TimeSeries.readCSV(path, label: "z", window: 2, horizon: 1) }
        writeRaw(Array("t,y\n0,0.5\n1,x\n".utf8), to: path)
        expectDataError(["row 3, column 2"]) { _ = try TimeSeries.readCSV(path, label: "y", window: 1, horizon: 1) }
    }

    /// The digits of `tokens` as a number (ids 0…9 are the digits).
    func number(_ tokens: ArraySlice<Int32>) -> Int { tokens.reduce(0) { $0 * 10 + Int($1) } }

    @Test func adderHoldsEveryProblemOnceWithItsSum() throws {
        let d = try Synthetic.adder(digits: 1, seed: 3)
        // "a+b=cc": 6 tokens, 5 positions.
        #expect(d.features.description == "i32[100, 5]")
        #expect(d.labels?.description == "i32[100, 5]")
        #expect(d.sequence?.scored == .answer(3..<5))
        #expect(d.sequence?.vocabulary?.decode([3, 10, 4, 11, 0, 7]) == "3+4=07")
        let x = ints(d.features), y = ints(d.labels)
        var seen = Set<Int>()
        for r in 0..<100 {
            let row = x[(r * 5)..<(r * 5 + 5)], next = y[(r * 5)..<(r * 5 + 5)]
            // The labels are the features shifted by one.
            #expect(Array(row.dropFirst()) == Array(next.dropLast()))
            let seq = Array(row) + [next.last!]
            #expect(seq[1] == 10 && seq[3] == 11)
            let a = Int(seq[0]), b = Int(seq[2])
            #expect(number(seq[4...5]) == a + b)
            seen.insert(a * 10 + b)
        }
        #expect(seen.count == 100)
        // Two digits: "37+48=085" is row k for some k, with label positions 5…7 the answer.
        let two = try Synthetic.adder(digits: 2, count: 10_000, seed: 1)
        #expect(two.sequence?.scored == .answer(5..<8))
        let x2 = ints(two.features), y2 = ints(two.labels)
        let k = try #require((0..<10_000).first { r in Array(x2[(r * 8)..<(r * 8 + 6)]) == [3, 7, 10, 4, 8, 11] })
        #expect(Array(x2[(k * 8)..<(k * 8 + 8)]) == [3, 7, 10, 4, 8, 11, 0, 8])
        #expect(Array(y2[(k * 8 + 5)..<(k * 8 + 8)]) == [0, 8, 5])
        // Deterministic for a seed; another seed, another order; a count keeps the first problems.
        #expect(try Synthetic.adder(digits: 1, seed: 3) == d)
        #expect(try Synthetic.adder(digits: 1, seed: 4) != d)
        #expect(try Synthetic.adder(digits: 1, count: 10, seed: 3) == d.rows(0..<10))
        expectDataError(["adder", "digits 4 must be 1, 2 or 3"]) { _ = try Synthetic.adder(digits: 4, seed: 0) }
        expectDataError(["n 101 must be in 1…100"]) { _ = try Synthetic.adder(digits: 1, count: 101, seed: 0) }
    }

    @Test func copyAndReverseRepeatTheString() throws {
        for reverse in [false, true] {
            let d = try Synthetic.copy(length: 4, symbols: 3, count: 50, reverse: reverse, seed: 9)
            #expect(d.features.description == "i32[50, 8]")
            #expect(d.sequence?.scored == .answer(4..<8))
            #expect(d.sequence?.vocabulary?.decode([0, 1, 2, 3]) == "abc|")
            let x = ints(d.features), y = ints(d.labels)
            for r in 0..<50 {
                let row = Array(x[(r * 8)..<(r * 8 + 8)]), next = Array(y[(r * 8)..<(r * 8 + 8)])
                #expect(Array(row.dropFirst()) == Array(next.dropLast()))
                let s = Array(row[0..<4])
                #expect(s.allSatisfy { (0..<3).contains($0) })
                #expect(row[4] == 3)
                #expect(Array(next[4..<8]) == (reverse ? Array(s.reversed()) : s))
            }
            #expect(d.name == (reverse ? "reverse" : "copy"))
        }
        expectDataError(["symbols 27 must be in 1…26"]) { _ = try Synthetic.copy(length: 4, symbols: 27, count: 1, reverse: false, seed: 0) }
        expectDataError(["length 0 must be in 1…4096"]) { _ = try Synthetic.copy(length: 0, symbols: 2, count: 1, reverse: false, seed: 0) }
    }

    @Test func firstSymbolLabelsEachStringWithItsFirstLetter() throws {
        let d = try Synthetic.firstSymbol(length: 6, symbols: 4, count: 300, seed: 5)
        #expect(d.features.description == "i32[300, 6]")
        #expect(d.labels?.description == "i32[300]")
        #expect(d.classCount == 4)
        #expect(d.sequence == nil)
        let x = ints(d.features), y = ints(d.labels)
        var firsts = Set<Int32>(), seen = Set<Int32>()
        for r in 0..<300 {
            #expect(y[r] == x[r * 6])
            firsts.insert(y[r])
            seen.formUnion(x[(r * 6)..<(r * 6 + 6)])
        }
        // Every letter occurs, at the start too, and nothing else.
        #expect(firsts == [0, 1, 2, 3])
        #expect(seen == [0, 1, 2, 3])
        #expect(try Synthetic.firstSymbol(length: 6, symbols: 4, count: 300, seed: 5) == d)
        #expect(try Synthetic.firstSymbol(length: 6, symbols: 4, count: 300, seed: 6) != d)
        expectDataError(["first_symbol", "symbols 1 must be in 2…26"]) { _ = try Synthetic.firstSymbol(length: 4, symbols: 1, count: 1, seed: 0) }
        expectDataError(["length 0 must be in 1…4096"]) { _ = try Synthetic.firstSymbol(length: 0, symbols: 2, count: 1, seed: 0) }
    }

    @Test func sineSequenceContinuesEachSeries() throws {
        // Period 4: x_t = sin(πt/2 + φ), so x_0 = sin φ and x_1 = cos φ give φ,
        // and the target x_W follows from it.
        let d = try Synthetic.sineSequence(count: 20, window: 5, horizon: 2, period: 4, noise: 0, seed: 2)
        #expect(d.features.description == "f32[20, 5, 1]")
        #expect(d.labels?.description == "f32[20, 2]")
        let x = d.features.toFloats().map { Double($0) }, y = (d.labels?.toFloats() ?? []).map { Double($0) }
        for r in 0..<20 {
            let phase = atan2(x[r * 5], x[r * 5 + 1])
            #expect(abs(y[r * 2] - sin(Double.pi * 5 / 2 + phase)) < 1e-5)
            #expect(abs(y[r * 2 + 1] - sin(Double.pi * 6 / 2 + phase)) < 1e-5)
            // Period 4 repeats: x_4 = x_0.
            #expect(abs(x[r * 5 + 4] - x[r * 5]) < 1e-5)
        }
        #expect(try Synthetic.sineSequence(count: 20, window: 5, horizon: 2, period: 4, noise: 0, seed: 2) == d)
        expectDataError(["period 0.0 must be positive"]) {
            _ = try Synthetic.sineSequence(count: 1, window: 1, horizon: 1, period: 0, noise: 0, seed: 0)
        }
        expectDataError(["noise -1.0 must be a finite non-negative number"]) {
            _ = try Synthetic.sineSequence(count: 1, window: 1, horizon: 1, period: 4, noise: -1, seed: 0)
        }
    }
}
