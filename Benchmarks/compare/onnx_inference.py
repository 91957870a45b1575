"""Inference (forward pass) of the same exported models: dlg against ONNX Runtime
and PyTorch eager, 2 threads each, interleaved rounds.

For Graphs/mnist_mlp.dlg and Graphs/lenet5.dlg at batch 1 and 64:
`dlg export` writes the ONNX file (seeded weights); ONNX Runtime runs that file;
PyTorch runs the same network rebuilt from the file's initializers (eager, no
autograd); dlg runs `dlg bench --inference`. Each round times every engine once
(median of --steps calls after a warm-up) and the rounds alternate, so that the
machine's drift falls on all of them; the table shows, per engine, the median over
rounds of each round's median, and the smallest single call (the least disturbed by
other processes on a shared machine), each as a ratio to ONNX Runtime's. The load
average before and after is printed with the table.

Usage: onnx_inference.py --dlg PATH [--rounds 5] [--steps 200] [--threads 2]
Needs onnx, onnxruntime, numpy and torch.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = {"MLP": "mnist_mlp.dlg", "LeNet-5": "lenet5.dlg"}


def torch_module(path):
    """The exported graph as a PyTorch module, node by node (the ops these two models use)."""
    m = onnx.load(path)
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    nodes = list(m.graph.node)

    def forward(x):
        v = {m.graph.input[0].name: x}
        get = lambda n: v[n] if n in v else init[n]
        for n in nodes:
            a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
            i = [get(s) for s in n.input if s]
            if n.op_type == "Conv":
                p = a.get("pads", [0, 0, 0, 0])
                y = torch.nn.functional.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, a.get("strides", [1, 1]), (p[0], p[1]))
            elif n.op_type == "Relu":
                y = torch.relu(i[0])
            elif n.op_type == "MaxPool":
                y = torch.nn.functional.max_pool2d(i[0], a["kernel_shape"], a.get("strides"))
            elif n.op_type == "Flatten":
                y = torch.flatten(i[0], 1)
            elif n.op_type == "Gemm":
                y = torch.addmm(i[2], i[0], i[1])
            else:
                raise SystemExit(f"onnx_inference.py: no PyTorch rule for {n.op_type}")
            v[n.output[0]] = y
        return v[m.graph.output[0].name]
    return forward


def time_calls(f, steps):
    """(median, min) of `steps` calls after a warm-up, in ms."""
    for _ in range(max(5, steps // 10)):
        f()
    t = []
    for _ in range(steps):
        s = time.perf_counter()
        f()
        t.append(time.perf_counter() - s)
    return statistics.median(t) * 1e3, min(t) * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dlg", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    work = tempfile.mkdtemp(prefix="dlg-onnx-bench-")
    load_before = os.getloadavg()
    rows = []
    for label, file in MODELS.items():
        graph = os.path.join(ROOT, "Graphs", file)
        path = os.path.join(work, file.replace(".dlg", ".onnx"))
        subprocess.run([a.dlg, "export", graph, "-o", path], check=True, capture_output=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = a.threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        shape = session.get_inputs()[0].shape
        net = torch_module(path)
        for batch in (1, 64):
            x = np.random.default_rng(0).random([batch] + list(shape[1:]), dtype=np.float32)
            tx = torch.from_numpy(x)
            times = {"dlg": [], "ONNX Runtime": [], "PyTorch eager": []}
            mins = {k: [] for k in times}
            for _ in range(a.rounds):
                r = subprocess.run([a.dlg, "bench", graph, "--inference", "--batch", str(batch), "--steps", str(a.steps),
                                    "--threads", str(a.threads), "--json"], check=True, capture_output=True, text=True)
                j = json.loads(r.stdout)
                times["dlg"].append(j["median_ms"])
                mins["dlg"].append(j["min_ms"])
                m, lo = time_calls(lambda: session.run(None, {name: x}), a.steps)
                times["ONNX Runtime"].append(m)
                mins["ONNX Runtime"].append(lo)
                with torch.inference_mode():
                    m, lo = time_calls(lambda: net(tx), a.steps)
                times["PyTorch eager"].append(m)
                mins["PyTorch eager"].append(lo)
            med = {k: statistics.median(v) for k, v in times.items()}
            low = {k: min(v) for k, v in mins.items()}
            rows.append((label, batch, med, low))
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; {a.rounds} rounds of {a.steps} calls, {a.threads} threads")
    print("| model | batch | dlg ms | ONNX Runtime ms | PyTorch eager ms | dlg / ORT | PyTorch / ORT | min: dlg / ORT / PyTorch ms | min: dlg / ORT |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, batch, m, lo in rows:
        o = m["ONNX Runtime"]
        print(f"| {label} | {batch} | {m['dlg']:.3f} | {o:.3f} | {m['PyTorch eager']:.3f} | {m['dlg'] / o:.2f} | {m['PyTorch eager'] / o:.2f} "
              f"| {lo['dlg']:.3f} / {lo['ONNX Runtime']:.3f} / {lo['PyTorch eager']:.3f} | {lo['dlg'] / lo['ONNX Runtime']:.2f} |")


if __name__ == "__main__":
    main()
