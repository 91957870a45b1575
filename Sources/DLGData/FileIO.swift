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
    if (st.st_mode & S_IFMT) == S_IFDIR {
        throw DataError(file: path, .io(operation: "read", detail: "it is a directory"))
    }
    var result = [UInt8]()
    result.reserveCapacity(max(0, Int(st.st_size)))
    let chunk = 1 << 20
    var buffer = [UInt8](repeating: 0, count: chunk)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunk) }
        if n < 0 {
            if errno == EINTR { continue }
            throw DataError(file: path, .io(operation: "read", detail: systemMessage(errno)))
        }
        if n == 0 { break }
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
