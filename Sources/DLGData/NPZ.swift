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
                // conversion: widens a UInt32
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
        // Where the central directory must end: at the (ZIP64) end record.
        // conversion: a non-negative offset
        var directoryEnd = UInt64(eocd)
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the end record points at the ZIP64 end record.
            // conversion: widens a UInt32
            guard eocd >= 20, readUnsigned(bytes, at: eocd - 20, size: 4, bigEndian: false) == UInt64(zip64LocatorSignature) else {
                throw DataError(file: file, .corrupt(format: "ZIP", detail: "ZIP64 fields without a ZIP64 locator"))
            }
            var l = ByteReader(bytes, file: file, offset: eocd - 20 + 8)
            let z64 = try l.u64LE("ZIP64 end record offset")
            // conversion: eocd ≥ 20 checked above
            guard z64 <= UInt64(eocd - 20) else {
                throw DataError(file: file, .corrupt(format: "ZIP", detail: "ZIP64 end record offset \(z64) is beyond the ZIP64 locator"))
            }
            // conversion: checked within the file above
            var z = ByteReader(bytes, file: file, offset: Int(z64))
            guard try z.u32LE("ZIP64 end record signature") == zip64EndSignature else {
                throw DataError(file: file, .corrupt(format: "ZIP", detail: "no ZIP64 end record at byte offset \(z64)"))
            }
            try z.skip(8 + 2 + 2 + 4 + 4 + 8, "ZIP64 end record")
            entryCount = try z.u64LE("ZIP64 entry count")
            directorySize = try z.u64LE("ZIP64 central directory size")
            directoryOffset = try z.u64LE("ZIP64 central directory offset")
            directoryEnd = z64
        }
        guard directoryOffset <= directoryEnd, directorySize == directoryEnd - directoryOffset else {
            throw DataError(file: file, .corrupt(format: "ZIP", detail:
                "the central directory (\(directorySize) bytes at byte offset \(directoryOffset)) does not end where "
                + "the end record begins (byte offset \(directoryEnd))"))
        }
        guard entryCount <= directorySize / 46 else {
            throw DataError(file: file, .corrupt(format: "ZIP", detail:
                "\(entryCount) entries cannot fit in a \(directorySize)-byte central directory"))
        }

        // Every entry of the directory, read as Python's zipfile reads them: up
        // to the directory's size, each with a valid signature and extra field.
        struct Entry {
            var index: Int, name: String, nameBytes: [UInt8], flags: UInt16, method: UInt16, crc: UInt32
            var compressedSize: UInt64, size: UInt64, localOffset: UInt64
        }
        // conversion: checked within the file above
        var c = ByteReader(bytes, file: file, offset: Int(directoryOffset))
        var entries = [Entry]()
        // conversion: directoryEnd is at most the file size
        while c.offset < Int(directoryEnd) {
            let index = entries.count
            let at = c.offset
            guard try c.u32LE("ZIP central directory entry \(index)") == centralSignature else {
                throw DataError(file: file, .corrupt(format: "ZIP", detail: "bad central directory entry signature at byte offset \(at)"))
            }
            _ = try c.u16LE("ZIP entry version made by")
            let needed = try c.u16LE("ZIP entry version needed")
            // Python's zipfile reads versions up to 6.3 (ZIP64, AES and LZMA are 4.5–6.3).
            guard needed & 0xFF <= 63 else {
                throw DataError(file: file, .unsupported(
                    "ZIP entry \(index) needs version \((needed & 0xFF) / 10).\((needed & 0xFF) % 10) to extract (at most 6.3 is read)"))
            }
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
            let nameBytes = Array(bytes[nameRange])
            let extraRange = try c.take(extraLength, "ZIP entry extra field")
            try c.skip(commentLength, "ZIP entry comment")
            // conversion: directoryEnd is at most the file size
            guard c.offset <= Int(directoryEnd) else {
                throw DataError(file: file, .corrupt(format: "ZIP", detail:
                    "central directory entry \(index) runs past the end of the directory (byte offset \(directoryEnd))"))
            }
            var name = String(decoding: nameBytes, as: UTF8.self)
            if flags & 0x0800 != 0 {
                guard let valid = String(validating: nameBytes, as: UTF8.self) else {
                    throw DataError(file: file, .corrupt(format: "ZIP", detail: "entry \(index)'s name is marked UTF-8 but is not"))
                }
                name = valid
            }
            let entryFile = "\(file) (entry '\(name)')"

            // Extra fields: id, length, data; a length past the field's end is
            // corrupt. ZIP64 extended information holds the 64-bit values of
            // the fields that hold 0xFFFFFFFF, in the order size, compressed
            // size, offset.
            var e = ByteReader(bytes, file: entryFile, offset: extraRange.lowerBound)
            while e.offset + 4 <= extraRange.upperBound {
                let id = try e.u16LE("ZIP extra field id")
                let length = Int(try e.u16LE("ZIP extra field length"))
                let end = e.offset + length
                guard end <= extraRange.upperBound else {
                    throw DataError(file: entryFile, .corrupt(format: "ZIP", detail:
                        // conversion: the two bytes of a UInt16
                        "extra field \(hexBytes([UInt8(id >> 8), UInt8(id & 0xFF)])) of \(length) bytes runs past the end of the extra data"))
                }
                if id == 0x0001 {
                    func next(_ what: String) throws -> UInt64 {
                        guard e.offset + 8 <= end else {
                            throw DataError(file: entryFile, .corrupt(format: "ZIP", detail: "the ZIP64 extra field lacks the \(what)"))
                        }
                        return try e.u64LE(what)
                    }
                    if size == 0xFFFF_FFFF { size = try next("ZIP64 size") }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try next("ZIP64 compressed size") }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next("ZIP64 offset") }
                }
                try e.seek(to: end, "ZIP extra field")
            }
            entries.append(Entry(index: index, name: name, nameBytes: nameBytes, flags: flags, method: method, crc: crc,
                                 compressedSize: compressedSize, size: size, localOffset: localOffset))
        }
        // conversion: a count is non-negative
        guard UInt64(entries.count) == entryCount else {
            throw DataError(file: file, .corrupt(format: "ZIP", detail:
                "the end record counts \(entryCount) entries but the central directory holds \(entries.count)"))
        }

        // Each entry's local header and data lie before the next entry's and
        // before the central directory: no overlap (a ZIP bomb's trick).
        let byOffset = entries.sorted { $0.localOffset < $1.localOffset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.localOffset == b.localOffset {
            throw DataError(file: file, .corrupt(format: "ZIP", detail:
                "entries '\(a.name)' and '\(b.name)' share the local header at byte offset \(a.localOffset)"))
        }
        var result = [NamedArray]()
        var seen = Set<String>()
        for entry in entries {
            let name = entry.name
            let entryFile = "\(file) (entry '\(name)')"
            if entry.flags & 0x0001 != 0 {
                throw DataError(file: entryFile, .unsupported("encrypted ZIP entries"))
            }
            if entry.flags & 0x0060 != 0 {
                throw DataError(file: entryFile, .unsupported("ZIP entries with patched data or strong encryption (flags \(entry.flags))"))
            }
            guard entry.method == 0 || entry.method == 8 else {
                throw DataError(file: entryFile, .unsupported("ZIP compression method \(entry.method) (only 0, stored, and 8, deflated)"))
            }
            guard entry.localOffset < directoryOffset else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail:
                    "local header offset \(entry.localOffset) is not before the central directory (byte offset \(directoryOffset))"))
            }
            // conversion: checked below the directory offset above
            var local = ByteReader(bytes, file: entryFile, offset: Int(entry.localOffset))
            guard try local.u32LE("ZIP local header") == localSignature else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail: "no local header at byte offset \(entry.localOffset)"))
            }
            try local.skip(22, "ZIP local header")
            let localNameLength = Int(try local.u16LE("ZIP local name length"))
            let localExtraLength = Int(try local.u16LE("ZIP local extra length"))
            let localName = try local.take(localNameLength, "ZIP local name")
            guard Array(bytes[localName]) == entry.nameBytes else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail:
                    "the local header names '\(String(decoding: bytes[localName], as: UTF8.self))', the directory '\(name)'"))
            }
            try local.skip(localExtraLength, "ZIP local extra field")
            // conversion: widens a non-negative offset
            guard entry.compressedSize <= UInt64(directoryOffset) else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail: "compressed size \(entry.compressedSize) is larger than the archive"))
            }
            // conversion: checked below the directory offset above
            let dataRange = try local.take(Int(entry.compressedSize), "ZIP entry data")
            // conversion: offsets checked below the directory offset, itself within the file
            let limit = byOffset.first(where: { $0.localOffset > entry.localOffset }).map { Int($0.localOffset) } ?? Int(directoryOffset)
            guard dataRange.upperBound <= limit else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail:
                    "its data (byte offsets \(dataRange.lowerBound)..<\(dataRange.upperBound)) overlaps the next entry or the central directory at byte offset \(limit)"))
            }
            if name.hasSuffix("/") { continue }  // a directory entry
            let content: [UInt8]
            if entry.method == 0 {
                guard entry.size == entry.compressedSize else {
                    throw DataError(file: entryFile, .corrupt(format: "ZIP", detail:
                        "a stored entry of \(entry.compressedSize) bytes whose directory size is \(entry.size)"))
                }
                content = Array(bytes[dataRange])
            } else {
                guard entry.size <= UInt64(Int.max / 2) else {
                    throw DataError(file: entryFile, .corrupt(format: "ZIP", detail: "size \(entry.size) is too large"))
                }
                // The size in the directory is checked before inflating: an
                // entry that claims (or inflates to) more than memory allows
                // is refused without being decompressed.
                // conversion: entry.size checked ≤ Int.max / 2 above
                try MemoryBudget.require(2 * Int(entry.size), for: "the decompressed entry (\(entry.size) bytes) and its array",
                                         file: entryFile)
                content = try bytes[dataRange].withUnsafeBytes {
                    // conversion: entry.size checked ≤ Int.max / 2 above
                    try RawDeflate.decompress($0, expectedSize: Int(entry.size), file: entryFile)
                }
            }
            // conversion: a count is non-negative
            guard UInt64(content.count) == entry.size else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail:
                    "the entry holds \(content.count) bytes but the directory says \(entry.size)"))
            }
            let actualCRC = CRC32.checksum(content)
            guard actualCRC == entry.crc else {
                throw DataError(file: entryFile, .corrupt(format: "ZIP", detail:
                    "CRC-32 mismatch: the directory says \(hex32(entry.crc)), the data gives \(hex32(actualCRC))"))
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
            guard !a.name.isEmpty, a.name.utf8.count <= 0xFFFF - 4, seen.insert(a.name).inserted else {
                throw DataError(file: "npz", .invalid("array name '\(a.name.prefix(40))' is empty, repeated or longer than 65531 bytes"))
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
            // conversion: names checked shorter than 65532 bytes above
            out.appendLE(UInt16(name.count))
            out.appendLE(UInt16(0))               // extra length
            out.append(contentsOf: name)
            out.append(contentsOf: data)

            directory.appendLE(centralSignature)
            // conversion: a constant, 788
            directory.appendLE(UInt16(3 << 8 | 20))   // made by: Unix, 2.0
            directory.appendLE(UInt16(20))
            directory.appendLE(flags)
            directory.appendLE(method)
            directory.appendLE(dosTime)
            directory.appendLE(dosDate)
            directory.appendLE(crc)
            directory.appendLE(compressedSize)
            directory.appendLE(size)
            // conversion: names checked shorter than 65532 bytes above
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
        // conversion: at most 65535 arrays, checked above
        out.appendLE(UInt16(arrays.count))
        // conversion: at most 65535 arrays, checked above
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
