import Testing
@testable import DLGData

@Suite struct CSVTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func labelColumnByNameOthersAreFeatures() throws {
        let text = "x1,y,x2\n0,0,0\n0,0,1\n1,0,0\n1,1,1\n"
        let d = try CSV.dataset(from: bytes(text), file: "and.csv", label: "y")
        #expect(d.features.description == "f32[4, 2]")
        #expect(d.features.toFloats() == [0, 0, 0, 1, 1, 0, 1, 1])
        #expect(d.labels?.description == "f32[4, 1]")
        #expect(d.labels?.toFloats() == [0, 0, 0, 1])
    }

    @Test func withoutLabelEveryColumnIsAFeature() throws {
        let d = try CSV.dataset(from: bytes("a,b\n1.5,-2e1\n3,4\n"), file: "f.csv")
        #expect(d.labels == nil)
        #expect(d.features.shape == [2, 2])
        #expect(d.features.toFloats() == [1.5, -20, 3, 4])
    }

    @Test func integerLabelsAreClassIndices() throws {
        let d = try CSV.dataset(from: bytes("f,class\n0.5,2\n0.25,0\n"), file: "c.csv", label: "class", labelType: .i32)
        #expect(d.labels?.description == "i32[2]")
        #expect(d.labels?.values(as: Int32.self) == [2, 0])
        expectDataError(["c.csv: row 3, column 2 (\"class\"): not an integer in the range of i32: \"1.5\""]) {
            _ = try CSV.dataset(from: bytes("f,class\n0.5,2\n0.25,1.5\n"), file: "c.csv", label: "class", labelType: .i32)
        }
    }

    @Test func quotedFieldsWithCommasQuotesAndNewlines() throws {
        let text = "\"a, first\",\"say \"\"hi\"\"\",\"multi\nline\"\r\n\"1\",2, 3 \r\n"
        let t = try CSV.parse(bytes(text), file: "q.csv")
        #expect(t.header == ["a, first", "say \"hi\"", "multi\nline"])
        #expect(t.rows == [["1", "2", "3"]])
        #expect(t.lineNumbers == [3])   // the header spans lines 1–2
        let d = try CSV.dataset(from: bytes(text), file: "q.csv", label: "say \"hi\"")
        #expect(d.features.toFloats() == [1, 3])
        #expect(d.labels?.toFloats() == [2])
    }

    @Test func missingLabelColumnListsTheColumns() {
        expectDataError(["and.csv: label column \"label\" not found; the columns are \"x1\", \"x2\", \"y\""]) {
            _ = try CSV.dataset(from: bytes("x1,x2,y\n0,0,0\n"), file: "and.csv", label: "label")
        }
    }

    @Test func errorsNameRowAndColumn() {
        expectDataError(["d.csv: row 3, column 2 (\"b\"): not a number: \"abc\""]) {
            _ = try CSV.dataset(from: bytes("a,b\n1,2\n3,abc\n"), file: "d.csv")
        }
        expectDataError(["row 2, column 1 (\"a\"): empty cell"]) {
            _ = try CSV.dataset(from: bytes("a,b\n,2\n"), file: "d.csv")
        }
        expectDataError(["row 2, column 3: the record has 3 fields but the header has 2"]) {
            _ = try CSV.dataset(from: bytes("a,b\n1,2,3\n"), file: "d.csv")
        }
        expectDataError(["row 2, column 1: unterminated quoted field"]) {
            _ = try CSV.dataset(from: bytes("a\n\"12\n"), file: "d.csv")
        }
        expectDataError(["row 2, column 1: unexpected text after the closing quote"]) {
            _ = try CSV.dataset(from: bytes("a\n\"1\"x\n"), file: "d.csv")
        }
        expectDataError(["e.csv: empty dataset: the file has a header but no data rows"]) {
            _ = try CSV.dataset(from: bytes("a,b\n\n"), file: "e.csv")
        }
    }

    @Test func blankLinesAndBOMAreSkipped() throws {
        let d = try CSV.dataset(from: [0xEF, 0xBB, 0xBF] + bytes("a\n\n1\n  \n2"), file: "b.csv")
        #expect(d.features.toFloats() == [1, 2])
    }

    @Test func writeThenReadBack() throws {
        let dir = TemporaryDirectory()
        let ids = NDArray([Int32(0), 1, 2])
        let probs = try NDArray([Float(0.25), 0.75, 1, 0, 0.5, 0.5], shape: [3, 2])
        try CSV.write(columns: [NamedArray("id", ids), NamedArray("p, class", probs)], to: dir.file("out.csv"))
        let text = String(decoding: try readFileBytes(dir.file("out.csv")), as: UTF8.self)
        #expect(text == "id,\"p, class_0\",\"p, class_1\"\n0,0.25,0.75\n1,1.0,0.0\n2,0.5,0.5\n")
        let back = try CSV.read(dir.file("out.csv"), label: "id", labelType: .i32)
        #expect(back.features == probs)
        #expect(back.labels == ids)
        expectDataError(["shape mismatch for the number of rows: expected [3], found [2]"]) {
            _ = try CSV.encode(columns: [NamedArray("a", ids), NamedArray("b", NDArray([Float(1), 2]))])
        }
    }
}
