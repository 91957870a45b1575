"""PyTorch → ONNX → dlg, checked against PyTorch.

For an MLP (with ReLU, and with GELU), LeNet-5, a ResNet-18-style and a MobileNet-style network,
embedding + LSTM (+ a Linear head at every step; one layer, two stacked, bidirectional) language models,
and embedding + a 2-layer nn.TransformerEncoder (+ a Linear head), built in PyTorch with fixed random
weights (batchnorm running statistics, layer norm and attention biases randomized too):

  1. export with torch.onnx.export (the TorchScript exporter without constant
     folding, opset 17; and, when onnxscript is installed, the dynamo exporter at
     its opset 18, optimized as by default and, for the networks with batchnorm,
     unoptimized), batch dynamic (fixed at 4 for the transformer, whose attention
     folds batch and heads into one axis);
  2. dlg import --loss cross_entropy;
  3. dlg run on a batch: outputs equal PyTorch's eval-mode outputs within 1e-5
     of their largest magnitude;
  4. dlg gradcheck on the imported .dlg passes;
  5. one SGD step (lr 0.1, cross entropy — for a sequence, the mean over every
     position — the whole batch, training form:
     batchnorm on batch statistics) from the imported weights: every parameter
     equals PyTorch's after the same step within 1e-5 of its largest magnitude.

Usage: torch_roundtrip.py --dlg PATH/TO/dlg [--work DIR] [--models mlp,lenet5,…]
                         [--exporters torchscript,dynamo,dynamo-unoptimized]
Needs torch, onnx, numpy, safetensors (and onnxscript for the dynamo exporter).
Prints one line per check and exits 1 when one fails.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
from safetensors.numpy import load_file, save_file

TOL = 1e-5


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)), (1, 28, 28)


def mlp_gelu():
    # nn.GELU: below opset 20 both exporters write it with Erf, x·½(1 + erf(x/√2)).
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.GELU(), nn.Linear(64, 10)), (1, 28, 28)


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)), (1, 28, 28)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    """ResNet-18's structure (stem, stages of basic blocks, global pooling) at CIFAR size."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 16, 1))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet():
    return ResNet(), (3, 32, 32)


def mobilenet():
    def block(cin, cout, stride):
        return nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU6(),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6())
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
        block(16, 32, 1), block(32, 64, 2), block(64, 64, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)), (3, 32, 32)


VOCAB, STEPS = 20, 6


class SequenceModel(nn.Module):
    """Embedding + LSTM (+ a Linear head at every step): a small language model's shape."""

    def __init__(self, layers=1, bidirectional=False):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 8)
        self.lstm = nn.LSTM(8, 16, num_layers=layers, bidirectional=bidirectional, batch_first=True)
        self.fc = nn.Linear(16 * (2 if bidirectional else 1), VOCAB)

    def forward(self, tokens):
        h, _ = self.lstm(self.emb(tokens))
        return self.fc(h)


def lstm():
    return SequenceModel(), (STEPS,)


def lstm2():
    return SequenceModel(layers=2), (STEPS,)


def bilstm():
    return SequenceModel(bidirectional=True), (STEPS,)


class Encoder(nn.Module):
    """Embedding + a 2-layer nn.TransformerEncoder (post-norm, ReLU, no dropout) + a Linear head
    at every position: a small transformer encoder over token ids."""

    def __init__(self, d_model=32, heads=4, layers=2):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.fc = nn.Linear(d_model, VOCAB)

    def forward(self, tokens):
        return self.fc(self.encoder(self.emb(tokens)))


def transformer():
    return Encoder(), (STEPS,)


MODELS = {"mlp": mlp, "mlp_gelu": mlp_gelu, "lenet5": lenet5, "resnet": resnet, "mobilenet": mobilenet,
          "lstm": lstm, "lstm2": lstm2, "bilstm": bilstm, "transformer": transformer}
# Models whose input is token ids [B, T] and whose output is logits [B, T, VOCAB].
SEQUENCE_MODELS = {"lstm", "lstm2", "bilstm", "transformer"}
# Models exported with a fixed batch: PyTorch's attention folds batch and heads into one axis
# (q.view(T, B·heads, head_size)), a product of a symbolic size that dlg's shapes cannot state.
FIXED_BATCH = {"transformer"}
# The dynamo exporter's default optimization folds batchnorm into the convolutions (the
# inference is the same, the layers to train are not); "dynamo-unoptimized" (optimize=False)
# keeps BatchNormalization, so the SGD step is compared for the networks that have it.
EXPORTERS = ["torchscript", "dynamo", "dynamo-unoptimized"]


def randomize(model, seed):
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            # Not ones and zeros, which the TorchScript exporter would write once for every layer.
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        if isinstance(m, nn.TransformerEncoderLayer):
            # nn.TransformerEncoder deep-copies its layer, so every layer starts with the same weights,
            # which the dynamo exporter writes once (the import would then share them): draw each anew.
            m.linear1.reset_parameters()
            m.linear2.reset_parameters()
            m.self_attn._reset_parameters()
            m.self_attn.out_proj.reset_parameters()
        if isinstance(m, nn.MultiheadAttention):
            with torch.no_grad():
                m.in_proj_bias.uniform_(-0.2, 0.2)
                m.out_proj.bias.uniform_(-0.2, 0.2)
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


def scaled_difference(a, b):
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a - b).max())


class Checker:
    def __init__(self, dlg, work):
        self.dlg, self.work, self.failures = dlg, work, 0

    def check(self, label, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {label}: {detail}", flush=True)
        if not ok:
            self.failures += 1

    def run(self, args, label):
        r = subprocess.run([self.dlg] + args, capture_output=True, text=True)
        if r.returncode != 0:
            self.check(label, False, f"dlg {' '.join(args[:1])} exited {r.returncode}: {r.stderr.strip()[-2000:]}")
        return r

    def has_init_from(self):
        return "--init-from" in subprocess.run([self.dlg, "train", "--help"], capture_output=True, text=True).stdout

    def one_model(self, name, exporter):
        torch.manual_seed(0)
        model, shape = MODELS[name]()
        has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
        if exporter == "dynamo-unoptimized" and not has_bn:
            return  # the same file as the optimized export's
        dynamo = exporter != "torchscript"
        randomize(model, 1)
        tag = f"{name} ({exporter} exporter)"
        d = os.path.join(self.work, f"{name}_{exporter}")
        os.makedirs(d, exist_ok=True)
        batch = 4
        g = torch.Generator().manual_seed(2)
        sequence = name in SEQUENCE_MODELS
        if sequence:
            x = torch.randint(0, VOCAB, (batch, *shape), generator=g)
            labels = torch.randint(0, VOCAB, (batch, *shape), generator=g)
            np.save(f"{d}/x.npy", x.numpy().astype(np.int32))
        else:
            x = torch.randn(batch, *shape, generator=g)
            labels = torch.randint(0, 10, (batch,), generator=g)
            np.save(f"{d}/x.npy", x.numpy())
        np.save(f"{d}/y.npy", labels.numpy().astype(np.int32))
        input_name = "tokens" if sequence else "image"

        # 1. Export.
        model.eval()
        path = f"{d}/{name}.onnx"
        kwargs = dict(input_names=[input_name], output_names=["logits"], opset_version=17)
        dynamic = name not in FIXED_BATCH
        if dynamo:
            kwargs["opset_version"] = 18  # its own opset: converting down fails on ReduceMean's axes
            if dynamic:
                kwargs["dynamic_shapes"] = ({0: torch.export.Dim("B")},)
            torch.onnx.export(model, (x,), path, dynamo=True, optimize=exporter == "dynamo", **kwargs)
        else:
            if dynamic:
                kwargs["dynamic_axes"] = {input_name: {0: "B"}, "logits": {0: "B"}}
            # Without constant folding the exporter keeps BatchNormalization (with it, batchnorm
            # is folded into the convolutions: fine for inference, but no longer a layer that trains).
            torch.onnx.export(model, (x,), path, dynamo=False, do_constant_folding=False, **kwargs)

        # 2. Import.
        r = self.run(["import", path, "-o", d, "--name", name, "--loss", "cross_entropy"], f"{tag} import")
        if r.returncode != 0:
            return
        inputs = [l.split()[1].rstrip(":") for l in open(f"{d}/{name}.dlg") if l.strip().startswith("input ")]

        # 3. Inference.
        with torch.no_grad():
            expected = model(x).numpy()
        r = self.run(["run", f"{d}/{name}.dlg", "--weights", f"{d}/{name}.safetensors", "--input", f"{inputs[0]}={d}/x.npy",
                      "--output", f"{d}/out.npy", "--threads", "1"], f"{tag} run")
        if r.returncode == 0:
            diff = scaled_difference(np.load(f"{d}/out.npy"), expected)
            self.check(f"{tag} run", diff <= TOL, f"max |dlg − torch| / max |torch| = {diff:.2e}")

        # 4. Gradients.
        r = self.run(["gradcheck", f"{d}/{name}.dlg", "--samples", "8"] + (["--bind", "B=2"] if dynamic else []), f"{tag} gradcheck")
        if r.returncode == 0:
            self.check(f"{tag} gradcheck", True, r.stdout.strip().splitlines()[-1])

        # 5. One SGD step on the whole batch.
        if has_bn and "batchnorm(" not in open(f"{d}/{name}.dlg").read():
            print(f"skip {tag} SGD step: the exporter folded batchnorm into the convolutions "
                  "(inference is the same; the layers to train are not there)")
            return
        lr = 0.1
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        opt.zero_grad()
        out = model(x)
        nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), labels.reshape(-1)).backward()
        opt.step()
        after = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        weights = load_file(f"{d}/{name}.safetensors")
        train = ["train", f"{d}/{name}.dlg", "--data", f'npy("{d}/x.npy", "{d}/y.npy")', "--batch", "full",
                 "--no-shuffle", "--optimizer", f"sgd(lr: {lr})", "--threads", "1", "--seed", "0"]
        if self.has_init_from():
            r = self.run(train + ["--epochs", "1", "--init-from", f"{d}/{name}.safetensors",
                                  "--checkpoint", f"{d}/step.safetensors"], f"{tag} train step")
        else:
            # Without --init-from: a one-epoch checkpoint whose parameters are replaced by the
            # imported ones, resumed for one more epoch (one step: the batch is the whole set).
            r = self.run(train + ["--epochs", "1", "--checkpoint", f"{d}/c0.safetensors"], f"{tag} train step")
            if r.returncode != 0:
                return
            c0 = load_file(f"{d}/c0.safetensors")
            c0.update({k: v for k, v in weights.items() if k in c0})
            meta = {}
            with open(f"{d}/c0.safetensors", "rb") as f:
                import json
                n = int.from_bytes(f.read(8), "little")
                meta = json.loads(f.read(n)).get("__metadata__", {})
            save_file(c0, f"{d}/c0.safetensors", metadata=meta)
            r = self.run(train + ["--epochs", "2", "--resume", f"{d}/c0.safetensors", "--checkpoint", f"{d}/step.safetensors"],
                         f"{tag} train step")
        if r.returncode != 0:
            return
        stepped = load_file(f"{d}/step.safetensors")
        origin, transposed = self.origins(f"{d}/{name}.safetensors")
        worst, worst_name, compared = 0.0, "", 0
        stats = []
        for dlg_name, onnx_name in origin.items():
            key = self.torch_key(onnx_name, after)
            if key is None or dlg_name not in stepped:
                continue
            got, want = stepped[dlg_name], after[key]
            if dlg_name in transposed or got.shape != want.shape:
                want = want.T  # Gemm weights are [N, K] in PyTorch, [K, N] in dlg (square ones too)
            diff = scaled_difference(got, want)
            if "running_" in dlg_name:
                stats.append(diff)
                continue
            compared += 1
            if diff > worst:
                worst, worst_name = diff, dlg_name
        self.check(f"{tag} SGD step", compared > 0 and worst <= TOL,
                   f"{compared} trainable tensors compared, worst {worst_name or '-'} at {worst:.2e}")
        if stats:
            # Not a pass/fail check: PyTorch updates running_var with the unbiased batch variance.
            print(f"info {tag} SGD step: batchnorm running statistics ({len(stats)} tensors) differ by at most {max(stats):.2e}")

    @staticmethod
    def origins(path):
        import json
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            meta = json.loads(f.read(n)).get("__metadata__", {})
        # "ONNX initializer 'fc.weight' (transposed)" → fc.weight, and the parameter is transposed
        origin = {k: v.split("'")[1] for k, v in meta.items() if v.startswith("ONNX initializer '")}
        return origin, {k for k in origin if meta[k].endswith("(transposed)")}

    @staticmethod
    def torch_key(onnx_name, state):
        if onnx_name in state:
            return onnx_name
        # The dynamo exporter writes p_fc_weight-style names for some parameters.
        for k in state:
            if k.replace(".", "_") == onnx_name or "p_" + k.replace(".", "_") == onnx_name:
                return k
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dlg", required=True)
    p.add_argument("--work")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--exporters", default=",".join(EXPORTERS))
    a = p.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="dlg-torch-")
    c = Checker(os.path.abspath(a.dlg), work)
    torch.set_num_threads(1)
    for exporter in a.exporters.split(","):
        if exporter.startswith("dynamo"):
            try:
                import onnxscript  # noqa: F401
            except ImportError:
                print("skip dynamo exporter: onnxscript is not installed")
                continue
        for name in a.models.split(","):
            try:
                c.one_model(name, exporter)
            except Exception as e:  # an exporter failure is a result too
                c.check(f"{name} ({exporter} exporter)", False, f"{type(e).__name__}: {e}")
    print(f"{c.failures} failed; files in {work}")
    sys.exit(1 if c.failures else 0)


if __name__ == "__main__":
    main()
