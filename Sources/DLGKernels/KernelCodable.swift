/// The geometries and plans a compiled program stores, as JSON. Each is
/// written as the arguments of its validating initializer and read back
/// through it, so a program read from a file never holds a geometry the
/// kernels could not run.

extension Conv2DGeometry: Codable {
    private enum Keys: String, CodingKey {
        case n, c, h, w, f, kh, kw, strideH, strideW, padTop, padBottom, padLeft, padRight, dilationH, dilationW, groups
    }

    public init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: Keys.self)
        func i(_ key: Keys) throws -> Int { try k.decode(Int.self, forKey: key) }
        try self.init(n: i(.n), c: i(.c), h: i(.h), w: i(.w), filters: i(.f), kernelH: i(.kh), kernelW: i(.kw),
                      strideH: i(.strideH), strideW: i(.strideW), padTop: i(.padTop), padBottom: i(.padBottom),
                      padLeft: i(.padLeft), padRight: i(.padRight), dilationH: i(.dilationH), dilationW: i(.dilationW),
                      groups: i(.groups))
    }

    public func encode(to encoder: Encoder) throws {
        var k = encoder.container(keyedBy: Keys.self)
        for (key, v) in [(Keys.n, n), (.c, c), (.h, h), (.w, w), (.f, f), (.kh, kh), (.kw, kw), (.strideH, strideH),
                         (.strideW, strideW), (.padTop, padTop), (.padBottom, padBottom), (.padLeft, padLeft),
                         (.padRight, padRight), (.dilationH, dilationH), (.dilationW, dilationW), (.groups, groups)] {
            try k.encode(v, forKey: key)
        }
    }
}


extension Pool2DGeometry: Codable {
    private enum Keys: String, CodingKey { case n, c, h, w, kh, kw, strideH, strideW, padTop, padBottom, padLeft, padRight, oh, ow }

    public init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: Keys.self)
        func i(_ key: Keys) throws -> Int { try k.decode(Int.self, forKey: key) }
        try self.init(n: i(.n), c: i(.c), h: i(.h), w: i(.w), kernelH: i(.kh), kernelW: i(.kw), strideH: i(.strideH),
                      strideW: i(.strideW), padTop: i(.padTop), padBottom: i(.padBottom), padLeft: i(.padLeft),
                      padRight: i(.padRight), oh: i(.oh), ow: i(.ow))
    }

    public func encode(to encoder: Encoder) throws {
        var k = encoder.container(keyedBy: Keys.self)
        for (key, v) in [(Keys.n, n), (.c, c), (.h, h), (.w, w), (.kh, kh), (.kw, kw), (.strideH, strideH), (.strideW, strideW),
                         (.padTop, padTop), (.padBottom, padBottom), (.padLeft, padLeft), (.padRight, padRight), (.oh, oh),
                         (.ow, ow)] {
            try k.encode(v, forKey: key)
        }
    }
}

extension Pad2DGeometry: Codable {
    private enum Keys: String, CodingKey { case n, c, h, w, top, bottom, left, right, mode }

    public init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: Keys.self)
        func i(_ key: Keys) throws -> Int { try k.decode(Int.self, forKey: key) }
        try self.init(n: i(.n), c: i(.c), h: i(.h), w: i(.w), top: i(.top), bottom: i(.bottom), left: i(.left),
                      right: i(.right), mode: k.decode(PadMode.self, forKey: .mode))
    }

    public func encode(to encoder: Encoder) throws {
        var k = encoder.container(keyedBy: Keys.self)
        for (key, v) in [(Keys.n, n), (.c, c), (.h, h), (.w, w), (.top, top), (.bottom, bottom), (.left, left), (.right, right)] {
            try k.encode(v, forKey: key)
        }
        try k.encode(mode, forKey: .mode)
    }
}

extension GemmPlan: Codable {
    private enum Keys: String, CodingKey { case m, n, k, transA, transB, lda, ldb, ldc }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        try self.init(m: c.decode(Int.self, forKey: .m), n: c.decode(Int.self, forKey: .n), k: c.decode(Int.self, forKey: .k),
                      transA: c.decode(Bool.self, forKey: .transA), transB: c.decode(Bool.self, forKey: .transB),
                      lda: c.decode(Int.self, forKey: .lda), ldb: c.decode(Int.self, forKey: .ldb),
                      ldc: c.decode(Int.self, forKey: .ldc))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(m, forKey: .m)
        try c.encode(n, forKey: .n)
        try c.encode(k, forKey: .k)
        try c.encode(transA, forKey: .transA)
        try c.encode(transB, forKey: .transB)
        try c.encode(lda, forKey: .lda)
        try c.encode(ldb, forKey: .ldb)
        try c.encode(ldc, forKey: .ldc)
    }
}

extension BatchedGemmPlan: Codable {
    private enum Keys: String, CodingKey { case gemm, batch, strideA, strideB, strideC, broadcast }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        try self.init(c.decode(GemmPlan.self, forKey: .gemm), batch: c.decode(Int.self, forKey: .batch),
                      strideA: c.decode(Int.self, forKey: .strideA), strideB: c.decode(Int.self, forKey: .strideB),
                      strideC: c.decode(Int.self, forKey: .strideC),
                      broadcast: c.decodeIfPresent(BatchBroadcast.self, forKey: .broadcast))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(gemm, forKey: .gemm)
        try c.encode(batch, forKey: .batch)
        try c.encode(strideA, forKey: .strideA)
        try c.encode(strideB, forKey: .strideB)
        try c.encode(strideC, forKey: .strideC)
        try c.encodeIfPresent(broadcast, forKey: .broadcast)
    }
}

extension BroadcastPlan: Codable {
    private enum Keys: String, CodingKey { case lhs, rhs }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        try self.init(lhs: c.decode([Int].self, forKey: .lhs), rhs: c.decode([Int].self, forKey: .rhs))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(lhsShape, forKey: .lhs)
        try c.encode(rhsShape, forKey: .rhs)
    }
}

extension ReductionPlan: Codable {
    private enum Keys: String, CodingKey { case shape, axes }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        try self.init(shape: c.decode([Int].self, forKey: .shape), axes: c.decode([Int].self, forKey: .axes))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(inputShape, forKey: .shape)
        try c.encode(axes, forKey: .axes)
    }
}

extension TransposePlan: Codable {
    private enum Keys: String, CodingKey { case shape, perm }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        try self.init(shape: c.decode([Int].self, forKey: .shape), perm: c.decode([Int].self, forKey: .perm))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(inputShape, forKey: .shape)
        try c.encode(perm, forKey: .perm)
    }
}

extension ConcatPlan: Codable {
    private enum Keys: String, CodingKey { case shapes, axis }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        try self.init(shapes: c.decode([[Int]].self, forKey: .shapes), axis: c.decode(Int.self, forKey: .axis))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(inputShapes, forKey: .shapes)
        try c.encode(axis, forKey: .axis)
    }
}

extension SlicePlan: Codable {
    private enum Keys: String, CodingKey { case shape, start, end, step }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        try self.init(shape: c.decode([Int].self, forKey: .shape), start: c.decode([Int].self, forKey: .start),
                      end: c.decode([Int].self, forKey: .end), step: c.decode([Int].self, forKey: .step))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(inputShape, forKey: .shape)
        try c.encode(start, forKey: .start)
        try c.encode(end, forKey: .end)
        try c.encode(step, forKey: .step)
    }
}

extension BroadcastToPlan: Codable {
    private enum Keys: String, CodingKey { case from, to }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        try self.init(from: c.decode([Int].self, forKey: .from), to: c.decode([Int].self, forKey: .to))
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(inputShape, forKey: .from)
        try c.encode(outputShape, forKey: .to)
    }
}
