/// The bundled library: modules of blocks written in `.dlg`, which a model file
/// uses by name (`use nn`). Docs/library.md describes every block.
public enum StandardLibrary {
    /// The modules by name.
    public static let modules: [String: String] = ["nn": nn]

    /// How a module's path is shown in diagnostics.
    public static func displayPath(_ name: String) -> String { "<library>/\(name).dlg" }

    static let nn = """
        # nn: blocks for dense, convolutional and transformer networks (use nn).

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

        # A transformer's position-wise feed-forward block over x [B, T, D]:
        # dense(hidden) → gelu → dense back to D.
        block transformer_mlp(x, hidden) {
            return dense(gelu(dense(x, hidden)), shape(x)[2])
        }

        # A pre-norm transformer encoder block (GPT-2, ViT) over x [B, T, D]:
        # a = x + multi_head_attention(layer_norm(x)), then a + transformer_mlp(layer_norm(a)).
        block encoder_block(x, heads, hidden, causal = false) {
            a = x + multi_head_attention(layer_norm(x), heads: heads, causal: causal)
            return a + transformer_mlp(layer_norm(a), hidden)
        }

        # A post-norm transformer encoder block (the original Transformer, PyTorch's
        # nn.TransformerEncoderLayer): a = layer_norm(x + attention(x)), then layer_norm(a + mlp(a)).
        block encoder_block_post(x, heads, hidden, causal = false) {
            a = layer_norm(x + multi_head_attention(x, heads: heads, causal: causal))
            return layer_norm(a + transformer_mlp(a, hidden))
        }

        # A GPT decoder block: the pre-norm encoder block with causal self-attention
        # (position t attends to positions ≤ t).
        block decoder_block(x, heads, hidden) {
            return encoder_block(x, heads, hidden, causal: true)
        }

        """
}
