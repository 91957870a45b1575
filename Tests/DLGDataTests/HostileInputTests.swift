import Testing
@testable import DLGData
#if canImport(Glibc)
import Glibc
#endif

/// The hostile files of issue 22's campaign, each a reproducer that trapped,
/// crashed or was accepted before the readers were hardened: each must now
/// be refused with an error that names the file.
@Suite("Hostile input to the readers")
struct HostileInputTests {
    /// The error `body` throws, which must name `file`.
    func refusal(_ file: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> String {
        do {
            try body()
            Issue.record("accepted: \(file)", sourceLocation: sourceLocation)
            return ""
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix(file), "the error does not start with the file: \(text)", sourceLocation: sourceLocation)
            return text
        }
    }

    /// A `.npy` file with `header` as its header, padded as NumPy pads, and `data`.
    func npy(_ header: String, data: [UInt8] = [], version: UInt8 = 1) -> [UInt8] {
        var h = Array(header.utf8)
        let prefix = version == 1 ? 10 : 12
        while (prefix + h.count + 1) % 64 != 0 { h.append(0x20) }
        h.append(0x0A)
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        if version == 1 { out.appendLE(UInt16(h.count)) } else { out.appendLE(UInt32(h.count)) }
        return out + h + data
    }

    // MARK: npy

    /// 10,000 nested parentheses in a 20 KB header overflowed the stack of the
    /// recursive literal parser (SIGSEGV in run and train).
    @Test func npyDeeplyNestedHeader() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + String(repeating: "(", count: 4000)
            + "2," + String(repeating: ")", count: 4000) + "}"
        // Within NumPy's 10,000-byte limit: the nesting limit must refuse it.
        let text = refusal("deep.npy") { _ = try NPY.decode(npy(header, data: [0, 0, 0, 0, 0, 0, 0, 0]), file: "deep.npy") }
        #expect(text.contains("nested more than 16 deep"), "\(text)")
        // The issue's file: 10,000 of them in a version 2.0 header (20 KB).
        let long = "{'descr': '<f4', 'fortran_order': False, 'shape': " + String(repeating: "(", count: 10_000) + "}"
        let t2 = refusal("deep2.npy") { _ = try NPY.decode(npy(long, version: 2), file: "deep2.npy") }
        #expect(t2.contains("longer than the 10000 bytes"), "\(t2)")
    }

    /// What NumPy's reader refuses, this one refuses too: a leading zero, a
    /// lower-case long suffix, an escape in a string, an L in version 3.0.
    @Test func npyHeadersNumPyRefuses() {
        let four: [UInt8] = [0, 0, 0, 0]
        for (header, version, fragment) in [
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (01,), }", UInt8(1), "leading zero"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1l,), }", 1, "expected ',' or ')'"),
            ("{'descr': '<f\\4', 'fortran_order': False, 'shape': (1,), }", 1, "escape sequences"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1L,), }", 3, "expected ',' or ')'"),
        ] {
            let text = refusal("h.npy") { _ = try NPY.decode(npy(header, data: four, version: version), file: "h.npy") }
            #expect(text.contains(fragment), "\(header): \(text)")
        }
        // Still read: an upper-case L in 1.0, zeros, a negative zero is not a size (refused as negative? no: 0).
        let a = try? NPY.decode(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1L,), }", data: four), file: "ok.npy")
        #expect(a?.shape == [1])
        let z = try? NPY.decode(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (00, 3), }"), file: "ok.npy")
        #expect(z?.shape == [0, 3])
    }

    // MARK: safetensors

    /// A header length one byte short (448 → 447) read every tensor one byte
    /// off; the reference library refuses it ("not fully covered").
    @Test func safetensorsHeaderOneByteShort() throws {
        let w = try NDArray([Float(0.5), -1, 2, 4], shape: [2, 2])
        // A metadata value of a length that leaves the header padded with spaces.
        var note = "v"
        var bytes = try Safetensors.encode([NamedArray("w", w)], metadata: ["k": note])
        while bytes[8 + Int(readUnsigned(bytes, at: 0, size: 8, bigEndian: false)) - 1] != 0x20 {
            note += "v"
            bytes = try Safetensors.encode([NamedArray("w", w)], metadata: ["k": note])
        }
        let n = Int(readUnsigned(bytes, at: 0, size: 8, bigEndian: false))
        _ = try Safetensors.decode(bytes, file: "good.safetensors")
        for k in 0..<8 { bytes[k] = UInt8(truncatingIfNeeded: (n - 1) >> (8 * k)) }
        let text = refusal("short.safetensors") { _ = try Safetensors.decode(bytes, file: "short.safetensors") }
        #expect(text.contains("belong to no tensor"), "\(text)")
    }

    @Test func safetensorsTrailingBytesAndGaps() throws {
        let w = NDArray([Float(1), 2])
        let good = try Safetensors.encode([NamedArray("w", w)])
        _ = try Safetensors.decode(good, file: "good.safetensors")
        let text = refusal("trail.safetensors") { _ = try Safetensors.decode(good + [0], file: "trail.safetensors") }
        #expect(text.contains("1 bytes after byte offset"), "\(text)")
        // A gap between two tensors.
        var header = Array(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var gap = [UInt8]()
        gap.appendLE(UInt64(header.count))
        gap += header + [1, 2, 3]
        let t2 = refusal("gap.safetensors") { _ = try Safetensors.decode(gap, file: "gap.safetensors") }
        #expect(t2.contains("unused"), "\(t2)")
        // A header length beyond the reference's cap of 100,000,000 bytes.
        var huge = [UInt8]()
        huge.appendLE(UInt64(200_000_000))
        let t3 = refusal("huge.safetensors") { _ = try Safetensors.decode(huge + Array("{}".utf8), file: "huge.safetensors") }
        #expect(t3.contains("more than the 100000000 bytes"), "\(t3)")
        // A size written with a sign is not a size.
        var signed = Array(#"{"a":{"dtype":"U8","shape":[-0],"data_offsets":[0,0]}}"#.utf8)
        while signed.count % 8 != 0 { signed.append(0x20) }
        var s = [UInt8]()
        s.appendLE(UInt64(signed.count))
        s += signed
        _ = refusal("signed.safetensors") { _ = try Safetensors.decode(s, file: "signed.safetensors") }
    }

    /// The safetensors fuzz target's six findings: files whose tensors hold
    /// NaN bit patterns, which its round-trip check compared with `==` (NaN is
    /// not equal to itself). The reader was right: encoding and decoding
    /// again keeps every bit, which is what the target now compares.
    @Test func safetensorsRoundTripKeepsNaNBits() throws {
        let bits: [UInt32] = [0x7FC0_0000, 0xFFC0_0001, 0x7F80_0001, 0x3F80_0000]
        let raw = bits.flatMap { b in (0..<4).map { UInt8(truncatingIfNeeded: b >> (8 * $0)) } }
        let a = try NDArray(.f32, shape: [4], littleEndianBytes: raw)
        let bytes = try Safetensors.encode([NamedArray("n", a)])
        let once = try Safetensors.decode(bytes, file: "n.safetensors")
        let twice = try Safetensors.decode(try Safetensors.encode(once.tensors), file: "n.safetensors")
        #expect(twice.tensors[0].array.littleEndianBytes() == raw)
        #expect(once.tensors != twice.tensors, "NaN elements compare unequal, which misled the round-trip check")
    }

    // MARK: npz

    /// Python's zipfile refuses a local header whose name differs from the
    /// directory's, a corrupt extra field, and a directory count that does
    /// not match the entries; so does this reader.
    @Test func npzStructureChecks() throws {
        let good = try NPZ.encode([NamedArray("x", NDArray([Float(1), 2]))])
        _ = try NPZ.decode(good, file: "good.npz")
        // The local header's name: "x.npy" → "y.npy" (offset 30 is its first byte).
        var renamed = good
        renamed[30] = UInt8(ascii: "y")
        let t1 = refusal("renamed.npz") { _ = try NPZ.decode(renamed, file: "renamed.npz") }
        #expect(t1.contains("the local header names 'y.npy'"), "\(t1)")
        // The end record's entry count: 1 → 2.
        var counted = good
        let eocd = good.count - 22
        counted[eocd + 8] = 2
        counted[eocd + 10] = 2
        _ = refusal("counted.npz") { _ = try NPZ.decode(counted, file: "counted.npz") }
        // The campaign's finding: "version needed to extract" 14.8, which Python's zipfile
        // refuses (it reads up to 6.3); the central directory's is at offset 6 of its entry.
        var versioned = good
        let directory = Int(readUnsigned(good, at: eocd + 16, size: 4, bigEndian: false))
        versioned[directory + 6] = 148
        let t = refusal("versioned.npz") { _ = try NPZ.decode(versioned, file: "versioned.npz") }
        #expect(t.contains("needs version 14.8 to extract"), "\(t)")
    }

    /// An entry whose directory size is small but whose data inflates to far
    /// more is stopped once it passes the size, not inflated whole.
    @Test func npzEntryLargerThanItsDirectorySize() throws {
        let zeros = [UInt8](repeating: 0, count: 4 << 20)
        let deflated = try zeros.withUnsafeBytes { try RawDeflate.compress($0) }
        let t = refusal("bomb.npz (entry 'x.npy')") {
            _ = try deflated.withUnsafeBytes { try RawDeflate.decompress($0, expectedSize: 1000, file: "bomb.npz (entry 'x.npy')") }
        }
        #expect(t.contains("decompresses to more than 1000 bytes"), "\(t)")
    }

    // MARK: gzip and IDX

    /// A gzip stream that holds more than its IDX header declares is refused
    /// after the declared bytes, without inflating the rest.
    @Test func gzipHoldingMoreThanItsIDXHeader() throws {
        var plain: [UInt8] = [0, 0, 0x08, 1, 0, 0, 0, 4, 1, 2, 3, 4]
        plain += [UInt8](repeating: 0, count: 1 << 20)
        let gz = try Gzip.compress(plain)
        let t = refusal("bomb.gz") { _ = try IDX.decode(gz, file: "bomb.gz") }
        #expect(t.contains("more than 12 bytes"), "\(t)")
        // And a header declaring more than may be allocated is refused before inflating.
        let big: [UInt8] = [0, 0, 0x08, 3, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0x10, 0, 0, 0, 1]
        let t2 = refusal("big.gz") { _ = try IDX.decode(try Gzip.compress(big), file: "big.gz") }
        #expect(t2.contains("needs") && t2.contains("nothing was allocated"), "\(t2)")
    }

    @Test func deviceIsNotAFile() {
        let t = refusal("/dev/zero") { _ = try readFileBytes("/dev/zero") }
        #expect(t.contains("character device"), "\(t)")
    }

    // MARK: CSV and non-finite data

    @Test func nonFiniteCSVCells() throws {
        let text = Array("a,b\n1,2\n3,nan\n".utf8)
        let t = refusal("n.csv") { _ = try CSV.dataset(from: text, file: "n.csv") }
        #expect(t.contains("row 3, column 2 (\"b\"): not a finite number"), "\(t)")
        let allowed = try CSV.dataset(from: text, file: "n.csv", allowNonFinite: true)
        #expect(allowed.features.toDoubles()[3].isNaN)
        // 1e39 is finite in f64 but not in f32.
        let t2 = refusal("big.csv") { _ = try CSV.dataset(from: Array("a\n1e39\n".utf8), file: "big.csv") }
        #expect(t2.contains("beyond the range of f32"), "\(t2)")
    }

    /// NaN in the features is found when the data is loaded, with the element.
    @Test func nonFiniteFeaturesNamed() throws {
        var values = [Float](repeating: 1, count: 40)
        values[37] = .infinity
        let d = try Dataset(name: "x.npy", features: try NDArray(values, shape: [10, 4]))
        let t = refusal("x.npy") { try d.checkFinite() }
        #expect(t.contains("feature element [9, 1] (example 9) is inf"), "\(t)")
        let x = try NDArray([Double](repeating: 0, count: 33), shape: [33])
        #expect(x.firstNonFinite() == nil)
        var y = [Double](repeating: 0, count: 33)
        y[32] = .nan
        #expect(try NDArray(y, shape: [33]).firstNonFinite() == 32)
        y[5] = -.infinity
        #expect(try NDArray(y, shape: [33]).firstNonFinite() == 5)
    }

    /// The vectorized scan agrees with a plain one for every position of one
    /// special value among finite extremes (largest, smallest normal, subnormal, −0).
    @Test func nonFiniteScanMatchesAPlainScan() {
        let finite: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNormalMagnitude,
                               .leastNonzeroMagnitude, -0.0, 1, -3.5]
        let finiteD: [Double] = [.greatestFiniteMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, -0.0, 2]
        for n in [0, 1, 15, 16, 17, 40] {
            let base = (0..<n).map { finite[$0 % finite.count] }
            #expect(base.withUnsafeBufferPointer { firstNonFiniteIndex($0) } == nil)
            let baseD = (0..<n).map { finiteD[$0 % finiteD.count] }
            #expect(baseD.withUnsafeBufferPointer { firstNonFiniteIndex($0) } == nil)
            for k in 0..<n {
                for special in [Float.nan, .infinity, -.infinity, Float(bitPattern: 0xFFC0_0001)] {
                    var a = base
                    a[k] = special
                    if k + 3 < n { a[k + 3] = .nan }
                    #expect(a.withUnsafeBufferPointer { firstNonFiniteIndex($0) } == a.firstIndex { !$0.isFinite }, "n \(n), k \(k)")
                }
                for special in [Double.nan, .infinity, -.infinity] {
                    var a = baseD
                    a[k] = special
                    #expect(a.withUnsafeBufferPointer { firstNonFiniteIndex($0) } == k, "n \(n), k \(k)")
                }
            }
        }
    }

    // MARK: memory

    @Test func memoryAllowanceNamesItsBound() {
        let (bytes, bound) = MemoryBudget.allowance()
        #expect(bytes > 0)
        #expect(bound.contains("memory") || bound.contains("limit"), "\(bound)")
        #expect(formatBytes(1536) == "1.5 KiB")
        #expect(formatBytes(3 << 30) == "3 GiB")
        #expect(formatBytes(12) == "12 B")
    }

    // MARK: atomic writes

    /// Temporary files of a killed write (process gone) are removed; another
    /// name's, a live process's and files of other patterns are not.
    @Test func staleTemporariesRemoved() throws {
        let dir = TemporaryDirectory()
        let target = dir.file("ck.safetensors")
        try AtomicFile.write([1], to: target)
        for name in [".ck.safetensors.tmp-999999-1a2b", ".ck.safetensors.tmp-\(getpid() == 1 ? 2 : 1)-ff",
                     ".other.tmp-999999-1a2b", ".ck.safetensors.tmp-999999-xyz", "ck.safetensors.tmp-999999-1a"] {
            try AtomicFile.write([0], to: dir.file(name))
        }
        let removed = AtomicFile.removeStaleTemporaries(of: target)
        #expect(removed == [dir.file(".ck.safetensors.tmp-999999-1a2b")])
        #expect(dir.entries() == [".ck.safetensors.tmp-1-ff", ".ck.safetensors.tmp-999999-xyz", ".other.tmp-999999-1a2b",
                                  "ck.safetensors", "ck.safetensors.tmp-999999-1a"].sorted())
    }
}
