/// Inputs, parameters and constants: values that no op computes.
let sourceOps: [OpDecl] = [
    OpDecl(.input, arity: .exactly(0), fusion: .opaque, isSource: true, attributes: ["dtype", "shape"],
           doc: "A value fed from outside for each step (`input x: f32[B, 784]`). Shapes may hold symbols.",
           inferType: sourceType),
    OpDecl(.param, arity: .exactly(0), fusion: .opaque, isSource: true,
           attributes: ["dtype", "shape", "init", "trainable", "fan_in", "fan_out"],
           doc: """
           A tensor that persists across steps: a trainable parameter (`trainable=true`) or a buffer \
           such as batchnorm's running mean (`trainable=false`). `init` says how it starts; `fan_in` and \
           `fan_out` feed the fan-based initializers.
           """,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let t = try sourceType(ctx)
               guard t.shape.knownDims != nil else {
                   throw ctx.fail("a parameter needs a fully known shape, got \(t)")
               }
               return t
           }),
    OpDecl(.constant, arity: .exactly(0), fusion: .opaque, isSource: true, attributes: ["dtype", "value"],
           doc: "A literal tensor or scalar written in the source (`value`), of element type `dtype`.",
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               guard let v = ctx.attrs.tensor("value"), let d = ctx.attrs.dtype("dtype") else {
                   throw ctx.fail("constant needs `value` and `dtype` attributes")
               }
               return TensorType(d, Shape(v.shape))
           }),
]

@Sendable func sourceType(_ ctx: ShapeContext) throws(ShapeError) -> TensorType {
    guard let d = ctx.attrs.dtype("dtype"), let s = ctx.attrs.shape("shape") else {
        throw ctx.fail("\(ctx.op.rawValue) needs `dtype` and `shape` attributes")
    }
    return TensorType(d, s)
}
