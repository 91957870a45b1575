import Testing
@testable import DLGData

@Suite struct CIFAR10Tests {
    /// A record: label, then red, green, blue planes of 32×32 bytes.
    func record(label: UInt8, r: UInt8, g: UInt8, b: UInt8) -> [UInt8] {
        [label] + [UInt8](repeating: r, count: 1024) + [UInt8](repeating: g, count: 1024) + [UInt8](repeating: b, count: 1024)
    }

    @Test func decodesPlanesAsNCHW() throws {
        var first = record(label: 3, r: 10, g: 20, b: 30)
        // Green plane (offset 1 + 1024), row 1, column 2 → byte 1 + 1024 + 32 + 2.
        first[1 + 1024 + 32 + 2] = 99
        let bytes = first + record(label: 9, r: 1, g: 2, b: 255)
        let (images, labels) = try CIFAR10.decodeBatch(bytes, file: "data_batch_1.bin")
        #expect(images.description == "u8[2, 3, 32, 32]")
        #expect(labels.values(as: Int32.self) == [3, 9])
        let px = images.values(as: UInt8.self) ?? []
        // Index of [n, c, y, x] = ((n·3 + c)·32 + y)·32 + x.
        #expect(px[((0 * 3 + 1) * 32 + 1) * 32 + 2] == 99)
        #expect(px[((0 * 3 + 0) * 32 + 5) * 32 + 5] == 10)
        #expect(px[((0 * 3 + 2) * 32 + 31) * 32 + 31] == 30)
        #expect(px[((1 * 3 + 2) * 32 + 0) * 32 + 0] == 255)
    }

    @Test func loadScalesAndConcatenates() throws {
        let dir = TemporaryDirectory()
        writeRaw(record(label: 0, r: 255, g: 51, b: 0), to: dir.file("a.bin"))
        writeRaw(record(label: 7, r: 0, g: 0, b: 0) + record(label: 2, r: 1, g: 1, b: 1), to: dir.file("b.bin"))
        let d = try CIFAR10.load(files: [dir.file("a.bin"), dir.file("b.bin")])
        #expect(d.features.description == "f32[3, 3, 32, 32]")
        #expect(d.labels?.values(as: Int32.self) == [0, 7, 2])
        #expect(d.classCount == 10)
        let f = d.features.toFloats()
        #expect(f[0] == 1)
        #expect(f[1024] == Float(51) / 255)   // 0.2
        #expect(f[2048] == 0)
    }

    @Test func truncatedRecordAndBadLabel() {
        // One full record (3073 bytes) and 100 bytes of the next.
        let bytes = record(label: 1, r: 0, g: 0, b: 0) + [UInt8](repeating: 0, count: 100)
        expectDataError(["c.bin: truncated CIFAR-10 record 1: needed 3073 bytes at byte offset 3073",
                         "ends at byte offset 3173 (2973 bytes missing)"]) {
            _ = try CIFAR10.decodeBatch(bytes, file: "c.bin")
        }
        expectDataError(["record 0 (byte offset 0) has label 10"]) {
            _ = try CIFAR10.decodeBatch(record(label: 10, r: 0, g: 0, b: 0), file: "c.bin")
        }
        expectDataError(["empty dataset"]) { _ = try CIFAR10.decodeBatch([], file: "c.bin") }
    }
}
