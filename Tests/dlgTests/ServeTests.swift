import DLGData
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// `dlg serve` end to end: the built binary on a free loopback port, real HTTP.
@Suite("dlg serve")
struct ServeTests {
    /// Deterministic pixels in [0, 1): multiples of 2⁻²⁴, exact in f32.
    static func pixels(_ count: Int, seed: UInt64) -> [Float] {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0 ..< count).map { _ in
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(x >> 40) / Float(1 << 24)
        }
    }

    static func npyFloats(_ path: String) throws -> [Float] {
        guard case .f32(let v) = try NPY.read(path).storage else { throw ServeTestError("\(path) is not f32") }
        return v
    }

    static func bits(_ v: some Collection<Float>) -> [UInt32] { v.map(\.bitPattern) }

    /// LeNet-5's logits from `dlg run` for `count` images written to `dir/name.npy`.
    static func runLogits(_ images: [Float], count: Int, dir: Scratch, name: String,
                          sourceLocation: SourceLocation = #_sourceLocation) throws -> [Float] {
        try NPY.write(try NDArray(images, shape: [count, 1, 28, 28]), to: dir.file("\(name).npy"))
        let r = try CLI.run(["run", CLI.graph("lenet5.dlg"), "--seed", "3", "--input", "image=\(name).npy",
                             "--output", "\(name)-logits.npy"], in: dir.path)
        expectSuccess(r, sourceLocation: sourceLocation)
        return try npyFloats(dir.file("\(name)-logits.npy"))
    }

    /// softmax(z)[c] = exp(z_c) / Σ exp(z_j), in Double.
    static func softmax(_ z: ArraySlice<Float>, _ c: Int) -> Double {
        let m = Double(z.max()!)
        return Foundation.exp(Double(z[z.startIndex + c]) - m) / z.reduce(0) { $0 + Foundation.exp(Double($1) - m) }
    }

    static func argmax(_ z: ArraySlice<Float>) -> Int {
        var best = z.startIndex
        for i in z.indices where z[i] > z[best] { best = i }
        return best - z.startIndex
    }

    /// The value of an unlabelled sample line of the exposition, e.g. `dlg_batch_size_count 7`.
    static func metric(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1))
        }
        return nil
    }

    @Test func predictionsEqualRunBitForBitBatchedUnbatchedAndConcurrent() async throws {
        let dir = try Scratch()
        let n = 40
        let images = Self.pixels(n * 784, seed: 1)
        let reference = try Self.runLogits(images, count: n, dir: dir, name: "all")
        // `dlg run` itself: an image alone gives the row it gets among 40.
        let alone = try Self.runLogits(Array(images[784 * 7 ..< 784 * 8]), count: 1, dir: dir, name: "seventh")
        #expect(Self.bits(alone) == Self.bits(reference[70 ..< 80]))

        let server = try ServeProcess([CLI.graph("lenet5.dlg"), "--seed", "3", "--max-batch", "16",
                                       "--max-delay-ms", "20", "--no-access-log"])
        // One example without a batch axis: logits, class and probability of that example.
        let one = try await server.predict("{\"inputs\": {\"image\": \(jsonImage(images[0 ..< 784]))}}")
        #expect(one.status == 200, "\(one.text)")
        #expect(Self.bits(floats(after: "logits", in: one.text)) == Self.bits(reference[0 ..< 10]))
        let j = try one.json()
        let c = Self.argmax(reference[0 ..< 10])
        #expect(j["class"] as? Int == c)
        #expect(abs((j["probability"] as? Double ?? -1) - Self.softmax(reference[0 ..< 10], c)) < 1e-12)
        #expect(j["model"] as? String == "lenet5")

        // A batch of five in one request.
        let five = (1 ... 5).map { jsonImage(images[$0 * 784 ..< ($0 + 1) * 784]) }.joined(separator: ",")
        let batch = try await server.predict("{\"inputs\": {\"image\": [\(five)]}}")
        #expect(batch.status == 200, "\(batch.text)")
        #expect(Self.bits(floats(after: "logits", in: batch.text)) == Self.bits(reference[10 ..< 60]))
        #expect((try batch.json()["classes"] as? [Int]) == (1 ... 5).map { Self.argmax(reference[$0 * 10 ..< ($0 + 1) * 10]) })

        // A .npy body: three images.
        let npy = NPY.encode(try NDArray(Array(images[6 * 784 ..< 9 * 784]), shape: [3, 1, 28, 28]))
        let binary = try await server.request("POST", "/v1/predict", body: Data(npy), contentType: "application/x-npy")
        #expect(binary.status == 200, "\(binary.text)")
        #expect(Self.bits(floats(after: "logits", in: binary.text)) == Self.bits(reference[60 ..< 90]))

        // 40 clients at once, one image each: every one gets the answer for its own image.
        let replies = try await withThrowingTaskGroup(of: (Int, ServeProcess.Reply).self) { group in
            for i in 0 ..< n {
                group.addTask { (i, try await server.predict("{\"inputs\": {\"image\": \(jsonImage(images[i * 784 ..< (i + 1) * 784]))}}")) }
            }
            var all: [(Int, ServeProcess.Reply)] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(replies.count == n)
        for (i, r) in replies {
            #expect(r.status == 200, "client \(i): \(r.text)")
            #expect(Self.bits(floats(after: "logits", in: r.text)) == Self.bits(reference[i * 10 ..< (i + 1) * 10]), "client \(i)")
        }
        // They were answered in fewer batches than requests.
        let metrics = try await server.request("GET", "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(Self.metric("dlg_predict_examples_total", in: metrics.text) == Double(1 + 5 + 3 + n), "\(metrics.text)")
        let batches = try #require(Self.metric("dlg_batch_size_count", in: metrics.text), "\(metrics.text)")
        #expect(batches < Double(3 + n), "\(batches) batches for \(3 + n) requests")
        #expect(Self.metric("dlg_batch_size_sum", in: metrics.text) == Double(1 + 5 + 3 + n))
        #expect(metrics.text.contains("dlg_request_errors_total{kind=\"wrong_shape\"} 0"))
        #expect(metrics.text.contains("dlg_predict_latency_seconds_bucket"))
        #expect(metrics.text.contains("dlg_queue_depth 0"))
        #expect(server.terminate() == 0, "\(server.stderr)")
    }

    /// Every kind of bad request gets its status and a JSON error naming the input and the problem;
    /// the server goes on answering.
    @Test func badRequestsGetTheirStatusAndMessage() async throws {
        let server = try ServeProcess([CLI.graph("lenet5.dlg"), "--max-batch", "4", "--max-body", "64K"])
        let image = jsonImage(Self.pixels(784, seed: 2)[...])
        var ragged = Self.pixels(784, seed: 3).map { "\($0)" }
        let rows = (0 ..< 28).map { r in "[" + ragged[r * 28 ..< (r + 1) * 28].joined(separator: ",") + "]" }
        let raggedImage = "[[" + rows.enumerated().map { $0.offset == 5 ? "[" + ragged[140 ..< 167].joined(separator: ",") + "]" : $0.element }.joined(separator: ",") + "]]"
        ragged[3 * 28 + 4] = "\"x\""
        let stringImage = "[[" + (0 ..< 28).map { r in "[" + ragged[r * 28 ..< (r + 1) * 28].joined(separator: ",") + "]" }.joined(separator: ",") + "]]"
        let nanImage = stringImage.replacingOccurrences(of: "\"x\"", with: "\"NaN\"")
        let bareNaN = stringImage.replacingOccurrences(of: "\"x\"", with: "NaN")
        let boolImage = stringImage.replacingOccurrences(of: "\"x\"", with: "true")
        let cases: [(String, String, Int, String, [String])] = [
            ("malformed JSON", "{\"inputs\": {\"image\": [1, 2", 400, "malformed_body", ["not valid JSON"]),
            ("not an object", "[1, 2]", 400, "bad_request", ["\"inputs\""]),
            ("no inputs", "{\"image\": \(image)}", 400, "bad_request", ["no \"inputs\""]),
            ("unknown input", "{\"inputs\": {\"image\": \(image), \"extra\": [1]}}", 400, "bad_request", ["no input 'extra'", "'image'"]),
            ("missing input", "{\"inputs\": {}}", 400, "bad_request", ["missing input 'image'"]),
            ("wrong rank", "{\"inputs\": {\"image\": [[1, 2, 3]]}}", 400, "wrong_shape", ["input 'image'", "f32[1,28,28]", "nested 2 deep"]),
            ("ragged", "{\"inputs\": {\"image\": \(raggedImage)}}", 400, "wrong_shape", ["input 'image' expects 28 elements at [0][5], found 27"]),
            ("string", "{\"inputs\": {\"image\": \(stringImage)}}", 400, "wrong_dtype", ["input 'image' is f32", "[0][3][4] is not a number"]),
            ("boolean", "{\"inputs\": {\"image\": \(boolImage)}}", 400, "wrong_dtype", ["[0][3][4] is not a number"]),
            ("NaN", "{\"inputs\": {\"image\": \(nanImage)}}", 400, "non_finite", ["input 'image' holds NaN at [0][3][4]"]),
            ("bare NaN", "{\"inputs\": {\"image\": \(bareNaN)}}", 400, "malformed_body", ["NaN and Infinity are not JSON numbers"]),
            ("too many examples", "{\"inputs\": {\"image\": [\(Array(repeating: image, count: 5).joined(separator: ","))]}}", 400,
             "too_many_examples", ["at most 4 examples", "holds 5"]),
            ("too large", "{\"inputs\": {\"image\": [\(Array(repeating: image, count: 12).joined(separator: ","))]}}", 413,
             "body_too_large", ["larger than 65536 bytes"]),
        ]
        for (what, body, status, kind, fragments) in cases {
            let r = try await server.predict(body)
            #expect(r.status == status, "\(what): \(r.status) \(r.text)")
            let e = try #require(try r.json()["error"] as? [String: Any], "\(what): \(r.text)")
            #expect(e["kind"] as? String == kind, "\(what): \(r.text)")
            for f in fragments { #expect((e["message"] as? String ?? "").contains(f), "\(what): \(r.text) lacks \(f)") }
        }
        // Binary bodies: another dtype, another shape; another media type; no such endpoint.
        let f64 = NPY.encode(try NDArray([Double](repeating: 0.5, count: 784), shape: [1, 28, 28]))
        let wrongType = try await server.request("POST", "/v1/predict", body: Data(f64), contentType: "application/x-npy")
        #expect(wrongType.status == 400 && wrongType.text.contains("wrong_dtype") && wrongType.text.contains("f64"), "\(wrongType.text)")
        let flat = NPY.encode(try NDArray([Float](repeating: 0.5, count: 2 * 784), shape: [2, 28, 28]))
        let wrongShape = try await server.request("POST", "/v1/predict", body: Data(flat), contentType: "application/x-npy")
        #expect(wrongShape.status == 400 && wrongShape.text.contains("wrong_shape") && wrongShape.text.contains("[2,28,28]"), "\(wrongShape.text)")
        let text = try await server.request("POST", "/v1/predict", body: Data("hello".utf8), contentType: "text/plain")
        #expect(text.status == 415 && text.text.contains("unsupported_media_type"), "\(text.text)")
        let nowhere = try await server.request("GET", "/v2/predict")
        #expect(nowhere.status == 404 && nowhere.text.contains("not_found"), "\(nowhere.text)")
        // Still serving.
        #expect(try await server.request("GET", "/healthz").status == 200)
        #expect(try await server.predict("{\"inputs\": {\"image\": \(image)}}").status == 200)
        let metrics = try await server.request("GET", "/metrics").text
        #expect(Self.metric("dlg_request_errors_total{kind=\"wrong_shape\"}", in: metrics) == 3, "\(metrics)")
        #expect(Self.metric("dlg_request_errors_total{kind=\"wrong_dtype\"}", in: metrics) == 3)
        #expect(Self.metric("dlg_request_errors_total{kind=\"non_finite\"}", in: metrics) == 1)
        #expect(server.process.isRunning)
        #expect(server.terminate() == 0)
        #expect(!server.stderr.contains("Fatal error"))
    }

    /// Truncated, deeply nested, oversized and random bodies: each gets a 4xx JSON error, and the
    /// server goes on.
    @Test func garbageNeverStopsTheServer() async throws {
        let server = try ServeProcess([CLI.graph("xor.dlg"), "--no-access-log"])
        let valid = Array("{\"inputs\": {\"x\": [[0, 1], [1, 0.5]]}}".utf8)
        var bodies: [(String, [UInt8])] = stride(from: 0, to: valid.count, by: 2).map { ("the first \($0) bytes", Array(valid.prefix($0))) }
        bodies.append(("100,000 nested arrays", Array(("{\"inputs\": {\"x\": " + String(repeating: "[", count: 100_000)).utf8)))
        bodies.append(("200,000 empty examples", Array(("{\"inputs\": {\"x\": [" + Array(repeating: "[]", count: 200_000).joined(separator: ",") + "]}}").utf8)))
        bodies.append(("a number beyond f32", Array("{\"inputs\": {\"x\": [[1e999, 0]]}}".utf8)))
        bodies.append(("an object for an input", Array("{\"inputs\": {\"x\": {\"a\": 1}}}".utf8)))
        bodies.append(("a number for the inputs", Array("{\"inputs\": 5}".utf8)))
        bodies.append(("null", Array("null".utf8)))
        var x: UInt64 = 12345
        for i in 0 ..< 40 {
            let bytes = (0 ..< (i * 37 % 300 + 1)).map { _ -> UInt8 in
                x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: x >> 56)
            }
            bodies.append(("random bytes \(i)", bytes))
        }
        for (what, body) in bodies {
            for type in ["application/json", "application/x-npy", "application/x-npz"] {
                let r = try await server.request("POST", "/v1/predict", body: Data(body), contentType: type)
                #expect((400 ..< 500).contains(r.status) && r.text.hasPrefix("{\"error\":"), "\(what) as \(type): \(r.status) \(r.text.prefix(300))")
            }
        }
        #expect(server.process.isRunning)
        let ok = try await server.predict(String(decoding: valid, as: UTF8.self))
        #expect(ok.status == 200, "\(ok.text)")
        #expect(server.terminate() == 0)
    }

    /// `count` requests of one full batch of ResNet-20 (8 CIFAR-sized images, as .npy) sent at once.
    static func fullBatchesAtOnce(_ server: ServeProcess, count: Int) async throws -> [ServeProcess.Reply] {
        let npy = Data(NPY.encode(try NDArray(Self.pixels(8 * 3 * 32 * 32, seed: 7), shape: [8, 3, 32, 32])))
        return try await withThrowingTaskGroup(of: ServeProcess.Reply.self) { group in
            for _ in 0 ..< count {
                group.addTask { try await server.request("POST", "/v1/predict", body: npy, contentType: "application/x-npy") }
            }
            var all: [ServeProcess.Reply] = []
            for try await r in group { all.append(r) }
            return all
        }
    }

    /// A request still waiting for its batch after --timeout gets 503 `timeout`; one that finds
    /// --max-queue requests waiting gets 503 `overloaded`. A batch of ResNet-20 on 8 images takes
    /// milliseconds, so of six such requests sent at once, those queued behind another wait longer
    /// than a 1 ms timeout, and find a queue of one taken.
    @Test func requestsThatWaitTooLongOrFindTheQueueFullGet503() async throws {
        for (option, kind, fragment) in [("--timeout", "timeout", "no batch took the request within 0.001 s (--timeout)"),
                                         ("--max-queue", "overloaded", "the queue is full: 1 request is already waiting (--max-queue)")] {
            let limit = option == "--timeout" ? "0.001" : "1"
            let server = try ServeProcess([CLI.graph("resnet_cifar.dlg"), "--max-batch", "8", "--max-delay-ms", "0",
                                           option, limit, "--no-access-log"])
            let replies = try await Self.fullBatchesAtOnce(server, count: 6)
            var refused = 0
            for r in replies {
                if r.status == 200 {
                    #expect(floats(after: "logits", in: r.text).count == 80, "\(r.text.prefix(300))")
                } else {
                    refused += 1
                    #expect(r.status == 503, "\(option): \(r.status) \(r.text)")
                    let e = try #require(try r.json()["error"] as? [String: Any], "\(r.text)")
                    #expect(e["kind"] as? String == kind && (e["message"] as? String ?? "").contains(fragment), "\(option): \(r.text)")
                }
            }
            #expect(refused >= 1, "\(option) \(limit): six full batches at once, none refused")
            // The first request finds the queue empty and is taken at once.
            if option == "--max-queue" { #expect(refused < replies.count) }
            let metrics = try await server.request("GET", "/metrics").text
            #expect(Self.metric("dlg_request_errors_total{kind=\"\(kind)\"}", in: metrics) == Double(refused), "\(metrics)")
            #expect(try await server.request("GET", "/healthz").status == 200)
            #expect(server.terminate() == 0, "\(server.stderr)")
        }
    }

    @Test func aTokenIsRequiredWhenOneIsSet() async throws {
        let dir = try Scratch()
        try dir.write("token", "s3cret-token\n")
        let server = try ServeProcess([CLI.graph("xor.dlg"), "--token-file", dir.file("token")])
        let body = "{\"inputs\": {\"x\": [[0, 1]]}}"
        let none = try await server.predict(body)
        #expect(none.status == 401, "\(none.text)")
        #expect(none.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        #expect(none.text.contains("unauthorized") && none.text.contains("Authorization: Bearer"))
        let wrong = try await server.predict(body, headers: ["Authorization": "Bearer s3cret-tokem"])
        #expect(wrong.status == 401)
        let basic = try await server.predict(body, headers: ["Authorization": "Basic czNjcmV0"])
        #expect(basic.status == 401)
        #expect(try await server.predict(body, headers: ["Authorization": "Bearer s3cret-token"]).status == 200)
        #expect(try await server.request("GET", "/v1/model").status == 401)
        #expect(try await server.request("GET", "/metrics").status == 401)
        #expect(try await server.request("GET", "/healthz").status == 200)
        #expect(server.terminate() == 0)
    }

    @Test func aNonLoopbackAddressNeedsATokenOrInsecure() throws {
        let r = try CLI.run(["serve", CLI.graph("xor.dlg"), "--host", "0.0.0.0", "--port", "0"])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("refusing to serve on 0.0.0.0 without a token"))
    }

    /// SIGTERM while requests are being received: they are answered, then the process exits 0.
    /// Synchronous, with `usleep`: an `await` may resume minutes late when the other tests keep the
    /// concurrency pool's threads busy (as in `make test` on a loaded 2-core machine), and a request
    /// left half-sent for 60 s is closed by the server as idle, with nothing left to drain.
    @Test func sigtermAnswersTheRequestsInFlightAndExitsZero() throws {
        let server = try ServeProcess([CLI.graph("lenet5.dlg"), "--seed", "3"])
        let images = Self.pixels(4 * 784, seed: 4)
        let bodies = (0 ..< 4).map { Array("{\"inputs\": {\"image\": \(jsonImage(images[$0 * 784 ..< ($0 + 1) * 784]))}}".utf8) }
        var connections: [RawConnection] = []
        for body in bodies {
            let c = try RawConnection(port: server.port)
            let head = "POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            try c.send(Array(head.utf8) + body.prefix(body.count / 2))
            connections.append(c)
        }
        usleep(300_000)
        kill(server.process.processIdentifier, SIGTERM)
        usleep(300_000)
        #expect(server.process.isRunning, "the server exited with requests in flight")
        for (c, body) in zip(connections, bodies) { try c.send(Array(body.suffix(from: body.count / 2))) }
        for (i, c) in connections.enumerated() {
            let reply = c.readToEnd()
            #expect(reply.hasPrefix("HTTP/1.1 200"), "request \(i): \(reply)")
            #expect(floats(after: "logits", in: reply).count == 10, "request \(i): \(reply)")
        }
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0, "\(server.stderr)")
        #expect(server.stderr.contains("stopped: every request received was answered"))
    }

    @Test func theModelDescribesItselfAndNamesItsClasses() async throws {
        let dir = try Scratch()
        try dir.write("digits.txt", (0 ... 9).map { "digit \($0)" }.joined(separator: "\n") + "\n")
        let server = try ServeProcess([CLI.graph("lenet5.dlg"), "--class-names", dir.file("digits.txt"), "--max-batch", "24"])
        let r = try await server.request("GET", "/v1/model")
        #expect(r.status == 200)
        let j = try r.json()
        #expect(j["model"] as? String == "lenet5")
        #expect(j["parameters"] as? Int == 61706)
        let inputs = try #require(j["inputs"] as? [[String: Any]])
        #expect(inputs.count == 1 && inputs[0]["name"] as? String == "image" && inputs[0]["dtype"] as? String == "f32")
        #expect((inputs[0]["shape"] as? [Any]).map { $0.map { "\($0)" } } == ["B", "1", "28", "28"])
        let outputs = try #require(j["outputs"] as? [[String: Any]])
        #expect((outputs[0]["shape"] as? [Any]).map { $0.map { "\($0)" } } == ["B", "10"])
        let classifier = try #require(j["classifier"] as? [String: Any])
        #expect(classifier["kind"] as? String == "logits" && classifier["classes"] as? Int == 10)
        #expect((classifier["class_names"] as? [String])?.last == "digit 9")
        let batching = try #require(j["batching"] as? [String: Any])
        #expect(batching["buckets"] as? [Int] == [1, 2, 4, 8, 16, 24])
        // The hash is the file's SHA-256 as sha256sum computes it.
        let sum = Process()
        sum.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sum.arguments = [CLI.graph("lenet5.dlg")]
        let pipe = Pipe()
        sum.standardOutput = pipe
        try sum.run()
        sum.waitUntilExit()
        let expected = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        #expect(j["sha256"] as? String == String(expected))
        // Answers name the class.
        let one = try await server.predict("{\"inputs\": {\"image\": \(jsonImage(Self.pixels(784, seed: 5)[...]))}}")
        let label = try #require(try one.json()["label"] as? String)
        #expect(label == "digit \(try one.json()["class"] as? Int ?? -1)")
        #expect(server.terminate() == 0)
    }

    /// A trained checkpoint (--weights) and a program compiled ahead of time (.dlgc).
    @Test func weightsAndCompiledPrograms() async throws {
        let dir = try Scratch()
        expectSuccess(try CLI.run(["train", CLI.graph("xor.dlg"), "--epochs", "300", "--checkpoint", "xor.safetensors"], in: dir.path))
        let x: [Float] = [0, 0, 0, 1, 1, 0, 1, 1]
        try NPY.write(try NDArray(x, shape: [4, 2]), to: dir.file("x.npy"))
        expectSuccess(try CLI.run(["run", CLI.graph("xor.dlg"), "--weights", "xor.safetensors", "--input", "x=x.npy", "--output", "yhat.npy"], in: dir.path))
        let yhat = try Self.npyFloats(dir.file("yhat.npy"))
        let xor = try ServeProcess([CLI.graph("xor.dlg"), "--weights", dir.file("xor.safetensors")])
        let r = try await xor.predict("{\"inputs\": {\"x\": [[0, 0], [0, 1], [1, 0], [1, 1]]}}")
        #expect(r.status == 200, "\(r.text)")
        #expect(Self.bits(floats(after: "yhat", in: r.text)) == Self.bits(yhat))
        let j = try r.json()
        // A sigmoid of one value: class 1 when p ≥ 0.5 with probability p, else class 0 with 1 − p.
        #expect(j["classes"] as? [Int] == yhat.map { $0 >= 0.5 ? 1 : 0 })
        let p = try #require(j["probabilities"] as? [Double])
        for (got, y) in zip(p, yhat) { #expect(abs(got - (y >= 0.5 ? Double(y) : 1 - Double(y))) < 1e-12) }
        #expect(xor.terminate() == 0)

        // A mismatched checkpoint is refused at start-up.
        let wrong = try CLI.run(["serve", CLI.graph("lenet5.dlg"), "--weights", dir.file("xor.safetensors"), "--port", "0"])
        expectFailure(wrong, ["the weights do not match the model", "'c1.weight'"])

        // LeNet-5 compiled for batch 8: one bucket, the same answers as `dlg run` on the .dlg.
        expectSuccess(try CLI.run(["compile", CLI.graph("lenet5.dlg"), "--bind", "B=8", "-o", "lenet5.dlgc"], in: dir.path))
        let images = Self.pixels(3 * 784, seed: 6)
        let reference = try Self.runLogits(images, count: 3, dir: dir, name: "three")
        let compiled = try ServeProcess([dir.file("lenet5.dlgc"), "--seed", "3"])
        let model = try await compiled.request("GET", "/v1/model").json()
        #expect((model["batching"] as? [String: Any])?["buckets"] as? [Int] == [8])
        let three = (0 ..< 3).map { jsonImage(images[$0 * 784 ..< ($0 + 1) * 784]) }.joined(separator: ",")
        let c = try await compiled.predict("{\"inputs\": {\"image\": [\(three)]}}")
        #expect(c.status == 200, "\(c.text)")
        #expect(Self.bits(floats(after: "logits", in: c.text)) == Self.bits(reference))
        #expect(compiled.terminate() == 0)
    }
}
