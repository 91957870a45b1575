import ArgumentParser
import DLGData
import DLGGraph
import DLGKernels
import DLGRuntime
import DLGServe
import Foundation
import Logging

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model's predictions over HTTP, with dynamic batching, Prometheus metrics and an optional bearer token.",
        discussion: """
            Endpoints: POST /v1/predict (JSON {"inputs": {"NAME": [...]}}, or a .npy/.npz body), GET /v1/model, \
            GET /healthz, GET /metrics. Concurrent requests are gathered into one batch of at most --max-batch \
            examples, waiting at most --max-delay-ms for requests already arriving; each batch runs the program \
            compiled for the smallest bucket (1, 2, 4, …, --max-batch) that holds it. Answers equal `dlg run`'s \
            bit for bit. SIGTERM or SIGINT stops accepting connections, answers the requests in flight and exits 0. \
            See Docs/serve.md.
            """)

    @OptionGroup var options: ModelOptions

    @Option(help: ArgumentHelp(
        "The parameters, from a safetensors file, as for dlg run (default: the initializers, with --seed, and a warning).",
        valueName: "PATH"))
    var weights: String?

    @Option(help: ArgumentHelp(
        "The address to listen on; any but loopback (127.0.0.0/8, ::1, localhost) needs --token-file or --insecure.",
        valueName: "ADDRESS"))
    var host = "127.0.0.1"

    @Option(help: ArgumentHelp("The port; 0 binds a free one. 'listening on http://ADDRESS:PORT' goes to standard output once it is bound.",
                               valueName: "N"))
    var port = 8080

    @Option(name: .customLong("max-batch"), help: ArgumentHelp(
        "The most examples in one batch, and in one request; programs are compiled for 1, 2, 4, …, N.", valueName: "N"))
    var maxBatch = 32

    @Option(name: .customLong("max-delay-ms"), help: ArgumentHelp(
        "The longest a request waits for requests already arriving to join its batch, 0 to 60000 milliseconds.",
        valueName: "MS"))
    var maxDelayMs = 2.0

    @Option(name: .customLong("token-file"), help: ArgumentHelp(
        "A file holding one token: every endpoint but /healthz then requires 'Authorization: Bearer TOKEN' (401 otherwise).",
        valueName: "FILE"))
    var tokenFile: String?

    @Flag(help: "Listen on a non-loopback address without a token.")
    var insecure = false

    @Option(name: .customLong("max-body"), help: ArgumentHelp(
        "The largest request body, in bytes with an optional suffix K, M or G; larger bodies get 413.", valueName: "BYTES"))
    var maxBody = "8M"

    @Option(help: ArgumentHelp("A request still waiting for its batch after this many seconds gets 503.", valueName: "SECONDS"))
    var timeout = 30.0

    @Option(name: .customLong("max-queue"), help: ArgumentHelp("The requests that may wait at once; more get 503.", valueName: "N"))
    var maxQueue = 1024

    @Option(name: .customLong("class-names"), help: ArgumentHelp(
        "A classifier's class names, one per line, as many as classes; answers then hold label or labels.", valueName: "FILE"))
    var classNames: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "trace, debug, info, notice, warning, error or critical: what goes to standard error (swift-log).", valueName: "LEVEL"))
    var logLevel: Logger.Level = .info

    @Flag(inversion: .prefixedNo, help: "Log one line per request, at level info (default: on).")
    var accessLog: Bool?

    @Option(help: ArgumentHelp(
        "Threads of the kernels, N ≥ 1; the other cores read the requests and decode their JSON (see Docs/serve.md).",
        valueName: "N"))
    var threads = 1

    @Option(help: ArgumentHelp("Seed of the initializers when there is no --weights.", valueName: "N"))
    var seed: UInt64 = 0

    func validate() throws {
        if maxBatch < 1 { throw ValidationError("--max-batch must be at least 1") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !(maxDelayMs >= 0) || maxDelayMs > 60_000 { throw ValidationError("--max-delay-ms must be between 0 and 60000") }
        if !(0 ... 65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if !(timeout > 0) { throw ValidationError("--timeout must be positive") }
        if timeout > 86_400 { throw ValidationError("--timeout must be at most 86400 seconds") }
        if maxQueue < 1 { throw ValidationError("--max-queue must be at least 1") }
        guard let bytes = ByteCount(argument: maxBody)?.bytes, bytes > 0 else {
            throw ValidationError("--max-body takes a byte count such as 8M, got '\(maxBody)'")
        }
        _ = bytes
        if !isLoopback(host) && tokenFile == nil && !insecure {
            throw ValidationError("refusing to serve on \(host) without a token: anyone who reaches the port could use the model. Give --token-file FILE, or --insecure to serve it openly")
        }
    }

    func run() throws {
        Threads.configure(threads)
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        var settings = ServerSettings()
        settings.host = host
        settings.port = port
        settings.maxBodyBytes = ByteCount(argument: maxBody)?.bytes ?? settings.maxBodyBytes
        settings.maxDelayMilliseconds = maxDelayMs
        settings.accessLog = accessLog ?? true
        settings.logger = Logger(label: "dlg.serve")
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile), let text = String(data: data, encoding: .utf8) else {
                printError("error: --token-file \(tokenFile) cannot be read")
                throw ExitCode.failure
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if token.isEmpty || token.contains(where: { $0.isWhitespace }) {
                printError("error: --token-file \(tokenFile) must hold one token (no spaces)")
                throw ExitCode.failure
            }
            settings.token = token
        }
        var names: [String]?
        if let classNames {
            guard let text = try? String(contentsOfFile: classNames, encoding: .utf8) else {
                printError("error: --class-names \(classNames) cannot be read")
                throw ExitCode.failure
            }
            names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let model: ServedModel
        let engine: InferenceEngine
        let metrics: ServerMetrics
        do {
            model = try ServedModel.load(path: options.file, model: options.model, bindings: try options.bindings(),
                                         maxBatch: maxBatch, classNames: names)
            if maxBatch > model.maxBatch {
                printError("warning: \(options.file) runs at batch \(model.maxBatch) only; batches hold at most \(model.maxBatch) examples")
            }
            var file: SafetensorsFile?
            if let weights {
                do { file = try Safetensors.read(weights) } catch let e as DataError {
                    printError("error: \(e.description)")
                    throw ExitCode.failure
                }
            } else {
                printError("warning: no --weights: serving the initializers' values (seed \(seed))")
            }
            metrics = ServerMetrics(model: model)
            engine = try InferenceEngine(model: model, weights: file, seed: seed, threads: threads,
                                         maxDelay: .microseconds(Int64(maxDelayMs * 1000)), timeout: .milliseconds(Int64(timeout * 1000)),   // conversion: validate() keeps the delay within 0...60000 ms and the timeout within (0, 86400] s
                                         maxQueue: maxQueue, metrics: metrics)
        } catch let e as ModelLoadError {
            if let d = e.diagnostics, let f = e.file { report(d, in: f) } else {
                printError("error: \(e.message)")
            }
            throw ExitCode.failure
        }
        let shapes = { (specs: [TensorSpec]) in specs.map { "\($0.name) \($0.dtype.rawValue)\(Shape($0.shape))" }.joined(separator: ", ") }
        printError("serving \(model.name) (\(options.file), sha256 \(model.sha256.prefix(12))…): \(shapes(model.inputs)) → \(shapes(model.outputs)); "
                   + "batches of up to \(model.maxBatch) (buckets \(model.buckets.map(String.init).joined(separator: ", "))), "
                   + "max delay \(maxDelayMs) ms, \(threads) thread\(threads == 1 ? "" : "s")")
        let failure = ServeFailure()
        let done = DispatchSemaphore(value: 0)
        let host = self.host
        Task.detached {
            do {
                try await InferenceServer.run(engine: engine, metrics: metrics, settings: settings) { address, port in
                    let shown = address.contains(":") ? "[\(address)]" : address
                    FileHandle.standardOutput.write(Data("listening on http://\(shown):\(port)\n".utf8))
                }
            } catch {
                failure.set("cannot serve on \(host):\(settings.port): \(error)")
            }
            done.signal()
        }
        done.wait()
        if let message = failure.message {
            printError("error: \(message)")
            throw ExitCode.failure
        }
        printError("stopped: every request received was answered")
    }
}

/// The error that ended the server, handed from its task to the command's thread.
final class ServeFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?
    var message: String? { lock.withLock { value } }
    func set(_ m: String) { lock.withLock { value = m } }
}
