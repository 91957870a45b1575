import Testing
@testable import DLGData

@Suite struct SafetensorsTests {
    /// A file from a header string and a data buffer: 8-byte little-endian
    /// header length, the header, the data.
    func file(_ header: String, _ data: [UInt8]) -> [UInt8] {
        le64(UInt64(header.utf8.count)) + Array(header.utf8) + data
    }

    @Test func parsesAHandBuiltHeader() throws {
        // b's data comes second in the buffer although it is listed first.
        let header = #"{"__metadata__":{"format":"pt","note":"\u00e9\n"},"#
            + #""b":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},"#
            + #""a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}"#
        let data = le32(Float(1).bitPattern) + le32(Float(2).bitPattern)
            + le64(UInt64(bitPattern: -1)) + le64(7)
        let st = try Safetensors.decode(file(header, data), file: "h.safetensors")
        #expect(st.tensors.map(\.name) == ["a", "b"])
        #expect(st["a"] == (try NDArray([Float(1), 2], shape: [1, 2])))
        #expect(st["b"] == NDArray([Int64(-1), 7]))
        #expect(st.metadata == ["format": "pt", "note": "é\n"])
    }

    @Test func roundTripKeepsOrderAndMetadata() throws {
        let dir = TemporaryDirectory()
        let tensors = [
            NamedArray("z.weight", try NDArray((0..<6).map { Float($0) * 0.5 }, shape: [2, 3])),
            NamedArray("a.bias", NDArray([Double(-0.25)])),
            NamedArray("m", try NDArray([UInt8(1), 2, 3], shape: [3, 1])),
            NamedArray("count", try NDArray([Int32(42)], shape: [])),
        ]
        let metadata = ["epoch": "3", "model": "lenet \"5\""]
        try Safetensors.write(tensors, metadata: metadata, to: dir.file("w.safetensors"))
        let bytes = try readFileBytes(dir.file("w.safetensors"))
        let n = Int(readUnsigned(bytes, at: 0, size: 8, bigEndian: false))
        #expect(n % 8 == 0)
        // Data follows the header: 24 + 8 + 3 + 4 bytes.
        #expect(bytes.count == 8 + n + 24 + 8 + 3 + 4)
        #expect(bytes == (try Safetensors.encode(tensors, metadata: metadata)))
        let back = try Safetensors.read(dir.file("w.safetensors"))
        #expect(back.tensors == tensors)
        #expect(back.metadata == metadata)
    }

    @Test func writesTheDocumentedHeader() throws {
        let bytes = try Safetensors.encode([NamedArray("x", NDArray([Float(1)]))], metadata: ["k": "v"])
        let json = #"{"__metadata__":{"k":"v"},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        // 79 bytes of JSON, padded with 1 space to 80, a multiple of 8.
        #expect(json.utf8.count == 79)
        #expect(bytes == le64(80) + Array(json.utf8) + [0x20] + [0, 0, 0x80, 0x3F])
    }

    @Test func rejectsBadOffsetsNamingTheTensor() {
        let data = [UInt8](repeating: 0, count: 16)
        expectDataError(["o.st (tensor 'w'): bad header field 'data_offsets': [8, 20] is not a range within the 16-byte data buffer"]) {
            _ = try Safetensors.decode(file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#, data), file: "o.st")
        }
        expectDataError(["o.st (tensor 'w'): bad header field 'data_offsets': [0, 8] spans 8 bytes but F32[3] needs 12"]) {
            _ = try Safetensors.decode(file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data), file: "o.st")
        }
        expectDataError(["o.st (tensor 'v'): bad header field 'data_offsets': [4, 12] overlaps tensor 'w' at [0, 8]"]) {
            let h = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"I32","shape":[2],"data_offsets":[4,12]}}"#
            _ = try Safetensors.decode(file(h, data), file: "o.st")
        }
        expectDataError(["(tensor 'w')", "[8, 4] is not a range"]) {
            _ = try Safetensors.decode(file(#"{"w":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}}"#, data), file: "o.st")
        }
        expectDataError(["o.st (tensor 'h'): unknown dtype 'BF16'"]) {
            _ = try Safetensors.decode(file(#"{"h":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, data), file: "o.st")
        }
    }

    @Test func rejectsBadHeaders() {
        // Header length 100 but only 10 bytes follow the 8-byte length.
        expectDataError(["s.st: truncated safetensors header: needed 100 bytes at byte offset 8",
                         "ends at byte offset 18 (90 bytes missing)"]) {
            _ = try Safetensors.decode(le64(100) + [UInt8](repeating: 0x7B, count: 10), file: "s.st")
        }
        // The stray "b" is character 8 of the header, byte 8 + 8 of the file.
        expectDataError(["bad header field 'JSON header'", "expected ',' or '}' at byte offset 16"]) {
            _ = try Safetensors.decode(file(#"{"a":{} "b":1}"#, []), file: "j.st")
        }
        expectDataError(["bad header field 'shape'", "[-1] is not a list"]) {
            _ = try Safetensors.decode(file(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#, []), file: "n.st")
        }
        expectDataError(["repeated"]) {
            _ = try Safetensors.encode([NamedArray("a", NDArray([Float(1)])), NamedArray("a", NDArray([Float(2)]))])
        }
    }
}
