/// CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`,
/// `test_batch.bin`).
///
/// Each record is 3073 bytes: one label byte (0–9), then 3072 pixel bytes —
/// the 1024 red values of the 32×32 image row by row, then the green, then
/// the blue plane — which is exactly the NCHW layout `[3, 32, 32]`.
public enum CIFAR10 {
    /// Class names by label.
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer",
                                    "dog", "frog", "horse", "ship", "truck"]
    static let recordSize = 1 + 3 * 32 * 32

    /// Decodes one batch file's bytes: images u8 `[N, 3, 32, 32]`, labels
    /// i32 `[N]`. Throws when the size is not a whole number of records
    /// (naming the incomplete record's offset), when the data is empty, or
    /// for a label above 9.
    public static func decodeBatch(_ bytes: [UInt8], file: String) throws -> (images: NDArray, labels: NDArray) {
        guard !bytes.isEmpty else {
            throw DataError(file: file, .emptyDataset(detail: "the CIFAR-10 batch file is empty"))
        }
        let n = bytes.count / recordSize
        let rest = bytes.count % recordSize
        if rest != 0 {
            throw DataError(file: file, .truncated(what: "CIFAR-10 record \(n)", offset: n * recordSize,
                                                   needed: recordSize, available: rest))
        }
        var pixels = [UInt8]()
        pixels.reserveCapacity(n * (recordSize - 1))
        var labels = [Int32]()
        labels.reserveCapacity(n)
        for i in 0..<n {
            let start = i * recordSize
            let label = bytes[start]
            guard label <= 9 else {
                throw DataError(file: file, .invalid(
                    "record \(i) (byte offset \(start)) has label \(label); CIFAR-10 labels are 0–9"))
            }
            // conversion: widens a UInt8 (checked ≤ 9 above)
            labels.append(Int32(label))
            pixels.append(contentsOf: bytes[(start + 1)..<(start + recordSize)])
        }
        return (NDArray(unchecked: [n, 3, 32, 32], .u8(pixels)), NDArray(unchecked: [n], .i32(labels)))
    }

    /// Reads one batch file (see `decodeBatch`).
    public static func readBatch(_ path: String) throws -> (images: NDArray, labels: NDArray) {
        try decodeBatch(try readFileBytes(path), file: path)
    }

    /// Reads and concatenates batch files into a dataset: features f32
    /// `[N, 3, 32, 32]` scaled to [0, 1] (pixel / 255), labels i32 `[N]`,
    /// `classCount` 10.
    public static func load(files: [String], name: String = "cifar10") throws -> Dataset {
        guard !files.isEmpty else {
            throw DataError(file: name, .emptyDataset(detail: "no CIFAR-10 batch files given"))
        }
        var images = [NDArray](), labels = [NDArray]()
        for f in files {
            let (x, y) = try readBatch(f)
            images.append(x)
            labels.append(y)
        }
        let total = images.reduce(0) { $0 + $1.count }
        try MemoryBudget.require(total * 5, for: "the images of \(files.count) CIFAR-10 batch files as f32", file: files[0])
        let pixels = try NDArray.concatenateRows(images)
        let scaled = NDArray(unchecked: pixels.shape, .f32(pixels.toFloats().map { $0 / 255 }))
        return try Dataset(name: name, features: scaled, labels: try NDArray.concatenateRows(labels), classCount: 10)
    }
}
