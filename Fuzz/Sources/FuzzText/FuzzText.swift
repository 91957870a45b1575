import DLGData
import FuzzSupport

/// Text bytes through `TextCorpus.dataset`, the reader of the `text()` data
/// source. The first byte chooses the reading (bits 0–3: `seq` 1…16; bits
/// 4–5: `stride` none, 1, 2 or 3; bit 6: byte level instead of characters;
/// bit 7: encode with a vocabulary made of the first half of the text, which
/// may lack characters of the second); the rest is the text. A dataset the
/// reader accepts must hold what it promises: ⌊(L − seq − 1) / stride⌋ + 1
/// windows of `seq` token ids below the vocabulary's size, each label window
/// the feature window shifted by one token; and its vocabulary must come back
/// unchanged from the checkpoint metadata that stores it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzSupport.run(data, size) { input in
        guard let control = input.first else { return }
        let text = Array(input.dropFirst())
        // conversion: a 4-bit field, 0…15
        let seq = Int(control & 0x0F) + 1
        // conversion: a 2-bit field, 0…3
        let strideField = Int((control >> 4) & 0x03)
        let stride = strideField == 0 ? nil : strideField
        let level: Vocabulary.Level = control & 0x40 != 0 ? .byte : .char
        var vocabulary: Vocabulary? = nil
        if control & 0x80 != 0, level == .char {
            // The first half's characters (nil when that half is not UTF-8: the whole text is read then).
            vocabulary = try? TextCorpus.tokens(Array(text.prefix(text.count / 2)), file: FuzzSupport.file, level: .char,
                                                vocabulary: nil).vocabulary
        }
        let d = try TextCorpus.dataset(bytes: text, file: FuzzSupport.file, seq: seq, level: level, stride: stride,
                                       vocabulary: vocabulary)
        check(d, text: text, seq: seq, stride: stride ?? seq, level: level)
    }
}

/// The promises of an accepted text dataset (a broken one is a finding).
func check(_ d: Dataset, text: [UInt8], seq: Int, stride: Int, level: Vocabulary.Level) {
    guard let vocabulary = d.sequence?.vocabulary else { fatalError("a text dataset without its vocabulary") }
    guard case .i32(let x) = d.features.storage, let labels = d.labels, case .i32(let y) = labels.storage else {
        fatalError("text windows that are not i32 features and labels")
    }
    let tokens = level == .byte ? text.count : String(decoding: text, as: UTF8.self).unicodeScalars.count
    let windows = (tokens - seq - 1) / stride + 1
    guard d.features.shape == [windows, seq], labels.shape == [windows, seq] else {
        fatalError("\(tokens) tokens, seq \(seq), stride \(stride): windows \(d.features.shape) and \(labels.shape)")
    }
    for i in 0..<windows {
        for t in 0..<seq {
            let k = i * seq + t
            guard x[k] >= 0, Int(x[k]) < vocabulary.size, y[k] >= 0, Int(y[k]) < vocabulary.size else {
                fatalError("token id \(x[k]) or \(y[k]) outside a vocabulary of \(vocabulary.size)")
            }
            // The label window is the feature window one token later.
            if t + 1 < seq, y[k] != x[k + 1] { fatalError("window \(i): label \(t) is not feature \(t + 1)") }
        }
    }
    guard let stored = try? Vocabulary(metadata: vocabulary.metadata, file: FuzzSupport.file), stored == vocabulary else {
        fatalError("the vocabulary does not come back from its checkpoint metadata")
    }
}
