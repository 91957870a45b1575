/// Inputs, parameters and constants: values that no op computes.
let sourceOps: [OpDecl] = [
    OpDecl(.input, arity: .exactly(0), fusion: .opaque, isSource: true, attributes: .source,
           [AttributeSpec("dtype", "dtype", "the element type"), AttributeSpec("shape", "shape", "the shape; may hold symbols")],
           doc: "A value fed from outside for each step (`input x: f32[B, 784]`). Shapes may hold symbols.",
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let a = ctx.attrs.source
               return TensorType(a.dtype, a.shape)
           }),
    OpDecl(.param, arity: .exactly(0), fusion: .opaque, isSource: true, attributes: .param,
           [AttributeSpec("dtype", "dtype", "the element type"), AttributeSpec("shape", "shape", "the shape, fully known"),
            AttributeSpec("init", "initializer", "how it starts (see language.md)"),
            AttributeSpec("trainable", "bool", "a parameter the optimizer updates (true) or a buffer (false)"),
            AttributeSpec("fan_in", "int", "the fan-in the fan-based initializers use"),
            AttributeSpec("fan_out", "int", "the fan-out the fan-based initializers use")],
           doc: """
           A tensor that persists across steps: a trainable parameter (`trainable=true`) or a buffer \
           such as batchnorm's running mean (`trainable=false`). `init` says how it starts; `fan_in` and \
           `fan_out` feed the fan-based initializers.
           """,
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let a = ctx.attrs.param
               let t = TensorType(a.dtype, a.shape)
               guard t.shape.knownDims != nil else { throw ctx.fail(.paramShape(t)) }
               return t
           }),
    OpDecl(.constant, arity: .exactly(0), fusion: .opaque, isSource: true, attributes: .constant,
           [AttributeSpec("dtype", "dtype", "the element type"), AttributeSpec("value", "tensor", "the literal")],
           doc: "A literal tensor or scalar written in the source (`value`), of element type `dtype`.",
           inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
               let a = ctx.attrs.constant
               return TensorType(a.dtype, Shape(a.value.shape))
           }),
]
