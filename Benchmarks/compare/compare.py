#!/usr/bin/env python3
"""Training-step time of dlg, PyTorch (eager) and JAX (jit) on the same models,
batch sizes and optimizer, measured in one run with the frameworks interleaved.

Models: MLP 784-512-256-10 (Graphs/mnist_mlp.dlg), LeNet-5 (Graphs/lenet5.dlg),
ResNet-20 for 32x32 images (Graphs/resnet_cifar.dlg). Optimizer: SGD with
momentum 0.9 (PyTorch's form), softmax cross-entropy, random data. Each
framework gets 2 threads. Prints a table of medians and ratios; --json writes
the raw figures.

Run it through compare.sh, which creates the virtual environment.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

THREADS = int(os.environ.get("DLG_COMPARE_THREADS", "2"))
os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={THREADS}")
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

torch.set_num_threads(THREADS)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LR, MOMENTUM = 0.01, 0.9
ORDER = ["dlg", "torch", "jax"]

MODELS = {
    "mlp": ("Graphs/mnist_mlp.dlg", (1, 28, 28)),
    "lenet5": ("Graphs/lenet5.dlg", (1, 28, 28)),
    "resnet20": ("Graphs/resnet_cifar.dlg", (3, 32, 32)),
}

# ---------------------------------------------------------------- PyTorch

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.h1, self.h2, self.out = nn.Linear(784, 512), nn.Linear(512, 256), nn.Linear(256, 10)

    def forward(self, x):
        x = x.flatten(1)
        return self.out(F.relu(self.h2(F.relu(self.h1(x)))))


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c3 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        self.f5, self.f6, self.out = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        return self.out(F.relu(self.f6(F.relu(self.f5(x.flatten(1))))))


class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a, self.ab = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.b, self.bb = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bb(self.b(F.relu(self.ab(self.a(x)))))
        return F.relu(y + (self.skip(x) if self.skip is not None else x))


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.sb = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for stage, width in enumerate([16, 32, 64]):
            for i in range(3):
                blocks.append(Basic(cin, width, 2 if i == 0 and stage > 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        x = self.blocks(F.relu(self.sb(self.stem(x))))
        return self.out(x.mean((2, 3)))


def torch_step(name, batch, shape):
    model = {"mlp": MLP, "lenet5": LeNet5, "resnet20": ResNet20}[name]()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step

# ---------------------------------------------------------------- JAX

def init_linear(key, fan_in, fan_out):
    b = 1 / np.sqrt(fan_in)
    k1, k2 = jax.random.split(key)
    return {"w": jax.random.uniform(k1, (fan_in, fan_out), minval=-b, maxval=b),
            "b": jax.random.uniform(k2, (fan_out,), minval=-b, maxval=b)}


def init_conv(key, cin, cout, k, bias=True):
    b = 1 / np.sqrt(cin * k * k)
    k1, k2 = jax.random.split(key)
    p = {"w": jax.random.uniform(k1, (cout, cin, k, k), minval=-b, maxval=b)}
    if bias:
        p["b"] = jax.random.uniform(k2, (cout,), minval=-b, maxval=b)
    return p


def conv(p, x, stride=1, pad=0):
    y = lax.conv_general_dilated(x, p["w"], (stride, stride), [(pad, pad), (pad, pad)],
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + p["b"][None, :, None, None] if "b" in p else y


def maxpool2(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def batchnorm(p, x):
    mean = x.mean((0, 2, 3), keepdims=True)
    var = ((x - mean) ** 2).mean((0, 2, 3), keepdims=True)
    return (x - mean) * lax.rsqrt(var + 1e-5) * p["g"][None, :, None, None] + p["b"][None, :, None, None]


def jax_model(name):
    key = jax.random.PRNGKey(0)
    ks = list(jax.random.split(key, 64))
    if name == "mlp":
        params = [init_linear(ks[0], 784, 512), init_linear(ks[1], 512, 256), init_linear(ks[2], 256, 10)]

        def apply(p, x):
            x = x.reshape(x.shape[0], -1)
            x = jax.nn.relu(x @ p[0]["w"] + p[0]["b"])
            x = jax.nn.relu(x @ p[1]["w"] + p[1]["b"])
            return x @ p[2]["w"] + p[2]["b"]
        return params, apply
    if name == "lenet5":
        params = [init_conv(ks[0], 1, 6, 5), init_conv(ks[1], 6, 16, 5), init_linear(ks[2], 400, 120),
                  init_linear(ks[3], 120, 84), init_linear(ks[4], 84, 10)]

        def apply(p, x):
            x = maxpool2(jax.nn.relu(conv(p[0], x, pad=2)))
            x = maxpool2(jax.nn.relu(conv(p[1], x)))
            x = x.reshape(x.shape[0], -1)
            x = jax.nn.relu(x @ p[2]["w"] + p[2]["b"])
            x = jax.nn.relu(x @ p[3]["w"] + p[3]["b"])
            return x @ p[4]["w"] + p[4]["b"]
        return params, apply
    # ResNet-20
    def bn(c):
        return {"g": jnp.ones(c), "b": jnp.zeros(c)}
    params = {"stem": init_conv(ks[0], 3, 16, 3, False), "sb": bn(16), "blocks": [], "out": init_linear(ks[1], 64, 10)}
    cin, k = 16, 2
    config = []
    for stage, width in enumerate([16, 32, 64]):
        for i in range(3):
            stride = 2 if i == 0 and stage > 0 else 1
            blk = {"a": init_conv(ks[k], cin, width, 3, False), "ab": bn(width),
                   "b": init_conv(ks[k + 1], width, width, 3, False), "bb": bn(width)}
            if stride != 1 or cin != width:
                blk["s"] = init_conv(ks[k + 2], cin, width, 1, False)
                blk["sb"] = bn(width)
            params["blocks"].append(blk)
            config.append(stride)
            cin, k = width, k + 3

    def apply(p, x):
        x = jax.nn.relu(batchnorm(p["sb"], conv(p["stem"], x, pad=1)))
        for blk, stride in zip(p["blocks"], config):
            y = jax.nn.relu(batchnorm(blk["ab"], conv(blk["a"], x, stride, 1)))
            y = batchnorm(blk["bb"], conv(blk["b"], y, 1, 1))
            s = batchnorm(blk["sb"], conv(blk["s"], x, stride, 0)) if "s" in blk else x
            x = jax.nn.relu(y + s)
        return x.mean((2, 3)) @ p["out"]["w"] + p["out"]["b"]
    return params, apply


def jax_step(name, batch, shape):
    params, apply = jax_model(name)
    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)

    def loss_fn(p, x, y):
        logits = apply(p, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    @jax.jit
    def train(p, v, x, y):
        g = jax.grad(loss_fn)(p, x, y)
        v = jax.tree_util.tree_map(lambda vi, gi: MOMENTUM * vi + gi, v, g)
        p = jax.tree_util.tree_map(lambda pi, vi: pi - LR * vi, p, v)
        return p, v

    x = jax.random.uniform(jax.random.PRNGKey(1), (batch, *shape))
    y = jax.random.randint(jax.random.PRNGKey(2), (batch,), 0, 10)
    state = [params, velocity]

    def step():
        state[0], state[1] = train(state[0], state[1], x, y)
        jax.block_until_ready(state[0])
    return step

# ---------------------------------------------------------------- dlg

def dlg_times(dlg, name, batch, steps):
    path = os.path.join(ROOT, MODELS[name][0])
    out = subprocess.run([dlg, "bench", path, "--batch", str(batch), "--steps", str(steps), "--warmup", "3",
                          "--threads", str(THREADS), "--optimizer", f"sgd(lr: {LR}, momentum: {MOMENTUM}, form: pytorch)",
                          "--json"], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    return r["median_ms"], r


def python_times(step, steps):
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    return times


def worker_times(framework, name, batch, steps):
    """One framework in its own process, so that neither's idle threads (OpenMP, Eigen) spin
    while the other runs."""
    out = subprocess.run([sys.executable, __file__, "--worker", framework, "--models", name, "--batches", str(batch),
                          "--steps", str(steps)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def worker(framework, name, batch, steps):
    shape = MODELS[name][1]
    step = (torch_step if framework == "torch" else jax_step)(name, batch, shape)
    for _ in range(3):
        step()
    print(json.dumps(python_times(step, steps)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dlg", default=os.path.join(ROOT, ".build", "release", "dlg"))
    ap.add_argument("--models", default="mlp,lenet5,resnet20")
    ap.add_argument("--batches", default="1,32,128")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds of pause before each framework's run")
    ap.add_argument("--baseline-dlg", help="a second dlg binary (an older commit's release build), timed in the same "
                    "rounds: its times, its ratios to the peers and the dlg/baseline ratio are added")
    ap.add_argument("--json")
    ap.add_argument("--worker", choices=["torch", "jax"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.models, int(a.batches), a.steps)
    results = []
    print(f"threads: {THREADS}; torch {torch.__version__}, jax {jax.__version__}; {a.rounds} rounds × {a.steps} steps, interleaved"
          f" in rotating order, {a.settle:g} s pause before each run",
          file=sys.stderr)
    for name in a.models.split(","):
        shape = MODELS[name][1]
        for batch in [int(b) for b in a.batches.split(",")]:
            d, t, j = [], [], []
            over_torch, over_jax, percent = [], [], []
            base, base_over_torch, base_over_jax, over_base = [], [], [], []
            order = ORDER + (["baseline"] if a.baseline_dlg else [])
            for r in range(a.rounds):
                # The order rotates every round, and each process starts after a pause: on the
                # development machine a process started right after JAX's exit ran up to 1.8x slower
                # for its first seconds, which a fixed order would always charge to the same framework.
                got = {}
                k = r % len(order)
                for fw in order[k:] + order[:k]:
                    time.sleep(a.settle)
                    if fw == "dlg":
                        got[fw], extra = dlg_times(a.dlg, name, batch, a.steps)
                        percent.append(extra["percent_of_peak"])
                    elif fw == "baseline":
                        got[fw], _ = dlg_times(a.baseline_dlg, name, batch, a.steps)
                    else:
                        got[fw] = worker_times(fw, name, batch, a.steps)
                med, rt, rj = got["dlg"], got["torch"], got["jax"]
                d.append(med)
                t += rt
                j += rj
                # Each round's ratio compares runs made seconds apart, so the machine's slower drifts cancel.
                over_torch.append(med / statistics.median(rt))
                over_jax.append(med / statistics.median(rj))
                if a.baseline_dlg:
                    b = got["baseline"]
                    base.append(b)
                    base_over_torch.append(b / statistics.median(rt))
                    base_over_jax.append(b / statistics.median(rj))
                    over_base.append(med / b)
            row = {"model": name, "batch": batch, "dlg_ms": statistics.median(d), "torch_ms": statistics.median(t),
                   "jax_ms": statistics.median(j), "dlg_percent_of_sgemm_peak": statistics.median(percent),
                   "dlg_percent_of_sgemm_peak_rounds": percent,
                   "dlg_over_torch": statistics.median(over_torch), "dlg_over_jax": statistics.median(over_jax),
                   "dlg_over_torch_rounds": over_torch, "dlg_over_jax_rounds": over_jax}
            if a.baseline_dlg:
                row.update({"baseline_ms": statistics.median(base),
                            "baseline_over_torch": statistics.median(base_over_torch),
                            "baseline_over_jax": statistics.median(base_over_jax),
                            "dlg_over_baseline": statistics.median(over_base), "dlg_over_baseline_rounds": over_base})
            results.append(row)
            print(f"{name:9s} B={batch:<4d} dlg {row['dlg_ms']:8.3f} ms  torch {row['torch_ms']:8.3f} ms  jax {row['jax_ms']:8.3f} ms"
                  f"  dlg/torch {row['dlg_over_torch']:.2f} ({min(over_torch):.2f}-{max(over_torch):.2f})"
                  f"  dlg/jax {row['dlg_over_jax']:.2f} ({min(over_jax):.2f}-{max(over_jax):.2f})"
                  f"  dlg {row['dlg_percent_of_sgemm_peak']:.0f}% of peak ({min(percent):.0f}-{max(percent):.0f})",
                  file=sys.stderr, flush=True)
            if a.baseline_dlg:
                print(f"{'':9s}        baseline {row['baseline_ms']:8.3f} ms  baseline/torch {row['baseline_over_torch']:.2f}"
                      f"  baseline/jax {row['baseline_over_jax']:.2f}  dlg/baseline {row['dlg_over_baseline']:.3f}"
                      f" ({min(over_base):.3f}-{max(over_base):.3f})", file=sys.stderr, flush=True)
    print("| model | batch | dlg (ms) | PyTorch eager (ms) | JAX jit (ms) | dlg / PyTorch (rounds) | dlg / JAX (rounds) "
          "| dlg, % of sgemm peak (rounds) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        ot, oj, pp = r["dlg_over_torch_rounds"], r["dlg_over_jax_rounds"], r["dlg_percent_of_sgemm_peak_rounds"]
        print(f"| {r['model']} | {r['batch']} | {r['dlg_ms']:.3f} | {r['torch_ms']:.3f} | {r['jax_ms']:.3f} | "
              f"{r['dlg_over_torch']:.2f} ({min(ot):.2f}–{max(ot):.2f}) | {r['dlg_over_jax']:.2f} ({min(oj):.2f}–{max(oj):.2f}) | "
              f"{r['dlg_percent_of_sgemm_peak']:.0f} ({min(pp):.0f}–{max(pp):.0f}) |")
    if a.baseline_dlg:
        print()
        print("| model | batch | baseline dlg (ms) | dlg (ms) | baseline / PyTorch | dlg / PyTorch | baseline / JAX "
              "| dlg / JAX | dlg / baseline (rounds) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in results:
            ob = r["dlg_over_baseline_rounds"]
            print(f"| {r['model']} | {r['batch']} | {r['baseline_ms']:.3f} | {r['dlg_ms']:.3f} | {r['baseline_over_torch']:.2f} | "
                  f"{r['dlg_over_torch']:.2f} | {r['baseline_over_jax']:.2f} | {r['dlg_over_jax']:.2f} | "
                  f"{r['dlg_over_baseline']:.3f} ({min(ob):.3f}–{max(ob):.3f}) |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
