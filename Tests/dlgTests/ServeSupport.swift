import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// A `dlg serve` process listening on a free loopback port (it binds port 0
/// and prints the one it got), and an HTTP client for it.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let scratch: Scratch
    let session: URLSession

    /// Starts `dlg serve ARGUMENTS --port 0` and waits until it listens.
    init(_ arguments: [String], in directory: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        scratch = try Scratch()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve"] + arguments + ["--port", "0"]
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        process.environment = env
        let out = Pipe()
        _ = FileManager.default.createFile(atPath: scratch.file("err"), contents: nil)
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.file("err")))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The first line on standard output: "listening on http://127.0.0.1:PORT".
        var line = Data()
        let reader = out.fileHandleForReading
        let deadline = Date().addingTimeInterval(120)
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
            let chunk = reader.availableData
            if chunk.isEmpty { break }   // end of file: the process exited
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let match = text.firstMatch(of: /listening on http:\/\/127\.0\.0\.1:(\d+)/), let p = Int(match.output.1) else {
            process.terminate()
            process.waitUntilExit()
            let err = (try? String(contentsOfFile: scratch.file("err"), encoding: .utf8)) ?? ""
            Issue.record("dlg serve did not start (status \(process.terminationStatus)): stdout \(text); stderr \(err)", sourceLocation: sourceLocation)
            throw ServeTestError("server did not start")
        }
        port = p
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.timeoutIntervalForRequest = 60
        session = URLSession(configuration: configuration)
    }

    var stderr: String { (try? String(contentsOfFile: scratch.file("err"), encoding: .utf8)) ?? "" }

    struct Reply {
        var status: Int
        var body: Data
        var headers: [String: String]
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any], "not a JSON object: \(text)")
        }
    }

    func request(_ method: String, _ path: String, body: Data? = nil, contentType: String? = "application/json",
                 headers: [String: String] = [:]) async throws -> Reply {
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        r.httpMethod = method
        r.httpBody = body
        if let contentType, body != nil { r.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await session.data(for: r)
        let http = try #require(response as? HTTPURLResponse)
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields { h[String(describing: k).lowercased()] = String(describing: v) }
        return Reply(status: http.statusCode, body: data, headers: h)
    }

    func predict(_ json: String, headers: [String: String] = [:]) async throws -> Reply {
        try await request("POST", "/v1/predict", body: Data(json.utf8), headers: headers)
    }

    /// Sends SIGTERM and waits for the exit status.
    func terminate() -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        session.invalidateAndCancel()
    }
}

struct ServeTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A raw TCP connection to the server, for requests sent in parts.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, r == 0 else { throw ServeTestError("cannot connect to port \(port): errno \(errno)") }
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ServeTestError("send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Everything the server sends until it closes the connection.
    func readToEnd() -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0 ..< n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    deinit { close(fd) }
}

/// Floats as JSON numbers that read back as the same floats (Swift prints the shortest such decimal).
func jsonNumbers(_ v: ArraySlice<Float>) -> String { "[" + v.map { "\($0)" }.joined(separator: ",") + "]" }

/// One 1×28×28 image as nested JSON arrays.
func jsonImage(_ pixels: ArraySlice<Float>) -> String {
    let base = pixels.startIndex
    let rows = (0 ..< 28).map { r in jsonNumbers(pixels[base + r * 28 ..< base + (r + 1) * 28]) }
    return "[[" + rows.joined(separator: ",") + "]]"
}

/// The numbers of the JSON array that follows `"key":` in `text`, read with
/// `Float(String)` (correctly rounded, so a float printed as its shortest
/// decimal reads back as the same bits).
func floats(after key: String, in text: String) -> [Float] {
    guard let start = text.range(of: "\"\(key)\":") else { return [] }
    var depth = 0
    var end = start.upperBound
    for i in text[start.upperBound...].indices {
        if text[i] == "[" { depth += 1 }
        if text[i] == "]" { depth -= 1 }
        end = i
        if depth == 0 && text[i] == "]" { break }
    }
    return text[start.upperBound ... end].matches(of: /-?[0-9][0-9.eE+-]*/).compactMap { Float(String($0.output)) }
}
