import DLGData
import Foundation

/// A picture of augmentation, to check it by eye: one row per example, its original image
/// first, then the versions training draws for it in its first epochs.
public struct AugmentGrid: Sendable {
    public var width: Int
    public var height: Int
    /// 1 (gray) or 3 (RGB) bytes per pixel.
    public var channels: Int
    public var pixels: [UInt8]
    /// Where the columns start (x of the original column, then of each augmented one), for labels.
    public var columnStarts: [Int]
    public var cellWidth: Int
    public var top: Int

    /// `examples` are rows of the augmentation's source; `columns` augmented versions of each,
    /// from epochs 0, 1, …; every pixel drawn as a `scale` × `scale` square. Values are shown
    /// from min(0, smallest original value) (black) to max(1, largest) (white); three channels
    /// as RGB, any other count by the first channel in gray.
    public static func render(_ a: Augmentation, examples: [Int], columns: Int, scale: Int, top: Int = 0) -> AugmentGrid {
        let g = a.augmenter.geometry
        let rgb = g.channels == 3
        let channels = rgb ? 3 : 1
        let border = 4, gap = 2, groupGap = 10
        let cw = g.width * scale, ch = g.height * scale
        let width = 2 * border + cw + groupGap + columns * cw + max(0, columns - 1) * gap
        let height = top + 2 * border + examples.count * ch + max(0, examples.count - 1) * gap
        var pixels = [UInt8](repeating: 96, count: width * height * channels)
        var starts = [border]
        for k in 0..<columns { starts.append(border + cw + groupGap + k * (cw + gap)) }
        let per = g.count
        var lo: Float = 0, hi: Float = 1
        for e in examples {
            for v in a.source[(e * per)..<((e + 1) * per)] {
                lo = min(lo, v)
                hi = max(hi, v)
            }
        }
        let range = hi - lo
        var cell = [Float](repeating: 0, count: per)
        for (row, e) in examples.enumerated() {
            let y0 = top + border + row * (ch + gap)
            for col in 0...columns {
                a.source.withUnsafeBufferPointer { src in
                    cell.withUnsafeMutableBufferPointer { dst in
                        if col == 0 {
                            dst.baseAddress!.update(from: src.baseAddress! + e * per, count: per)
                        } else {
                            a.augmenter.augment(epoch: col - 1, example: e, src.baseAddress! + e * per, dst.baseAddress!)
                        }
                    }
                }
                let x0 = starts[col]
                for y in 0..<g.height {
                    for x in 0..<g.width {
                        for c in 0..<channels {
                            let v = cell[c * g.height * g.width + y * g.width + x]
                            let byte = UInt8(max(0, min(255, ((v - lo) / range * 255).rounded())))
                            for dy in 0..<scale {
                                let base = ((y0 + y * scale + dy) * width + x0 + x * scale) * channels + c
                                for dx in 0..<scale { pixels[base + dx * channels] = byte }
                            }
                        }
                    }
                }
            }
        }
        return AugmentGrid(width: width, height: height, channels: channels, pixels: pixels, columnStarts: starts,
                           cellWidth: cw, top: top)
    }

    public func png() throws -> [UInt8] { try PNG.encode(width: width, height: height, channels: channels, pixels: pixels) }

    /// A standalone SVG: the grid as an embedded PNG under a caption naming the columns.
    public func svg(title: String, transforms: String) throws -> String {
        let data = Data(try png()).base64EncodedString()
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        let caption = 40
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height + caption)\" "
        s += "viewBox=\"0 0 \(width) \(height + caption)\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"4\" y=\"14\">\(esc(title)): \(esc(transforms))</text>\n"
        s += "<text x=\"\(columnStarts[0])\" y=\"34\">original</text>\n"
        if columnStarts.count > 1 {
            s += "<text x=\"\(columnStarts[1])\" y=\"34\">augmented, epochs 1…\(columnStarts.count - 1)</text>\n"
        }
        s += "<image x=\"0\" y=\"\(caption)\" width=\"\(width)\" height=\"\(height)\" style=\"image-rendering:pixelated\" "
        s += "href=\"data:image/png;base64,\(data)\"/>\n</svg>\n"
        return s
    }
}
