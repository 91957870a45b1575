/// NumPy's `.npz` format: a ZIP archive of `.npy` files, one per array,
/// named `<name>.npy`.
///
/// Reading parses the ZIP central directory (ZIP64 records included),
/// accepts entries stored (method 0) or deflated (method 8), checks each
/// entry's CRC-32 and size, and decodes it as `.npy`. Array names are the
/// entry names without the `.npy` suffix, in central-directory order.
public enum NPZ {
    static let localSignature: UInt32 = 0x0403_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let endSignature: UInt32 = 0x0605_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50

    /// Reads every array of a `.npz` file, in archive order.
    public static func read(_ path: String) throws -> [NamedArray] {
        try decode(try readFileBytes(path), file: path)
    }

    /// Decodes `.npz` bytes; `file` names the source in errors. Errors about
    /// one entry name it as "`file` (entry 'x.npy')".
    public static func decode(_ bytes: [UInt8], file: String) throws -> [NamedArray] {
        let zipMagic: [UInt8] = [0x50, 0x4B]
        guard bytes.starts(with: zipMagic) else {
            throw DataError(file: file, .badMagic(format: "npz (ZIP archive)", expected: [0x50, 0x4B, 0x03, 0x04],
                                                  found: Array(bytes.prefix(4))))
        }
        // The end-of-central-directory record is 22 bytes plus a comment of
        // at most 65535 bytes, at the end of the archive.
        var eocd = -1
        if bytes.count >= 22 {
            let lowest = max(0, bytes.count - 22 - 65535)
            var p = bytes.count - 22
            while p >= lowest {
                if readUnsigned(bytes, at: p, size: 4, bigEndian: false) == UInt64(endSignature) {
                    eocd = p
                    break
                }
                p -= 1
            }
        }
        guard eocd >= 0 else {
            throw DataError(file: file, .corrupt(format: "ZIP", detail: "no end-of-central-directory record (the archive is incomplete)"))
        }
        var r = ByteReader(bytes, file: file, offset: eocd + 4)
        _ = try r.u16LE("ZIP disk number")
        _ = try r.u16LE("ZIP central directory disk")
        _ = try r.u16LE("ZIP entries on this disk")
        var entryCount = UInt64(try r.u16LE("ZIP entry count"))
        var directorySize = UInt64(try r.u32LE("ZIP central directory size"))
        var directoryOffset = UInt64(try r.u32LE("ZIP central directory offset"))
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the end record points at the ZIP64 end record.
            guard eocd >= 20, readUnsigned(bytes, at: eocd - 20, size: 4, bigEndian: false) == UInt64(zip64LocatorSignature) else {
                throw DataError(file: file, .corrupt(format: "ZIP", detail: "ZIP64 fields without a ZIP64 locator"))
            }
            var l = ByteReader(bytes, file: file, offset: eocd - 20 + 8)
            let z64 = try l.u64LE("ZIP64 end record offset")
            guard z64 <= UInt64(bytes.count) else {
                throw DataError(file: file, .corrupt(format: "ZIP", detail: "ZIP64 end record offset \(z64) is beyond the end of the file"))
            }
            var z = ByteReader(bytes, file: file, offset: Int(z64))
            guard try z.u32LE("ZIP64 end record signature") == zip64EndSignature else {
                throw DataError(file: file, .corrupt(format: "ZIP", detail: "no ZIP64 end record at byte offset \(z64)"))
            }
            try z.skip(8 + 2 + 2 + 4 + 4 + 8, "ZIP64 end record")
            entryCount = try z.u64LE("ZIP64 entry count")
            directorySize = try z.u64LE("ZIP64 central directory size")
            directoryOffset = try z.u64LE("ZIP64 central directory offset")
        }
        guard directoryOffset <= UInt64(bytes.count), directorySize <= UInt64(bytes.count) - directoryOffset else {
            throw DataError(file: file, .corrupt(format: "ZIP", detail:
                "the central directory (\(directorySize) bytes at byte offset \(directoryOffset)) lies outside the \(bytes.count)-byte file"))
        }
        guard entryCount <= directorySize / 46 else {
            throw DataError(file: file, .corrupt(format: "ZIP", detail:
                "\(entryCount) entries cannot fit in a \(directorySize)-byte central directory"))
        }

        var c = ByteReader(bytes, file: file, offset: Int(directoryOffset))
        var result = [NamedArray]()
        var seen = Set<String>()
        for index in 0..<Int(entryCount) {
            let at = c.offset
            guard try c.u32LE("ZIP central directory entry \(index)") == centralSignature else {
                throw DataError(file: file, .corrupt(format: "ZIP", detail: "bad central directory entry signature at byte offset \(at)"))
            }
            try c.skip(4, "ZIP central directory entry")          // versions
            let flags = try c.u16LE("ZIP entry flags")
            let method = try c.u16LE("ZIP entry compression method")
            try c.skip(4, "ZIP entry time and date")
            let crc = try c.u32LE("ZIP entry CRC-32")
            var compressedSize = UInt64(try c.u32LE("ZIP entry compressed size"))
            var size = UInt64(try c.u32LE("ZIP entry size"))
            let nameLength = Int(try c.u16LE("ZIP entry name length"))
            let extraLength = Int(try c.u16LE("ZIP entry extra length"))
            let commentLength = Int(try c.u16LE("ZIP entry comment length"))
            try c.skip(2 + 2 + 4, "ZIP entry attributes")
            var localOffset = UInt64(try c.u32LE("ZIP entry offset"))
            let nameRange = try c.take(nameLength, "ZIP entry name")
            let name = String(decoding: bytes[nameRange], as: UTF8.self)
            let extraRange = try c.take(extraLength, "ZIP entry extra field")
            try c.skip(commentLength, "ZIP entry comment")

            // ZIP64 extended information: the 64-bit values of the fields
            // that hold 0xFFFFFFFF, in the order size, compressed size, offset.
            var e = ByteReader(bytes, file: file, offset: extraRange.lowerBound)
            while e.offset + 4 <= extraRange.upperBound {
                let id = try e.u16LE("ZIP extra field id")
                let length = Int(try e.u16LE("ZIP extra field length"))
                let end = e.offset + length
                guard end <= extraRange.upperBound else { break }
                if id == 0x0001 {
                    if size == 0xFFFF_FFFF, e.offset + 8 <= end { size = try e.u64LE("ZIP64 size") }
                    if compressedSize == 0xFFFF_FFFF, e.offset + 8 <= end { compressedSize = try e.u64LE("ZIP64 compressed size") }
                    if localOffset == 0xFFFF_FFFF, e.offset + 8 <= end { localOffset = try e.u64LE("ZIP64 offset") }
                }
                try e.seek(to: end, "ZIP extra field")
            }

            if name.hasSuffix("/") { continue }  // a directory entry
            let entryFile = "\(file) (entry '\(name)')"
            if flags & 1 != 0 {
                throw DataError(file: entryFile, .unsupported("encrypted ZIP entries"))
            }
            guard method == 0 || method == 8 else {
                throw DataError(file: entryFile, .unsupported("ZIP compression method \(method) (only 0, stored, and 8, deflated)"))
            }
            guard localOffset <= UInt64(bytes.count) else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail: "local header offset \(localOffset) is beyond the end of the file"))
            }
            var local = ByteReader(bytes, file: entryFile, offset: Int(localOffset))
            guard try local.u32LE("ZIP local header") == localSignature else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail: "no local header at byte offset \(localOffset)"))
            }
            try local.skip(22, "ZIP local header")
            let localNameLength = Int(try local.u16LE("ZIP local name length"))
            let localExtraLength = Int(try local.u16LE("ZIP local extra length"))
            try local.skip(localNameLength + localExtraLength, "ZIP local header")
            guard compressedSize <= UInt64(Int.max) else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail: "compressed size \(compressedSize) is too large"))
            }
            let dataRange = try local.take(Int(compressedSize), "ZIP entry data")
            let content: [UInt8]
            if method == 0 {
                content = Array(bytes[dataRange])
            } else {
                guard size <= UInt64(Int.max) else {
                    throw DataError(file: entryFile, .corrupt(format: "ZIP", detail: "size \(size) is too large"))
                }
                content = try bytes[dataRange].withUnsafeBytes {
                    try RawDeflate.decompress($0, expectedSize: Int(min(size, 1 << 30)), file: entryFile)
                }
            }
            guard UInt64(content.count) == size else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail:
                    "the entry holds \(content.count) bytes but the directory says \(size)"))
            }
            let actualCRC = CRC32.checksum(content)
            guard actualCRC == crc else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail:
                    "CRC-32 mismatch: the directory says \(hex32(crc)), the data gives \(hex32(actualCRC))"))
            }
            let arrayName = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            guard seen.insert(arrayName).inserted else {
                throw DataError(file: entryFile, .invalid("a second array named '\(arrayName)'"))
            }
            result.append(NamedArray(arrayName, try NPY.decode(content, file: entryFile)))
        }
        return result
    }

    /// Encodes arrays as a `.npz` archive: entries `<name>.npy` in the given
    /// order, stored (method 0) or, with `compressed`, deflated (method 8),
    /// as `numpy.savez` / `numpy.savez_compressed` do. Throws for an empty
    /// or repeated name, more than 65535 arrays, or an archive of 4 GiB or
    /// more (ZIP64 is not written).
    public static func encode(_ arrays: [NamedArray], compressed: Bool = false) throws -> [UInt8] {
        var seen = Set<String>()
        for a in arrays {
            guard !a.name.isEmpty, seen.insert(a.name).inserted else {
                throw DataError(file: "npz", .invalid("array name '\(a.name)' is empty or repeated"))
            }
        }
        guard arrays.count <= 0xFFFF else {
            throw DataError(file: "npz", .unsupported("more than 65535 arrays in one archive"))
        }
        var out = [UInt8]()
        var directory = [UInt8]()
        let dosTime: UInt16 = 0, dosDate: UInt16 = (0 << 9) | (1 << 5) | 1   // 1980-01-01 00:00
        func checkedU32(_ v: Int, _ what: String) throws -> UInt32 {
            guard let x = UInt32(exactly: v), x != 0xFFFF_FFFF else {
                throw DataError(file: "npz", .unsupported("\(what) of \(v) bytes needs ZIP64"))
            }
            return x
        }
        for a in arrays {
            let name = Array((a.name + ".npy").utf8)
            let content = NPY.encode(a.array)
            let crc = CRC32.checksum(content)
            let data = compressed ? try content.withUnsafeBytes { try RawDeflate.compress($0) } : content
            let method: UInt16 = compressed ? 8 : 0
            let flags: UInt16 = name.allSatisfy { $0 < 0x80 } ? 0 : 0x0800   // bit 11: UTF-8 name
            let offset = try checkedU32(out.count, "archive")
            let size = try checkedU32(content.count, "entry")
            let compressedSize = try checkedU32(data.count, "entry")

            out.appendLE(localSignature)
            out.appendLE(UInt16(20))              // version needed: 2.0
            out.appendLE(flags)
            out.appendLE(method)
            out.appendLE(dosTime)
            out.appendLE(dosDate)
            out.appendLE(crc)
            out.appendLE(compressedSize)
            out.appendLE(size)
            out.appendLE(UInt16(name.count))
            out.appendLE(UInt16(0))               // extra length
            out.append(contentsOf: name)
            out.append(contentsOf: data)

            directory.appendLE(centralSignature)
            directory.appendLE(UInt16(3 << 8 | 20))   // made by: Unix, 2.0
            directory.appendLE(UInt16(20))
            directory.appendLE(flags)
            directory.appendLE(method)
            directory.appendLE(dosTime)
            directory.appendLE(dosDate)
            directory.appendLE(crc)
            directory.appendLE(compressedSize)
            directory.appendLE(size)
            directory.appendLE(UInt16(name.count))
            directory.appendLE(UInt16(0))         // extra length
            directory.appendLE(UInt16(0))         // comment length
            directory.appendLE(UInt16(0))         // disk
            directory.appendLE(UInt16(0))         // internal attributes
            directory.appendLE(UInt32(0o100644) << 16)  // external: regular file, rw-r--r--
            directory.appendLE(offset)
            directory.append(contentsOf: name)
        }
        let directoryOffset = try checkedU32(out.count, "archive")
        let directorySize = try checkedU32(directory.count, "central directory")
        out.append(contentsOf: directory)
        out.appendLE(endSignature)
        out.appendLE(UInt16(0))
        out.appendLE(UInt16(0))
        out.appendLE(UInt16(arrays.count))
        out.appendLE(UInt16(arrays.count))
        out.appendLE(directorySize)
        out.appendLE(directoryOffset)
        out.appendLE(UInt16(0))                   // comment length
        return out
    }

    /// Writes arrays as a `.npz` file, atomically (see `encode`).
    public static func write(_ arrays: [NamedArray], to path: String, compressed: Bool = false) throws {
        try AtomicFile.write(try encode(arrays, compressed: compressed), to: path)
    }
}

func hex32(_ v: UInt32) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: 8 - s.count) + s
}
