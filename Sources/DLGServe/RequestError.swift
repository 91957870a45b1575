/// Why a request was refused or failed: its HTTP status, a kind (the
/// `error.kind` of the JSON answer and the `kind` label of
/// `dlg_request_errors_total`), the input concerned when there is one, and a
/// message a person can act on.
public struct RequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// The body is not JSON (or not a well-formed .npy/.npz).
        case malformedBody = "malformed_body"
        /// JSON of the wrong structure: no `inputs` object, an unknown or a missing input.
        case badRequest = "bad_request"
        /// An input's nesting or sizes do not match the model's shape.
        case wrongShape = "wrong_shape"
        /// Values that are not of the input's element type (strings, booleans, fractions for i32, another .npy dtype).
        case wrongDtype = "wrong_dtype"
        /// NaN or ±infinity in an input.
        case nonFinite = "non_finite"
        /// More examples in one request than the largest batch.
        case tooManyExamples = "too_many_examples"
        case bodyTooLarge = "body_too_large"
        case unsupportedMediaType = "unsupported_media_type"
        case unauthorized
        case notFound = "not_found"
        /// The queue of waiting requests is full.
        case overloaded
        /// Still waiting for its batch after the request timeout.
        case timeout
        case shuttingDown = "shutting_down"
        /// The model failed to run (never expected; the message says where).
        case internalError = "internal"

        public var status: Int {
            switch self {
            case .malformedBody, .badRequest, .wrongShape, .wrongDtype, .nonFinite, .tooManyExamples: return 400
            case .unauthorized: return 401
            case .notFound: return 404
            case .bodyTooLarge: return 413
            case .unsupportedMediaType: return 415
            case .overloaded, .timeout, .shuttingDown: return 503
            case .internalError: return 500
            }
        }
    }

    public var kind: Kind
    public var message: String
    public var input: String?

    public init(_ kind: Kind, _ message: String, input: String? = nil) {
        self.kind = kind
        self.message = message
        self.input = input
    }

    public var status: Int { kind.status }
    public var description: String { "\(kind.rawValue): \(message)" }
}
