#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system's message for error number `code`.
func systemMessage(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Reads a whole file into memory. Errors name the path and the system's reason.
///
/// A regular file's size is checked against `MemoryBudget` before anything is
/// allocated; a pipe or socket is read in chunks, each growth checked the same
/// way; a device (`/dev/zero`, a terminal) is refused, since it need not end.
public func readFileBytes(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
        throw DataError(file: path, .io(operation: "open for reading", detail: systemMessage(errno)))
    }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) != 0 {
        throw DataError(file: path, .io(operation: "stat", detail: systemMessage(errno)))
    }
    let type = st.st_mode & S_IFMT
    if type == S_IFDIR {
        throw DataError(file: path, .io(operation: "read", detail: "it is a directory"))
    }
    if type == S_IFCHR || type == S_IFBLK {
        throw DataError(file: path, .io(operation: "read", detail:
            "it is a \(type == S_IFCHR ? "character" : "block") device, not a file (a device need not end)"))
    }
    var result = [UInt8]()
    var expected = 0
    if type == S_IFREG {
        // conversion: off_t is Int64, the same width as Int
        expected = max(0, Int(st.st_size))
        try MemoryBudget.require(expected, for: "reading the file", file: path)
        result.reserveCapacity(expected)
    }
    let chunk = 1 << 20
    var buffer = [UInt8](repeating: 0, count: chunk)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunk) }
        if n < 0 {
            if errno == EINTR { continue }
            throw DataError(file: path, .io(operation: "read", detail: systemMessage(errno)))
        }
        if n == 0 { break }
        if result.count + n > result.capacity {
            // Growing past the stat size (a pipe, or a file that grew): check each doubling.
            let grown = max(result.count * 2, result.count + n, chunk)
            try MemoryBudget.require(grown, for: "reading the file (more than \(formatBytes(result.count)) so far)", file: path)
            result.reserveCapacity(grown)
        }
        result.append(contentsOf: buffer[0..<n])
    }
    return result
}

/// True when `path` names an existing regular file.
func isRegularFile(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
}

/// True when `path` names an existing directory.
func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// Crash-safe replacement of a file's contents.
///
/// `write` creates a temporary file in the target's directory (named
/// `.<name>.tmp-<pid>-<random>`), writes the new contents, `fsync`s it,
/// renames it over the target and `fsync`s the directory. Readers see either
/// the old file or the complete new one, never a mixture. On any failure
/// before the rename — including an error thrown by the content producer —
/// the temporary file is removed and the previous file (if any) is left
/// untouched; the error is rethrown (I/O failures as `DataError` naming the
/// path and the system's reason).
public enum AtomicFile {
    /// Writes `bytes` as the new contents of `path`.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { try $0.write(bytes) }
    }

    /// Writes `text` (UTF-8, no terminator added) as the new contents of `path`.
    public static func write(_ text: String, to path: String) throws {
        try write(to: path) { try $0.write(text) }
    }

    /// Writes the bytes that `produce` hands to the writer as the new
    /// contents of `path`. If `produce` throws, nothing is replaced.
    public static func write(to path: String, _ produce: (Writer) throws -> Void) throws {
        guard !path.isEmpty, !path.hasSuffix("/") else {
            throw DataError(file: path, .io(operation: "write", detail: "the path does not name a file"))
        }
        let (directory, name) = splitPath(path)
        var rng = SystemRandomNumberGenerator()
        let suffix = String(rng.next() & 0xFFFF_FFFF, radix: 16)
        let temporary = (directory == "." && !path.hasPrefix("./") ? "" : directory + "/")
            + ".\(name).tmp-\(getpid())-\(suffix)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw DataError(file: path, .io(
                operation: "create the temporary file \(temporary)", detail: systemMessage(errno)))
        }
        let writer = Writer(fd: fd, path: path)
        var isOpen = true
        do {
            try produce(writer)
            try writer.flush()
            if fsync(fd) != 0 {
                throw DataError(file: path, .io(operation: "fsync the temporary file", detail: systemMessage(errno)))
            }
            isOpen = false
            if close(fd) != 0 {
                throw DataError(file: path, .io(operation: "close the temporary file", detail: systemMessage(errno)))
            }
            if rename(temporary, path) != 0 {
                throw DataError(file: path, .io(operation: "rename \(temporary) over it", detail: systemMessage(errno)))
            }
        } catch {
            if isOpen { close(fd) }
            unlink(temporary)
            throw error
        }
        // The new file is in place; make the rename itself durable.
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            let rc = fsync(dirfd)
            let code = errno
            close(dirfd)
            if rc != 0 && code != EINVAL && code != ENOTSUP {
                throw DataError(file: path, .io(
                    operation: "fsync the directory \(directory) after replacing the file",
                    detail: systemMessage(code)))
            }
        }
    }

    /// Removes the temporary files that writes of `path` left behind when
    /// their process was killed before the rename: files in the target's
    /// directory named `.<name>.tmp-<pid>-<hex>` (this type's pattern, and
    /// nothing else) whose process no longer runs. Returns the paths removed.
    @discardableResult
    public static func removeStaleTemporaries(of path: String) -> [String] {
        guard !path.isEmpty, !path.hasSuffix("/") else { return [] }
        let (directory, name) = splitPath(path)
        let prefix = ".\(name).tmp-"
        guard let dir = opendir(directory) else { return [] }
        var names = [String]()
        while let entry = readdir(dir) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            names.append(entryName)
        }
        closedir(dir)
        var removed = [String]()
        for entry in names where entry.hasPrefix(prefix) {
            let parts = entry.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
            // conversion: parses text (failable)
            guard parts.count == 2, let pid = Int32(parts[0]), pid > 0,
                  !parts[1].isEmpty, parts[1].allSatisfy({ $0.isHexDigit }) else { continue }
            // A write in progress in a live process (not this one) is left alone.
            if pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM) { continue }
            let full = (directory == "." && !path.hasPrefix("./") ? "" : directory + "/") + entry
            if unlink(full) == 0 { removed.append(full) }
        }
        return removed
    }

    /// Receives the contents of an atomic write. Writes are buffered; the
    /// buffer is flushed before the file is synced.
    public final class Writer {
        private let fd: Int32
        private let path: String
        private var buffer: [UInt8] = []
        private let capacity = 1 << 20
        /// Bytes accepted so far.
        public private(set) var bytesWritten = 0

        init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
            buffer.reserveCapacity(capacity)
        }

        /// Appends raw bytes.
        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            bytesWritten += bytes.count
            if buffer.count + bytes.count <= capacity {
                buffer.append(contentsOf: bytes)
                return
            }
            try flush()
            if bytes.count >= capacity {
                try writeAll(bytes)
            } else {
                buffer.append(contentsOf: bytes)
            }
        }

        /// Appends bytes.
        public func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }

        /// Appends the UTF-8 encoding of `text`.
        public func write(_ text: String) throws {
            var text = text
            try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
        }

        func flush() throws {
            if buffer.isEmpty { return }
            try buffer.withUnsafeBytes { try writeAll($0) }
            buffer.removeAll(keepingCapacity: true)
        }

        private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let n = posixWrite(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DataError(file: path, .io(operation: "write", detail: systemMessage(errno)))
                }
                done += n
            }
        }
    }
}

/// `a/b/c.txt` → (`a/b`, `c.txt`); `c.txt` → (`.`, `c.txt`); `/c` → (`/`, `c`).
func splitPath(_ path: String) -> (directory: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let name = String(path[path.index(after: slash)...])
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, name)
}

/// POSIX write(2), named apart from the `write` methods above.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
