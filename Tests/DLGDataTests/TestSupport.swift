import Testing
@testable import DLGData
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory under /tmp, removed (with its files) when released.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/dlgdata-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = made.map { String(cString: $0) } ?? "/tmp"
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Names in the directory, except "." and "..".
    func entries() -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names = [String]()
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    deinit {
        removeTree(path)
    }
}

private func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) == S_IFDIR {
        if let dir = opendir(path) {
            var names = [String]()
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for n in names { removeTree(path + "/" + n) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Writes bytes to a file directly (not through the library's writer).
func writeRaw(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "test setup: cannot create \(path)")
    bytes.withUnsafeBytes { p in
        var done = 0
        while done < p.count {
            let n = write(fd, p.baseAddress! + done, p.count - done)
            precondition(n > 0, "test setup: cannot write \(path)")
            done += n
        }
    }
    close(fd)
}

/// CRC-32 by the bit-at-a-time definition: reflected polynomial 0xEDB88320,
/// initial value and final XOR 0xFFFFFFFF.
func naiveCRC32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
        }
    }
    return crc ^ 0xFFFF_FFFF
}

func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8((v >> (8 * UInt64($0))) & 0xFF) } }
func be32(_ v: UInt32) -> [UInt8] { (0..<4).reversed().map { UInt8((v >> (8 * $0)) & 0xFF) } }

/// A gzip member built by hand (RFC 1952): a 10-byte header (1F 8B, method
/// 8, no flags, mtime 0, xfl 0, OS 255), the data in uncompressed deflate
/// blocks (RFC 1951 §3.2.4: header byte BFINAL|BTYPE=00, LEN, ~LEN, bytes),
/// then CRC-32 and the length, little-endian.
func handMadeGzip(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF]
    var start = 0
    repeat {
        let n = min(65535, data.count - start)
        let final: UInt8 = start + n == data.count ? 1 : 0
        out.append(final)
        out += le16(n) + le16(~n & 0xFFFF)
        out += data[start..<(start + n)]
        start += n
    } while start < data.count
    out += le32(naiveCRC32(data)) + le32(UInt32(data.count))
    return out
}

/// Expects `body` to throw a `DataError` whose description contains every
/// one of `fragments`; returns the error.
@discardableResult
func expectDataError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) -> DataError? {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
        return nil
    } catch let error as DataError {
        for f in fragments {
            #expect(error.description.contains(f), "\"\(error.description)\" lacks \"\(f)\"", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected a DataError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
