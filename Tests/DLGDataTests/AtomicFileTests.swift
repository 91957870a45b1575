import Testing
@testable import DLGData
#if canImport(Glibc)
import Glibc
#endif

@Suite struct AtomicFileTests {
    struct ProducerFailed: Error {}

    @Test func writesAndReplacesLeavingNoTemporaries() throws {
        let dir = TemporaryDirectory()
        try AtomicFile.write([1, 2, 3], to: dir.file("f.bin"))
        #expect(try readFileBytes(dir.file("f.bin")) == [1, 2, 3])
        try AtomicFile.write("new", to: dir.file("f.bin"))
        #expect(try readFileBytes(dir.file("f.bin")) == Array("new".utf8))
        #expect(dir.entries() == ["f.bin"])
    }

    @Test func largeStreamedWrite() throws {
        let dir = TemporaryDirectory()
        // 3 MiB in uneven pieces crosses the writer's 1 MiB buffer.
        let piece = (0..<700_001).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try AtomicFile.write(to: dir.file("big")) { w in
            for _ in 0..<3 { try w.write(piece) }
            try w.write([UInt8](repeating: 5, count: 2_000_000))
        }
        let back = try readFileBytes(dir.file("big"))
        #expect(back.count == 3 * 700_001 + 2_000_000)
        #expect(Array(back[700_001..<(700_001 + 10)]) == Array(piece.prefix(10)))
        #expect(back.last == 5)
    }

    @Test func failingProducerLeavesTheOldFile() throws {
        let dir = TemporaryDirectory()
        try AtomicFile.write("old contents", to: dir.file("ckpt"))
        #expect(throws: ProducerFailed.self) {
            try AtomicFile.write(to: dir.file("ckpt")) { w in
                try w.write("half of the new")
                throw ProducerFailed()
            }
        }
        #expect(try readFileBytes(dir.file("ckpt")) == Array("old contents".utf8))
        #expect(dir.entries() == ["ckpt"])
    }

    @Test func unwritableTargetLeavesNothingBehind() throws {
        let dir = TemporaryDirectory()
        // A directory cannot be replaced by a file: the rename fails.
        #expect(mkdir(dir.file("target"), 0o755) == 0)
        expectDataError([dir.file("target"), "cannot rename"]) {
            try AtomicFile.write([1, 2], to: dir.file("target"))
        }
        #expect(dir.entries() == ["target"])
        // A missing directory: the temporary file cannot be created.
        expectDataError(["cannot create the temporary file", "No such file or directory"]) {
            try AtomicFile.write([1], to: dir.file("missing/x.bin"))
        }
    }

    @Test func failedSafetensorsWriteKeepsThePreviousCheckpoint() throws {
        let dir = TemporaryDirectory()
        let first = [NamedArray("w", NDArray([Float(1), 2]))]
        try Safetensors.write(first, to: dir.file("m.safetensors"))
        let reserved = [NamedArray("__metadata__", NDArray([Float(3)]))]
        expectDataError(["reserved"]) { try Safetensors.write(reserved, to: dir.file("m.safetensors")) }
        #expect(try Safetensors.read(dir.file("m.safetensors")).tensors == first)
        #expect(dir.entries() == ["m.safetensors"])
    }

    @Test func readingMissingFileNamesIt() {
        expectDataError(["/nonexistent/dlg/x.idx: cannot open for reading: No such file or directory"]) {
            _ = try readFileBytes("/nonexistent/dlg/x.idx")
        }
    }
}
