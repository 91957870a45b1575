/// The op that fusion produces.
let fusedOp = OpDecl(
    .fused, arity: .atLeast(1), fusion: .opaque, attributes: .fused,
    [AttributeSpec("kind", "elementwise|epilogue|reduction", "how the region runs"),
     AttributeSpec("region", "steps", "the fused steps"),
     AttributeSpec("dtype", "dtype", "the result's element type"),
     AttributeSpec("shape", "shape", "the result's shape")],
    doc: """
    Several primitives run as one kernel (`kind` elementwise: one loop over the output with no \
    temporaries; `kind` epilogue: a matmul or conv2d whose output is finished in the same pass — \
    bias, activation, residual add; `kind` reduction: an elementwise chain whose last step, a reduce op, \
    folds the chain's values into its smaller result as they are computed). `region` lists the steps; operands name the fused node's \
    inputs (`$0`, `$1`, …), earlier steps (`#0`, …) or immediates. Produced by the fusion pass; \
    it has no gradient rule because fusion runs after differentiation.
    """,
    flops: { ctx in
        let r = ctx.attrs.fused.region
        // Each step's own count, on concrete shapes of its type (each step's computed once).
        var outs: [[Int]] = []
        outs.reserveCapacity(r.steps.count)
        var total = 0
        for s in r.steps {
            let out = s.type.shape.dims?.map { $0.value ?? 1 } ?? []
            var ins: [[Int]] = []
            ins.reserveCapacity(s.operands.count)
            for o in s.operands {
                switch o {
                case .input(let i): ins.append(i < ctx.inputs.count ? ctx.inputs[i] : out)
                case .step(let k): ins.append(k < outs.count ? outs[k] : r.steps[k].type.shape.dims?.map { $0.value ?? 1 } ?? [])
                case .scalar: ins.append([])
                }
            }
            outs.append(out)
            total += s.op.decl.flops(FlopContext(inputs: ins, output: out, attrs: s.attrs))
        }
        return total
    },
    inferType: { (ctx: ShapeContext) throws(ShapeError) -> TensorType in
        let r = ctx.attrs.fused.region
        guard let last = r.steps.last else { throw ctx.fail(.emptyRegion) }
        for (k, s) in r.steps.enumerated() {
            for o in s.operands {
                switch o {
                case .input(let i) where i < 0 || i >= ctx.inputs.count:
                    throw ctx.fail(.regionInput(step: k, input: i, count: ctx.inputs.count))
                case .step(let j) where j < 0 || j >= k:
                    throw ctx.fail(.regionOrder(step: k, reads: j))
                default: continue
                }
            }
        }
        return last.type
    })
