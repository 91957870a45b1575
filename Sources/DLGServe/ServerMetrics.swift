import Metrics
import Prometheus

/// The server's metrics, made through swift-metrics on a swift-prometheus
/// registry of their own (no process-wide bootstrap), and written in
/// Prometheus' text format by `GET /metrics`.
///
/// | metric | type | meaning |
/// |---|---|---|
/// | `dlg_requests_total{endpoint}` | counter | requests by endpoint (`predict`, `model`, `healthz`, `metrics`, `other`) |
/// | `dlg_predict_examples_total` | counter | examples answered |
/// | `dlg_request_errors_total{kind}` | counter | refused or failed requests by `RequestError.Kind` |
/// | `dlg_predict_latency_seconds` | histogram | a successful predict request from its start to its answer |
/// | `dlg_batch_size` | histogram | examples per batch run |
/// | `dlg_batch_seconds` | histogram | time of one batch's program run, copies included |
/// | `dlg_queue_depth` | gauge | examples waiting for a batch |
/// | `dlg_model_info{model,sha256}` | gauge | 1, labelled with what is served |
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let requests: [String: Metrics.Counter]
    let examples: Metrics.Counter
    let errors: [RequestError.Kind: Metrics.Counter]
    let latency: Metrics.Timer
    let batchSize: Metrics.Recorder
    let batchTime: Metrics.Timer
    let queueDepth: Metrics.Gauge

    public static let endpoints = ["predict", "model", "healthz", "metrics", "other"]

    public init(model: ServedModel) {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["dlg_predict_latency_seconds"] =
            [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 1024].map { .microseconds(Int64($0 * 1000)) }
        factory.durationHistogramBuckets["dlg_batch_seconds"] =
            [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 64, 256].map { .microseconds(Int64($0 * 1000)) }
        factory.valueHistogramBuckets["dlg_batch_size"] = model.buckets.map(Double.init)
        var byEndpoint: [String: Metrics.Counter] = [:]
        for e in Self.endpoints {
            byEndpoint[e] = Metrics.Counter(label: "dlg_requests_total", dimensions: [("endpoint", e)], factory: factory)
        }
        requests = byEndpoint
        examples = Metrics.Counter(label: "dlg_predict_examples_total", factory: factory)
        var byKind: [RequestError.Kind: Metrics.Counter] = [:]
        for k in RequestError.Kind.allCases {
            byKind[k] = Metrics.Counter(label: "dlg_request_errors_total", dimensions: [("kind", k.rawValue)], factory: factory)
        }
        errors = byKind
        latency = Metrics.Timer(label: "dlg_predict_latency_seconds", factory: factory)
        batchSize = Metrics.Recorder(label: "dlg_batch_size", factory: factory)
        batchTime = Metrics.Timer(label: "dlg_batch_seconds", factory: factory)
        queueDepth = Metrics.Gauge(label: "dlg_queue_depth", factory: factory)
        queueDepth.record(0)
        Metrics.Gauge(label: "dlg_model_info", dimensions: [("model", model.name), ("sha256", model.sha256)], factory: factory).record(1)
    }

    func request(_ endpoint: String) { (requests[endpoint] ?? requests["other"])?.increment() }
    func error(_ kind: RequestError.Kind) { errors[kind]?.increment() }

    /// Every metric in Prometheus' text exposition format.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
