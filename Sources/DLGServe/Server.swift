import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// How the HTTP side of `dlg serve` behaves.
public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// When set, every endpoint but `/healthz` requires `Authorization: Bearer <token>`.
    public var token: String?
    /// Request bodies larger than this are refused (413).
    public var maxBodyBytes = 8 << 20
    /// Connections idle this long are closed.
    public var idleTimeout: Duration = .seconds(60)
    /// `GET /v1/model` reports it.
    public var maxDelayMilliseconds = 0.0
    /// Logs one line per request (swift-log, level info).
    public var accessLog = true
    public var logger = Logger(label: "dlg.serve")
    public init() {}
}

/// Whether `host` names the loopback interface only (127.0.0.0/8, ::1, localhost).
public func isLoopback(_ host: String) -> Bool {
    if host == "localhost" || host == "::1" || host == "[::1]" { return true }
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
}

/// The context of a request: Hummingbird's, and the client's address for the access log.
public struct ServeContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let remote: String
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remote = source.channel.remoteAddress.map { a in a.ipAddress.map { "\($0):\(a.port ?? 0)" } ?? "\(a)" } ?? "-"
    }
}

/// The HTTP server of `dlg serve` (Hummingbird 2): routes, bearer token,
/// access log, metrics, and a graceful shutdown on SIGTERM or SIGINT that
/// answers every request already received before it returns.
public enum InferenceServer {
    /// Serves until SIGTERM or SIGINT, then stops accepting connections,
    /// answers the requests in flight, stops the engine and returns.
    /// `onListening` gets the address and port once the socket is bound
    /// (port 0 binds a free one).
    public static func run(engine: InferenceEngine, metrics: ServerMetrics, settings: ServerSettings,
                           onListening: @escaping @Sendable (String, Int) -> Void) async throws {
        let router = Router(context: ServeContext.self)
        let handlers = Handlers(engine: engine, metrics: metrics, settings: settings)
        router.add(middleware: Outermost(handlers: handlers))
        if let token = settings.token { router.add(middleware: BearerToken(token: token, handlers: handlers)) }
        router.get("/healthz") { _, _ in handlers.json(["status": "ok"]) }
        router.get("/v1/model") { _, _ in handlers.describe() }
        router.get("/metrics") { _, _ in handlers.metricsResponse() }
        router.post("/v1/predict") { request, _ in await handlers.predict(request) }
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: TimeAmount.nanoseconds(Int64(settings.idleTimeout.components.seconds) * 1_000_000_000))),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "dlg"),
            services: [EngineService(engine: engine)],
            onServerRunning: { channel in
                onListening(channel.localAddress?.ipAddress ?? settings.host, channel.localAddress?.port ?? settings.port)
            },
            logger: settings.logger)
        try await app.runService()
    }
}

/// Runs the engine's batching thread for as long as the server runs; stopped
/// after the HTTP server (services stop in reverse order), so that it answers
/// the requests in flight.
struct EngineService: Service {
    let engine: InferenceEngine
    func run() async throws {
        engine.start()
        try? await gracefulShutdown()
        await engine.shutdown()
    }
}

/// What the routes do.
struct Handlers: Sendable {
    let engine: InferenceEngine
    let metrics: ServerMetrics
    let settings: ServerSettings
    let decoder: PredictRequestDecoder
    let encoder: JSONEncoder

    init(engine: InferenceEngine, metrics: ServerMetrics, settings: ServerSettings) {
        self.engine = engine
        self.metrics = metrics
        self.settings = settings
        decoder = PredictRequestDecoder(model: engine.model)
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder = e
    }

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func failure(_ e: RequestError) -> Response {
        metrics.error(e.kind)
        let headers: HTTPFields = e.kind == .unauthorized ? [.wwwAuthenticate: "Bearer realm=\"dlg\""] : [:]
        return json(ErrorBody(error: e), status: HTTPResponse.Status(code: e.status), headers: headers)
    }

    func describe() -> Response {
        json(ModelDescription(model: engine.model, maxDelayMilliseconds: settings.maxDelayMilliseconds))
    }

    func metricsResponse() -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
    }

    /// `POST /v1/predict`: read and check the body, wait for the batch, answer.
    func predict(_ request: Request) async -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        engine.arrivalBegan()
        let inputs: PredictInputs
        do {
            inputs = try await decode(request)
        } catch {
            engine.arrivalEnded()
            return failure(error)
        }
        switch await engine.predict(rows: inputs.rows, inputs: inputs.values, endingArrival: true) {
        case .failure(let e):
            return failure(e)
        case .success(let outputs):
            let response = json(PredictResponse(model: engine.model, inputs: inputs, outputs: outputs))
            metrics.examples.increment(by: inputs.rows)
            metrics.latency.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
            return response
        }
    }

    /// The body by its content type: JSON (also without a type), .npy, .npz.
    func decode(_ request: Request) async throws(RequestError) -> PredictInputs {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: settings.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw RequestError(.bodyTooLarge, "the body is larger than \(settings.maxBodyBytes) bytes (--max-body)")
        } catch {
            throw RequestError(.malformedBody, "the body could not be read: \(error)")
        }
        let type = (request.headers[.contentType] ?? "application/json").lowercased()
        let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        switch media {
        // curl -d sends application/x-www-form-urlencoded unless told otherwise: read as JSON too.
        case "application/json", "text/json", "application/x-www-form-urlencoded", "":
            return try decoder.decodeJSON(Data(body.readableBytesView))
        case "application/x-npy", "application/npy":
            return try decoder.decodeNPY(Array(body.readableBytesView))
        case "application/x-npz", "application/npz", "application/zip":
            return try decoder.decodeNPZ(Array(body.readableBytesView))
        case "application/octet-stream":
            let bytes = Array(body.readableBytesView)
            if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return try decoder.decodeNPY(bytes) }
            if bytes.starts(with: [0x50, 0x4B]) { return try decoder.decodeNPZ(bytes) }
            throw RequestError(.malformedBody, "an application/octet-stream body must be a .npy array or a .npz archive")
        default:
            throw RequestError(.unsupportedMediaType, "Content-Type '\(media)' is not one of application/json, application/x-npy, application/x-npz")
        }
    }
}

/// The first middleware: turns the router's own errors (no such route, …)
/// into JSON errors, counts requests by endpoint, writes the access log.
struct Outermost: RouterMiddleware {
    typealias Context = ServeContext
    let handlers: Handlers

    func handle(_ request: Request, context: ServeContext,
                next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let path = request.uri.path
        let response: Response
        do {
            response = try await next(request, context)
        } catch let e as any HTTPResponseError {
            switch e.status {
            case .notFound, .methodNotAllowed:
                response = handlers.failure(RequestError(.notFound, "no endpoint \(request.method) \(path); there are POST /v1/predict, GET /v1/model, GET /healthz, GET /metrics"))
            case .contentTooLarge:
                response = handlers.failure(RequestError(.bodyTooLarge, "the body is larger than \(handlers.settings.maxBodyBytes) bytes (--max-body)"))
            default:
                response = handlers.failure(RequestError(.badRequest, "\(e.status.code) \(e.status.reasonPhrase)"))
            }
        } catch {
            response = handlers.failure(RequestError(.internalError, "\(error)"))
        }
        let endpoint: String
        switch path {
        case "/v1/predict": endpoint = "predict"
        case "/v1/model": endpoint = "model"
        case "/healthz": endpoint = "healthz"
        case "/metrics": endpoint = "metrics"
        default: endpoint = "other"
        }
        handlers.metrics.request(endpoint)
        if handlers.settings.accessLog {
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-6
            handlers.settings.logger.info("\(request.method) \(path) \(response.status.code)", metadata: [
                "remote": .string(context.remote), "method": .string(request.method.rawValue), "path": .string(path),
                "status": .stringConvertible(response.status.code), "ms": .string(String(format: "%.3f", ms)),
            ])
        }
        return response
    }
}

/// Requires `Authorization: Bearer <token>` on every endpoint but `/healthz`
/// (which load balancers and orchestrators probe without credentials). The
/// token is compared through its SHA-256 digest, byte by byte without an
/// early exit, so the time taken does not tell how much of a guess was right.
struct BearerToken: RouterMiddleware {
    typealias Context = ServeContext
    let digest: [UInt8]
    let handlers: Handlers

    init(token: String, handlers: Handlers) {
        digest = Array(SHA256.hash(data: Data(token.utf8)))
        self.handlers = handlers
    }

    func handle(_ request: Request, context: ServeContext,
                next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        if request.uri.path == "/healthz" { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        let scheme = "bearer "
        guard header.count > scheme.count, header.prefix(scheme.count).lowercased() == scheme else {
            return handlers.failure(RequestError(.unauthorized, header.isEmpty
                ? "this server requires a token: send Authorization: Bearer <token>"
                : "the Authorization header is not 'Bearer <token>'"))
        }
        let given = Array(SHA256.hash(data: Data(header.dropFirst(scheme.count).utf8)))
        var difference: UInt8 = 0
        for i in 0 ..< digest.count { difference |= digest[i] ^ given[i] }
        guard difference == 0 else {
            return handlers.failure(RequestError(.unauthorized, "the token is not the one this server accepts"))
        }
        return try await next(request, context)
    }
}
