import DLGCompiler
import DLGData
import DLGRuntime
import DLGSource
import DLGTrain
import Foundation
import Testing

/// Per-token accuracy, perplexity, exact match and MSE, against counts and
/// losses worked out by hand or by a plain reference in the test.
@Suite struct SequenceMetricsTests {
    // Two examples, two positions, three classes. Argmax per position:
    // example 0: 1, 2 (labels 1, 0); example 1: 0, 1 (labels 0, 1).
    let logits = try! NDArray([Float](arrayLiteral: 1, 5, 2, 0, 0, 3, 9, 1, 1, 1, 2, 0), shape: [4, 3])
    let labels = try! NDArray([Int32](arrayLiteral: 1, 0, 0, 1), shape: [2, 2])

    @Test func tokenAccuracyCountsEveryPosition() {
        var t = Tally()
        t.add(loss: 0.5, batch: 2, output: logits, labels: labels, rows: [0, 1][...], scoring: .tokens)
        #expect(t.correct == 3)
        #expect(t.scored == 4)
        #expect(t.sequenceMetrics(.tokens).map(\.0) == ["perplexity"])
        #expect(abs(t.perplexity - exp(0.5)) < 1e-15)
    }

    @Test func exactMatchNeedsTheWholeAnswer() {
        var late = Tally(), early = Tally(), both = Tally()
        late.add(loss: 0, batch: 2, output: logits, labels: labels, rows: [0, 1][...], scoring: .exactMatch(answer: 1..<2))
        early.add(loss: 0, batch: 2, output: logits, labels: labels, rows: [0, 1][...], scoring: .exactMatch(answer: 0..<1))
        both.add(loss: 0, batch: 2, output: logits, labels: labels, rows: [0, 1][...], scoring: .exactMatch(answer: 0..<2))
        #expect((late.correct, late.scored) == (1, 2))
        #expect((early.correct, early.scored) == (2, 2))
        #expect((both.correct, both.scored) == (1, 2))
        // Rows of the labels other than the batch's own are read by index.
        let four = try! NDArray([Int32](arrayLiteral: 2, 2, 2, 2, 1, 0, 0, 1), shape: [4, 2])
        var picked = Tally()
        picked.add(loss: 0, batch: 2, output: logits, labels: four, rows: [2, 3][...], scoring: .exactMatch(answer: 0..<2))
        #expect((picked.correct, picked.scored) == (1, 2))
        #expect(picked.scoreText(.exactMatch(answer: 0..<2)) == "exact match 50.00%")
    }

    @Test func forecastMSE() throws {
        var t = Tally()
        let out = try NDArray([Float](arrayLiteral: 1, 2, 3, 4), shape: [2, 2])
        let y = try NDArray([Float](arrayLiteral: 1.5, 2, 3, 2), shape: [2, 2])
        t.add(loss: 9, batch: 2, output: out, labels: y, rows: [0, 1][...], scoring: .forecast)
        // (0.25 + 0 + 0 + 4) / 4
        #expect(t.mse == 1.0625)
        #expect(t.scored == 0)
        #expect(t.sequenceMetrics(.forecast).first?.1 == 1.0625)
    }

    @Test func scoringFollowsTheSequenceData() {
        let tokens = SequenceInfo(vocabulary: nil, scored: .everyToken)
        #expect(Scoring.decide(outputShape: [4, 3], labels: labels, sequence: tokens) == .tokens)
        #expect(Scoring.decide(outputShape: [2, 2, 3], labels: labels, sequence: tokens) == .tokens)
        #expect(Scoring.decide(outputShape: [2, 2, 3], labels: labels,
                               sequence: SequenceInfo(vocabulary: nil, scored: .answer(1..<2))) == .exactMatch(answer: 1..<2))
        // An answer beyond the labels, or float labels for token data: loss only.
        #expect(Scoring.decide(outputShape: [2, 2, 3], labels: labels,
                               sequence: SequenceInfo(vocabulary: nil, scored: .answer(1..<3))) == .regression)
        #expect(Scoring.decide(outputShape: [2, 2], labels: try! labels.converted(to: .f32),
                               sequence: SequenceInfo(vocabulary: nil, scored: .forecast)) == .forecast)
        #expect(Scoring.decide(outputShape: [2, 3], labels: try! labels.converted(to: .f32), sequence: tokens) == .regression)
        #expect(!Scoring.forecast.hasAccuracy && Scoring.tokens.hasAccuracy && Scoring.exactMatch(answer: 0..<1).hasAccuracy)
    }

    /// A bigram model with literal weights: the loss over a text's windows is the mean
    /// cross entropy per token, worked out here in Double, and perplexity is its exp.
    @Test func perplexityIsExpOfTheMeanTokenLoss() throws {
        let E: [[Double]] = [[0.5, -1, 2, 0], [1, 1, 0, -0.5], [0, 0.25, -2, 1], [3, 0, 0, 1]]
        let literal = "[" + E.map { "[" + $0.map { String($0) }.joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
        let source = """
            model lm(T = 3, V = 4) {
                input x: i32[B, T]
                input y: i32[B, T]
                param E: f32[V, V] = \(literal)
                logits = one_hot(x, V) @ E
                output next = logits
                minimize -mean(sum(one_hot(y, V) * log_softmax(logits), axis: -1))
            }
            """
        // "abacad": a, b, c, d are ids 0…3; windows of 4 every token.
        let d = try TextCorpus.dataset(bytes: Array("abacad".utf8), file: "t.txt", seq: 3, stride: 1)
        let x = d.features.values(as: Int32.self)!.map(Int.init), y = d.labels!.values(as: Int32.self)!.map(Int.init)
        var total = 0.0, right = 0
        for (a, b) in zip(x, y) {
            let row = E[a]
            let m = row.max()!
            total += m + log(row.map { exp($0 - m) }.reduce(0, +)) - row[b]
            if row.indices.max(by: { row[$0] < row[$1] }) == b { right += 1 }
        }
        let meanLoss = total / Double(x.count)
        var config = TrainConfig()
        config.batch = 2
        let session = try makeSession(source, config: config)
        let trainer = try Trainer(session: session)
        let (tally, scoring) = try trainer.evaluate(d, batch: 2)
        #expect(scoring == .tokens)
        #expect(abs(tally.loss - meanLoss) < 1e-6)
        #expect(abs(tally.perplexity - exp(meanLoss)) < 1e-5)
        #expect(tally.correct == right)
        #expect(tally.scored == 9)
    }

    @Test func sequenceSourcesParseAndRefuseBadArguments() throws {
        func parse(_ text: String) throws -> Result<DataSpec, TrainSettingDiagnostic> {
            DataSpec.parse(try #require(Setting.parse(text)))
        }
        func spec(_ text: String) throws -> DataSpec? {
            if case .success(let d) = try parse(text) { return d }
            return nil
        }
        #expect(try spec(#"text("a.txt", seq: 64)"#) == (.text(path: "a.txt", seq: 64, level: .char, stride: nil)))
        #expect(try spec(#"text("a.txt", seq: 8, level: byte, stride: 1)"#) == (.text(path: "a.txt", seq: 8, level: .byte, stride: 1)))
        #expect(try spec("adder(digits: 2)") == (.adder(digits: 2, count: nil)))
        #expect(try spec("adder") == (.adder(digits: 2, count: nil)))
        #expect(try spec("reverse(length: 5, n: 20)") == (.copy(length: 5, symbols: 10, count: 20, reverse: true)))
        #expect(try spec("first_symbol(length: 16, n: 50)") == (.firstSymbol(length: 16, symbols: 8, count: 50)))
        #expect(try spec("sine_sequence(n: 10, window: 4, horizon: 2)")
                == (.sineSequence(count: 10, window: 4, horizon: 2, period: 25, noise: 0)))
        #expect(try spec(#"csv("s.csv", label: "y", window: 24, horizon: 6)"#)
                == (.csvSeries(path: "s.csv", label: "y", window: 24, horizon: 6)))
        #expect(try spec(#"csv("s.csv", label: "y")"#) == (.csv(path: "s.csv", label: "y")))
        let refused: [(String, String)] = [
            (#"text("a.txt")"#, "text(seq:) needs the window length T"),
            (#"text("a.txt", seq: 0)"#, "text(seq:) needs the window length T"),
            (#"text("a.txt", seq: 4, level: word)"#, "text(level:) is char or byte"),
            (#"text("a.txt", seq: 4, stride: 0)"#, "text(stride:) is an integer in 1…1000000"),
            (#"text("a.txt", seq: 4, sq: 3)"#, "text has no argument 'sq'; it takes path, seq, level, stride"),
            ("text(seq: 4)", "text(path:) needs a file"),
            ("adder(digits: 4)", "adder(digits:) is 1, 2 or 3"),
            ("copy(symbols: 30)", "copy(symbols:) is an integer in 1…26"),
            ("sine_sequence(period: -1)", "sine_sequence(period:) is a positive number of steps"),
            ("first_symbol(symbols: 1)", "first_symbol(symbols:) is an integer in 2…26"),
            (#"csv("s.csv", horizon: 2)"#, "csv(window:) needs a number of rows"),
            (#"csv("s.csv", window: 2, horizon: 0)"#, "csv(horizon:) needs a number of rows in 1…1000000"),
        ]
        for (text, message) in refused {
            guard case .failure(let d) = try parse(text) else {
                Issue.record("\(text) was accepted")
                continue
            }
            #expect(d.id == "bad-data-source", "\(text)")
            #expect(d.message.hasPrefix(message), "\(text): \(d.message)")
        }
    }
}
