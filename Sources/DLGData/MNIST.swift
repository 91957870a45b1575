/// The MNIST family (MNIST, Fashion-MNIST, …) in IDX files.
public enum MNIST {
    /// Which half of the set: the file prefix is `train` or `t10k`.
    public enum Split: String, Sendable, CaseIterable {
        case train = "train"
        case test = "t10k"
    }

    /// The image and label files for `split` in `directory`. For each of
    /// `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte` the
    /// plain name, then `.gz`, then the variants with `.idx3-ubyte` /
    /// `.idx1-ubyte` after a dot are tried. Throws listing the names tried
    /// when one is missing.
    public static func files(in directory: String, split: Split) throws -> (images: String, labels: String) {
        func find(_ kind: String, _ idx: String) throws -> String {
            let p = split.rawValue
            let names = ["\(p)-\(kind)-\(idx)-ubyte", "\(p)-\(kind)-\(idx)-ubyte.gz",
                         "\(p)-\(kind).\(idx)-ubyte", "\(p)-\(kind).\(idx)-ubyte.gz"]
            let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
            for name in names where isRegularFile(dir + "/" + name) {
                return dir + "/" + name
            }
            throw DataError(file: directory, .io(operation: "find the MNIST \(split) \(kind)",
                                                 detail: "none of \(names.joined(separator: ", ")) exists"))
        }
        return (try find("images", "idx3"), try find("labels", "idx1"))
    }

    /// Loads `split` from `directory`: features f32 `[N, 1, H, W]` (pixel /
    /// 255, in [0, 1]) from u8 images `[N, H, W]` (28×28 for MNIST), labels
    /// i32 `[N]` from u8 labels, `classCount` 10 (or the largest label + 1
    /// if that is more). Throws when the files are missing, are not u8 IDX
    /// of those ranks, or disagree on N.
    public static func load(directory: String, split: Split = .test) throws -> Dataset {
        let (imagePath, labelPath) = try files(in: directory, split: split)
        let images = try IDX.read(imagePath)
        let labels = try IDX.read(labelPath)
        guard images.elementType == .u8, images.rank == 3 else {
            throw DataError(file: imagePath, .invalid("expected u8 images [N, H, W], found \(images)"))
        }
        guard labels.elementType == .u8, labels.rank == 1 else {
            throw DataError(file: labelPath, .invalid("expected u8 labels [N], found \(labels)"))
        }
        guard labels.shape[0] == images.shape[0] else {
            throw DataError(file: labelPath, .shapeMismatch(what: "the label count (one per image in \(imagePath))",
                                                            expected: [images.shape[0]], found: labels.shape))
        }
        guard images.shape[0] > 0 else {
            throw DataError(file: imagePath, .emptyDataset(detail: "the image file holds no images"))
        }
        let n = images.shape[0], h = images.shape[1], w = images.shape[2]
        try MemoryBudget.require(images.count * 4, for: "the images as f32 \(shapeText([n, 1, h, w]))", file: imagePath)
        let pixels = NDArray(unchecked: [n, 1, h, w], .f32(images.toFloats().map { $0 / 255 }))
        let y = labels.values(as: UInt8.self) ?? []
        // conversion: widens a UInt8
        let classes = max(10, Int(y.max() ?? 0) + 1)
        return try Dataset(name: "mnist-\(split.rawValue)", features: pixels,
                           // conversion: widens a UInt8
                           labels: NDArray(unchecked: [n], .i32(y.map { Int32($0) })), classCount: classes)
    }
}
