import Testing
@testable import DLGData

@Suite struct IDXTests {
    /// IDX header bytes: 00 00 code ndim, then big-endian UInt32 sizes.
    func header(code: UInt8, _ dims: [UInt32]) -> [UInt8] {
        [0, 0, code, UInt8(dims.count)] + dims.flatMap(be32)
    }

    @Test func readsHandBuiltU8() throws {
        let bytes = header(code: 0x08, [2, 3]) + [1, 2, 3, 4, 5, 6]
        let a = try IDX.decode(bytes, file: "a.idx")
        #expect(a.shape == [2, 3])
        #expect(a.values(as: UInt8.self) == [1, 2, 3, 4, 5, 6])
    }

    @Test func readsSignedAndFloatCodes() throws {
        // i8: FF is −1, 7F is 127.
        let i8 = try IDX.decode(header(code: 0x09, [2]) + [0xFF, 0x7F], file: "i8")
        #expect(i8.values(as: Int32.self) == [-1, 127])
        // i16 big-endian: FF FE is −2, 01 2C is 300.
        let i16 = try IDX.decode(header(code: 0x0B, [2]) + [0xFF, 0xFE, 0x01, 0x2C], file: "i16")
        #expect(i16.values(as: Int32.self) == [-2, 300])
        // i32 big-endian: FF FF FF FD is −3.
        let i32 = try IDX.decode(header(code: 0x0C, [1]) + [0xFF, 0xFF, 0xFF, 0xFD], file: "i32")
        #expect(i32.values(as: Int32.self) == [-3])
        // f32: 1.0 is 3F800000, −2.5 is C0200000.
        let f32 = try IDX.decode(header(code: 0x0D, [1, 2]) + [0x3F, 0x80, 0, 0, 0xC0, 0x20, 0, 0], file: "f32")
        #expect(f32.shape == [1, 2])
        #expect(f32.values(as: Float.self) == [1, -2.5])
        // f64: 0.5 is 3FE0000000000000.
        let f64 = try IDX.decode(header(code: 0x0E, [1]) + [0x3F, 0xE0, 0, 0, 0, 0, 0, 0], file: "f64")
        #expect(f64.values(as: Double.self) == [0.5])
    }

    @Test func badMagicIsReportedInHex() {
        expectDataError(["x.idx: bad magic number for IDX: expected 0x0000, found 0x1234"]) {
            _ = try IDX.decode([0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 9], file: "x.idx")
        }
    }

    @Test func truncatedDataGivesTheOffset() {
        // Header 4 + 2·4 = 12 bytes; 6 data bytes needed, 4 present: data
        // ends at 12 + 4 = 16, 2 bytes missing.
        let bytes = header(code: 0x08, [2, 3]) + [1, 2, 3, 4]
        expectDataError(["t.idx: truncated IDX data", "needed 6 bytes at byte offset 12",
                         "the data ends at byte offset 16 (2 bytes missing)"]) {
            _ = try IDX.decode(bytes, file: "t.idx")
        }
        // Three dimensions announced, one size present: the second size is
        // missing at offset 8.
        expectDataError(["truncated IDX size of dimension 1", "needed 4 bytes at byte offset 8",
                         "ends at byte offset 8"]) {
            _ = try IDX.decode([0, 0, 8, 3] + be32(2), file: "h.idx")
        }
    }

    @Test func badTypeCodeAndTrailingBytes() {
        expectDataError(["bad header field 'type code'", "0x0A at byte offset 2"]) {
            _ = try IDX.decode(header(code: 0x0A, [1]) + [0], file: "c.idx")
        }
        expectDataError(["2 unexpected bytes after the IDX data, which ends at byte offset 9"]) {
            _ = try IDX.decode(header(code: 0x08, [1]) + [5, 6, 7], file: "e.idx")
        }
    }

    @Test func readsHandMadeGzipFile() throws {
        let dir = TemporaryDirectory()
        let plain = header(code: 0x08, [3, 2]) + [10, 20, 30, 40, 50, 60]
        writeRaw(handMadeGzip(plain), to: dir.file("a-idx1-ubyte.gz"))
        let a = try IDX.read(dir.file("a-idx1-ubyte.gz"))
        #expect(a.shape == [3, 2])
        #expect(a.values(as: UInt8.self) == [10, 20, 30, 40, 50, 60])
    }

    @Test func gzipErrorsInsideDecompressedDataSayDecompressed() {
        let plain = header(code: 0x08, [2, 3]) + [1, 2, 3, 4]
        expectDataError(["z.gz (decompressed): truncated IDX data", "byte offset 12"]) {
            _ = try IDX.decode(handMadeGzip(plain), file: "z.gz")
        }
    }

    @Test func corruptGzipNamesTheFile() {
        var gz = handMadeGzip(Array(0..<100))
        gz[13] ^= 0xFF   // NLEN no longer the complement of LEN
        expectDataError(["bad.gz: corrupt gzip data", "invalid stored block lengths"]) {
            _ = try IDX.decode(gz, file: "bad.gz")
        }
        let cut = Array(handMadeGzip(Array(0..<100)).prefix(60))
        expectDataError(["cut.gz: corrupt gzip data", "ends early"]) {
            _ = try IDX.decode(cut, file: "cut.gz")
        }
        var badCRC = handMadeGzip([1, 2, 3])
        badCRC[badCRC.count - 8] ^= 1
        expectDataError(["crc.gz: corrupt gzip data", "incorrect data check"]) {
            _ = try IDX.decode(badCRC, file: "crc.gz")
        }
    }

    @Test func writeThenReadBackPlainAndGzip() throws {
        let dir = TemporaryDirectory()
        let a = try NDArray((0..<24).map { Float($0) / 4 - 2 }, shape: [2, 3, 4])
        try IDX.write(a, to: dir.file("a.idx"))
        try IDX.write(a, to: dir.file("a.idx.gz"), gzip: true)
        #expect(try IDX.read(dir.file("a.idx")) == a)
        #expect(try IDX.read(dir.file("a.idx.gz")) == a)
        let raw = try readFileBytes(dir.file("a.idx"))
        #expect(Array(raw.prefix(16)) == [0, 0, 0x0D, 3] + be32(2) + be32(3) + be32(4))
        expectDataError(["IDX has no 64-bit integer type"]) { _ = try IDX.encode(NDArray([Int64(1)])) }
    }
}

@Suite struct GzipAndCRCTests {
    @Test func crc32MatchesTheCheckValue() {
        // The standard check value: CRC-32 of "123456789" is CBF43926.
        let digits = Array("123456789".utf8)
        #expect(naiveCRC32(digits) == 0xCBF4_3926)
        #expect(CRC32.checksum(digits) == 0xCBF4_3926)
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        #expect(CRC32.checksum(data) == naiveCRC32(data))
    }

    @Test func decompressesConcatenatedMembersAndRoundTrips() throws {
        let a = handMadeGzip([1, 2, 3]), b = handMadeGzip([4, 5])
        #expect(try Gzip.decompress(a + b, file: "m.gz") == [1, 2, 3, 4, 5])
        let data = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        #expect(try Gzip.decompress(handMadeGzip(data), file: "big.gz") == data)
        let packed = try Gzip.compress(data)
        #expect(Gzip.isGzip(packed))
        #expect(packed.count < data.count / 10)
        #expect(try Gzip.decompress(packed, file: "rt.gz") == data)
    }
}
