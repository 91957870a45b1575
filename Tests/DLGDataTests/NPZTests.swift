import Testing
import CZlib
@testable import DLGData

/// Raw deflate (no zlib or gzip wrapper) straight through zlib, to build
/// archives independently of the library's writer.
func rawDeflate(_ data: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    let rc = deflateInit2_(&stream, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    precondition(rc == Z_OK, "test setup: deflateInit2 failed")
    defer { deflateEnd(&stream) }
    var input = data
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(data.count))) + 16)
    let produced = input.withUnsafeMutableBufferPointer { inp in
        output.withUnsafeMutableBufferPointer { out -> Int in
            stream.next_in = inp.baseAddress
            stream.avail_in = uInt(inp.count)
            stream.next_out = out.baseAddress
            stream.avail_out = uInt(out.count)
            let r = deflate(&stream, Z_FINISH)
            precondition(r == Z_STREAM_END, "test setup: deflate did not finish")
            return out.count - Int(stream.avail_out)
        }
    }
    return Array(output.prefix(produced))
}

/// One entry of a hand-built ZIP archive.
struct ZipEntry {
    var name: String
    var method: UInt16          // 0 stored, 8 deflated
    var content: [UInt8]        // uncompressed
    var zip64Local = false      // sizes in a ZIP64 extra of the local header, as numpy writes
    var crcOverride: UInt32? = nil
}

/// A ZIP archive built field by field after APPNOTE.TXT §4.3: local
/// headers with data, the central directory, the end record.
func zipArchive(_ entries: [ZipEntry]) -> [UInt8] {
    var out = [UInt8](), central = [UInt8]()
    for e in entries {
        let data = e.method == 8 ? rawDeflate(e.content) : e.content
        let crc = e.crcOverride ?? naiveCRC32(e.content)
        let name = Array(e.name.utf8)
        let offset = UInt32(out.count)
        let localExtra: [UInt8] = e.zip64Local
            ? le16(1) + le16(16) + le64(UInt64(e.content.count)) + le64(UInt64(data.count)) : []
        out += le32(0x0403_4B50) + le16(45) + le16(0) + le16(Int(e.method)) + le16(0) + le16(0x21) + le32(crc)
        out += e.zip64Local ? le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) : le32(UInt32(data.count)) + le32(UInt32(e.content.count))
        out += le16(name.count) + le16(localExtra.count) + name + localExtra + data
        central += le32(0x0201_4B50) + le16(45) + le16(45) + le16(0) + le16(Int(e.method)) + le16(0) + le16(0x21) + le32(crc)
        central += le32(UInt32(data.count)) + le32(UInt32(e.content.count))
        central += le16(name.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + name
    }
    let cdOffset = UInt32(out.count)
    out += central
    out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count)
    out += le32(UInt32(central.count)) + le32(cdOffset) + le16(0)
    return out
}

@Suite struct NPZTests {
    let w = try! NDArray([Float(0.5), -1, 2, 4], shape: [2, 2])
    let b = NDArray([Int64(3), -4, 5])

    @Test func readsAHandBuiltArchiveWithDeflatedAndStoredEntries() throws {
        let wide = try NDArray((0..<300).map { Double($0 % 7) }, shape: [30, 10])
        let bytes = zipArchive([
            ZipEntry(name: "w.npy", method: 8, content: NPY.encode(w)),
            ZipEntry(name: "b.npy", method: 0, content: NPY.encode(b)),
            ZipEntry(name: "wide.npy", method: 8, content: NPY.encode(wide), zip64Local: true),
        ])
        let arrays = try NPZ.decode(bytes, file: "h.npz")
        #expect(arrays.map(\.name) == ["w", "b", "wide"])
        #expect(arrays[0].array == w)
        #expect(arrays[1].array == b)
        #expect(arrays[2].array == wide)
    }

    @Test func storedRoundTripHasCorrectCRCs() throws {
        let dir = TemporaryDirectory()
        try NPZ.write([NamedArray("w", w), NamedArray("b", b)], to: dir.file("a.npz"))
        let bytes = try readFileBytes(dir.file("a.npz"))
        // First local header: signature, method 0 at offset 8, CRC-32 at 14,
        // sizes at 18 and 22, name length at 26, name "w.npy" at 30.
        let content = NPY.encode(w)
        #expect(Array(bytes[0..<4]) == [0x50, 0x4B, 0x03, 0x04])
        #expect(Array(bytes[8..<10]) == [0, 0])
        #expect(Array(bytes[14..<18]) == le32(naiveCRC32(content)))
        #expect(Array(bytes[18..<22]) == le32(UInt32(content.count)))
        #expect(Array(bytes[30..<35]) == Array("w.npy".utf8))
        #expect(Array(bytes[35..<(35 + content.count)]) == content)
        // End record: 2 entries.
        let end = bytes.count - 22
        #expect(Array(bytes[end..<(end + 4)]) == le32(0x0605_4B50))
        #expect(Array(bytes[(end + 10)..<(end + 12)]) == le16(2))
        let back = try NPZ.read(dir.file("a.npz"))
        #expect(back == [NamedArray("w", w), NamedArray("b", b)])
    }

    @Test func compressedRoundTrip() throws {
        let big = try NDArray([Float](repeating: 1, count: 4096), shape: [64, 64])
        let bytes = try NPZ.encode([NamedArray("big", big), NamedArray("b", b)], compressed: true)
        #expect(bytes.count < big.byteCount / 4)
        #expect(try NPZ.decode(bytes, file: "c.npz") == [NamedArray("big", big), NamedArray("b", b)])
    }

    @Test func errors() {
        expectDataError(["x.npz: bad magic number for npz (ZIP archive): expected 0x504B0304, found 0x934E554D"]) {
            _ = try NPZ.decode(NPY.encode(w), file: "x.npz")
        }
        let good = zipArchive([ZipEntry(name: "w.npy", method: 0, content: NPY.encode(w))])
        expectDataError(["x.npz: corrupt ZIP data: no end-of-central-directory record"]) {
            _ = try NPZ.decode(Array(good.dropLast(10)), file: "x.npz")
        }
        let crcBad = zipArchive([ZipEntry(name: "w.npy", method: 8, content: NPY.encode(w), crcOverride: 0x1234_5678)])
        expectDataError(["x.npz (entry 'w.npy'): corrupt ZIP data: CRC-32 mismatch: the directory says 0x12345678"]) {
            _ = try NPZ.decode(crcBad, file: "x.npz")
        }
        var deflateBad = zipArchive([ZipEntry(name: "w.npy", method: 8, content: NPY.encode(w))])
        deflateBad[30 + 5] = 0xFF   // first byte of the deflate stream: BTYPE 11 is reserved
        expectDataError(["x.npz (entry 'w.npy'): corrupt deflate data"]) {
            _ = try NPZ.decode(deflateBad, file: "x.npz")
        }
        expectDataError(["unsupported: ZIP compression method 12"]) {
            var e = zipArchive([ZipEntry(name: "w.npy", method: 0, content: NPY.encode(w))])
            let cd = e.count - 22 - (46 + 5)
            e[cd + 10] = 12   // central directory compression method
            _ = try NPZ.decode(e, file: "x.npz")
        }
        expectDataError(["repeated"]) { _ = try NPZ.encode([NamedArray("a", w), NamedArray("a", b)]) }
    }
}
