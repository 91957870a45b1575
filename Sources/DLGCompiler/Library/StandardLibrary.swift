/// The bundled library: modules of blocks written in `.dlg`, which a model file
/// uses by name (`use nn`). Docs/library.md describes every block.
public enum StandardLibrary {
    /// The modules by name.
    public static let modules: [String: String] = ["nn": nn]

    /// How a module's path is shown in diagnostics.
    public static func displayPath(_ name: String) -> String { "<library>/\(name).dlg" }

    static let nn = """
        # nn: blocks for dense and convolutional networks (use nn).

        # Two dense layers with a ReLU between them: x → dense(hidden) → relu → dense(out).
        block mlp_block(x, hidden, out) {
            return dense(relu(dense(x, hidden)), out)
        }

        # A residual block over features [B, F]: relu(x + mlp_block(x, hidden, F)).
        block residual_block(x, hidden) {
            return relu(x + mlp_block(x, hidden, shape(x)[1]))
        }

        # ResNet's basic block: two 3×3 convolutions with batch normalization, and a
        # 1×1 projection on the skip path when the stride or the channel count changes.
        block conv_residual_block(x, filters, stride = 1) {
            a = relu(batchnorm(conv2d(x, filters: filters, kernel: 3, stride: stride, pad: same, bias: false)))
            b = batchnorm(conv2d(a, filters: filters, kernel: 3, pad: same, bias: false))
            skip = if stride != 1 || channels(x) != filters
                   then batchnorm(conv2d(x, filters: filters, kernel: 1, stride: stride, bias: false))
                   else x
            return relu(b + skip)
        }

        """
}
