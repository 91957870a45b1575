import Testing
@testable import DLGData

@Suite struct NPYTests {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// A version 1.0 file as NumPy writes it: the 59-character dict, 58
    /// spaces and a newline make a 118-byte header, so the preamble is
    /// 10 + 118 = 128 bytes, a multiple of 64.
    static let f32Header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        + String(repeating: " ", count: 58) + "\n"

    static func v1(_ header: String) -> [UInt8] {
        magic + [1, 0] + le16(header.utf8.count) + Array(header.utf8)
    }

    static func floats(_ values: [Float]) -> [UInt8] { values.flatMap { le32($0.bitPattern) } }

    @Test func readsAHandWrittenFile() throws {
        #expect(Self.f32Header.utf8.count == 118)
        let bytes = Self.v1(Self.f32Header) + Self.floats([1, 2, 3, 4, 5, 6.5])
        let a = try NPY.decode(bytes, file: "a.npy")
        #expect(a.description == "f32[2, 3]")
        #expect(a.toFloats() == [1, 2, 3, 4, 5, 6.5])
    }

    @Test func writesExactlyNumPysLayout() throws {
        let a = try NDArray([Float(1), 2, 3, 4, 5, 6.5], shape: [2, 3])
        #expect(NPY.encode(a) == Self.v1(Self.f32Header) + Self.floats([1, 2, 3, 4, 5, 6.5]))
    }

    @Test func readsVersions2And3() throws {
        // Version 2.0/3.0: a 4-byte header length; 12 + 57 + 58 + 1 = 128.
        let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }" + String(repeating: " ", count: 58) + "\n"
        let data = [Int64(-1), 2, 1 << 40].flatMap { le64(UInt64(bitPattern: $0)) }
        for major: UInt8 in [2, 3] {
            let bytes = Self.magic + [major, 0] + le32(UInt32(header.utf8.count)) + Array(header.utf8) + data
            let a = try NPY.decode(bytes, file: "v\(major).npy")
            #expect(a.description == "i64[3]")
            #expect(a.values(as: Int64.self) == [-1, 2, 1 << 40])
        }
        expectDataError(["bad header field 'version': 4.0"]) {
            _ = try NPY.decode(Self.magic + [4, 0, 0, 0], file: "v4.npy")
        }
    }

    @Test func fortranOrderIsTransposed() throws {
        // [[1, 2, 3], [4, 5, 6]] in column-major order is 1 4 2 5 3 6.
        let header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }\n"
        let data = [1.0, 4, 2, 5, 3, 6].flatMap { le64($0.bitPattern) }
        let a = try NPY.decode(Self.v1(header) + data, file: "f.npy")
        #expect(a.shape == [2, 3])
        #expect(a.toDoubles() == [1, 2, 3, 4, 5, 6])
        // 3-D: element (i, j, k) of shape (2, 2, 2) sits at i + 2j + 4k in
        // Fortran order; store value 100i + 10j + k there.
        var f = [Int32](repeating: 0, count: 8)
        for i in 0..<2 { for j in 0..<2 { for k in 0..<2 { f[i + 2 * j + 4 * k] = Int32(100 * i + 10 * j + k) } } }
        let h3 = "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 2, 2), }\n"
        let b = try NPY.decode(Self.v1(h3) + f.flatMap { le32(UInt32(bitPattern: $0)) }, file: "f3.npy")
        #expect(b.values(as: Int32.self) == [0, 1, 10, 11, 100, 101, 110, 111])
    }

    @Test func boolsAndBytesAndOldLongSuffix() throws {
        let b = try NPY.decode(Self.v1("{'descr': '|b1', 'fortran_order': False, 'shape': (3L,), }\n") + [1, 0, 1], file: "b.npy")
        #expect(b.description == "u8[3]")
        #expect(b.values(as: UInt8.self) == [1, 0, 1])
        let s = try NPY.decode(Self.v1("{'shape': (), 'descr': '<f4', 'fortran_order': False}\n") + Self.floats([7]), file: "s.npy")
        #expect(s.shape == [])
        #expect(s.toFloats() == [7])
    }

    @Test func rejectsBigEndianUnknownDtypeBadMagicAndTruncation() {
        expectDataError(["be.npy: unsupported: big-endian dtype '>f4'"]) {
            _ = try NPY.decode(Self.v1("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n") + [0, 0, 0, 0], file: "be.npy")
        }
        expectDataError(["unknown dtype '<f2'"]) {
            _ = try NPY.decode(Self.v1("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }\n") + [0, 0], file: "h.npy")
        }
        expectDataError(["m.npy: bad magic number for npy: expected 0x934E554D5059, found 0x504B0304"]) {
            _ = try NPY.decode([0x50, 0x4B, 0x03, 0x04], file: "m.npy")
        }
        // Preamble 128 bytes, 24 data bytes needed, 20 present.
        expectDataError(["t.npy: truncated npy data (f32[2, 3])", "needed 24 bytes at byte offset 128",
                         "ends at byte offset 148 (4 bytes missing)"]) {
            _ = try NPY.decode(Self.v1(Self.f32Header) + Self.floats([1, 2, 3, 4, 5]), file: "t.npy")
        }
        expectDataError(["bad header field 'shape': missing"]) {
            _ = try NPY.decode(Self.v1("{'descr': '<f4', 'fortran_order': False}\n"), file: "n.npy")
        }
        expectDataError(["bad header field 'header'"]) {
            _ = try NPY.decode(Self.v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1,\n"), file: "p.npy")
        }
    }

    @Test func roundTripsEveryTypeThroughAFile() throws {
        let dir = TemporaryDirectory()
        let arrays = [
            try NDArray([Float(-1.25), 3], shape: [1, 2]),
            NDArray([Double.pi]),
            try NDArray([Int32(7)], shape: []),
            try NDArray([Int64.min, Int64.max, 0, 1], shape: [2, 1, 2]),
            try NDArray([UInt8](repeating: 9, count: 0), shape: [0, 4]),
        ]
        for (i, a) in arrays.enumerated() {
            try NPY.write(a, to: dir.file("a\(i).npy"))
            #expect(try NPY.read(dir.file("a\(i).npy")) == a)
            #expect(try readFileBytes(dir.file("a\(i).npy")).count == 128 + a.byteCount)
        }
    }
}
