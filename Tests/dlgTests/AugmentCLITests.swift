import DLGData
import Foundation
import Testing

/// `dlg augment`, the augment setting's errors, and the MNIST figure of issue 23.
@Suite("Augmentation through the CLI")
struct AugmentCLITests {
    static let model = """
        model s {
            input image: f32[B, 1, 28, 28]
            input label: i32[B]
            c1 = relu(conv2d(image, filters: 4, kernel: 5))
            s2 = maxpool(c1, kernel: 4, stride: 4)
            output logits = dense(flatten(s2), 4)
            minimize cross_entropy(logits, label)
        }
        train s {
            data = shapes(n: 64)
            batch = 16
            epochs = 1
            augment = [flip(horizontal), shift(0.1), zoom(0.9, 1.1), rotate(15), crop(pad: 2), noise(0.05)]
        }
        """

    /// Width and height from a PNG's IHDR chunk.
    static func pngSize(_ path: String) throws -> (Int, Int) {
        let b = try readFileBytes(path)
        #expect(Array(b.prefix(8)) == PNG.signature)
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        #expect(String(decoding: b[12..<16], as: UTF8.self) == "IHDR")
        return (be32(16), be32(20))
    }

    @Test func drawsAGridAsPNGAndSVG() throws {
        let dir = try Scratch()
        try dir.write("s.dlg", Self.model)
        let r = try CLI.run(["augment", "s.dlg", "-o", "grid.png", "--examples", "3", "--columns", "5", "--scale", "2"], in: dir.path)
        expectSuccess(r)
        #expect(r.stderr.contains("3 examples × 5 augmented versions (flip(horizontal), shift(0.1), zoom(0.9, 1.1), rotate(15), crop(pad: 2), noise(0.05)) → grid.png"), "\(r.stderr)")
        // Cells of 56 pixels; 4-pixel borders, 10 between the original and the rest, 2 between cells.
        let (w, h) = try Self.pngSize(dir.file("grid.png"))
        #expect(w == 4 + 56 + 10 + 5 * 56 + 4 * 2 + 4 && h == 4 + 3 * 56 + 2 * 2 + 4, "\(w)×\(h)")
        expectSuccess(try CLI.run(["augment", "s.dlg", "-o", "grid.svg", "--augment", "rotate(90, 90)"], in: dir.path))
        let svg = try String(contentsOfFile: dir.file("grid.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("s: [rotate(90, 90)]") && svg.contains("data:image/png;base64,"))
        // Training with the block's augmentation runs, and logs the worker's time.
        expectSuccess(try CLI.run(["train", "s.dlg", "--log", "log.jsonl"], in: dir.path))
        let log = try String(contentsOfFile: dir.file("log.jsonl"), encoding: .utf8)
        #expect(log.contains("\"augment_seconds\":") && log.contains("\"augment_wait_seconds\":"))
    }

    @Test func badAugmentationIsAClearError() throws {
        let dir = try Scratch()
        try dir.write("s.dlg", Self.model.replacingOccurrences(of: "noise(0.05)]", with: "blur(3)]"))
        let block = try CLI.run(["train", "s.dlg", "--checkpoint", "c.safetensors"], in: dir.path)
        // The caret points at the transform, in the line of the setting.
        let line = try #require(Self.model.split(separator: "\n").first { $0.contains("augment =") })
        let column = line.distance(from: line.startIndex, to: line.range(of: "noise")!.lowerBound) + 1
        expectFailure(block, ["s.dlg:13:\(column): error: train setting 'augment': unknown transform 'blur'; known: flip, shift, zoom, rotate, crop, noise",
                              "\n" + String(repeating: " ", count: column - 1 + 4) + "^~~~~~~\n"])
        #expect(!dir.exists("c.safetensors"))
        try dir.write("s.dlg", Self.model)
        let flag = try CLI.run(["train", "s.dlg", "--augment", "[spin(3)]"], in: dir.path)
        #expect(flag.status == 64 && flag.stderr.contains("unknown transform 'spin'"), "\(flag.stderr)")
        // A geometric transform on data that is not images.
        let xor = try CLI.run(["train", CLI.graph("xor.dlg"), "--augment", "flip(horizontal)", "--checkpoint", "x.safetensors",
                               "--log", "x.jsonl"], in: dir.path)
        expectFailure(xor, ["flip moves pixels, so it needs images, but input 'x' is f32[B,2]"])
        #expect(!dir.exists("x.safetensors") && !dir.exists("x.jsonl"))
        let picture = try CLI.run(["augment", CLI.graph("xor.dlg"), "--augment", "noise(0.1)", "-o", "x.png"], in: dir.path)
        expectFailure(picture, ["dlg augment draws images, but the features input 'x' is f32[B,2]"])
        let flipped = try CLI.run(["augment", CLI.graph("xor.dlg"), "--augment", "flip(horizontal)", "-o", "x.png"], in: dir.path)
        expectFailure(flipped, ["flip moves pixels, so it needs images, but input 'x' is f32[B,2]"])
        let none = try CLI.run(["augment", CLI.graph("xor.dlg"), "-o", "x.png"], in: dir.path)
        expectFailure(none, ["no augmentation to draw"])
        let jpg = try CLI.run(["augment", "s.dlg", "-o", "grid.jpg"], in: dir.path)
        #expect(jpg.status == 64 && jpg.stderr.contains("--output must name a .png or .svg file"))
        #expect(!dir.exists("x.png") && !dir.exists("grid.jpg"))
    }
}
