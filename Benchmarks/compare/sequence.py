#!/usr/bin/env python3
"""Training-step time of dlg, PyTorch eager and PyTorch with torch.compile on
sequence models, measured in one run with the frameworks interleaved.

Models: a one-layer LSTM language model over embeddings
(Benchmarks/compare/models/lstm_lm.dlg: batch 32, T 64, vocab 64, embedding 64,
hidden 256). Optimizer: Adam (lr 1e-3, PyTorch's defaults otherwise), softmax
cross-entropy at every position, random tokens. Each framework gets 2
threads and runs in its own process. Prints a table of medians and
per-round ratios; --json writes the raw figures.

Run it through sequence.sh, which creates the virtual environment.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

THREADS = int(os.environ.get("DLG_COMPARE_THREADS", "2"))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LR = 1e-3
ORDER = ["dlg", "eager", "compile"]

# name: (dlg file, batch, steps T, vocab, embedding, hidden)
MODELS = {
    "lstm": ("Benchmarks/compare/models/lstm_lm.dlg", 32, 64, 64, 64, 256),
}


def torch_step(name, compiled):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(THREADS)
    _, batch, steps, vocab, embedding, hidden = MODELS[name]

    class LSTMLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embedding)
            self.lstm = nn.LSTM(embedding, hidden, batch_first=True)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, tokens, labels):
            h, _ = self.lstm(self.embedding(tokens))
            logits = self.head(h)
            return F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1))

    model = LSTMLM()
    loss_fn = torch.compile(model) if compiled else model
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    tokens = torch.randint(0, vocab, (batch, steps))
    labels = torch.randint(0, vocab, (batch, steps))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(tokens, labels)
        loss.backward()
        opt.step()
    return step


def dlg_times(dlg, name, steps):
    path = os.path.join(ROOT, MODELS[name][0])
    out = subprocess.run([dlg, "bench", path, "--batch", str(MODELS[name][1]), "--steps", str(steps), "--warmup", "3",
                          "--threads", str(THREADS), "--optimizer", f"adam(lr: {LR})", "--json"],
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    return r["median_ms"], r


def worker_times(framework, name, steps):
    out = subprocess.run([sys.executable, __file__, "--worker", framework, "--models", name, "--steps", str(steps)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def worker(framework, name, steps):
    step = torch_step(name, framework == "compile")
    for _ in range(5):  # torch.compile compiles during the first steps
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    print(json.dumps(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dlg", default=os.path.join(ROOT, ".build", "release", "dlg"))
    ap.add_argument("--models", default="lstm")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds of pause before each framework's run")
    ap.add_argument("--json")
    ap.add_argument("--worker", choices=["eager", "compile"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.models, a.steps)
    import torch
    load = os.getloadavg()
    print(f"threads: {THREADS}; torch {torch.__version__}; {a.rounds} rounds × {a.steps} steps, interleaved in rotating order, "
          f"{a.settle:g} s pause before each run; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", file=sys.stderr)
    results = []
    for name in a.models.split(","):
        times = {fw: [] for fw in ORDER}
        ratios = {"eager": [], "compile": []}
        arena = None
        for r in range(a.rounds):
            got = {}
            for fw in ORDER[r % 3:] + ORDER[:r % 3]:
                time.sleep(a.settle)
                if fw == "dlg":
                    got[fw], extra = dlg_times(a.dlg, name, a.steps)
                    arena = extra["arena_bytes"]
                    times[fw].append(got[fw])
                else:
                    t = worker_times(fw, name, a.steps)
                    got[fw] = statistics.median(t)
                    times[fw] += t
            for fw in ratios:
                ratios[fw].append(got["dlg"] / got[fw])
        row = {"model": name, "batch": MODELS[name][1], "dlg_ms": statistics.median(times["dlg"]),
               "eager_ms": statistics.median(times["eager"]), "compile_ms": statistics.median(times["compile"]),
               "dlg_over_eager": statistics.median(ratios["eager"]), "dlg_over_compile": statistics.median(ratios["compile"]),
               "dlg_over_eager_rounds": ratios["eager"], "dlg_over_compile_rounds": ratios["compile"],
               "dlg_arena_bytes": arena, "load_average": load}
        results.append(row)
        print(f"{name:6s} B={row['batch']:<3d} dlg {row['dlg_ms']:8.2f} ms  eager {row['eager_ms']:8.2f} ms  compile {row['compile_ms']:8.2f} ms"
              f"  dlg/eager {row['dlg_over_eager']:.2f}  dlg/compile {row['dlg_over_compile']:.2f}", file=sys.stderr, flush=True)
    end = os.getloadavg()
    print(f"load average at the end: {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}", file=sys.stderr)
    print("| model | batch | dlg (ms) | PyTorch eager (ms) | torch.compile (ms) | dlg / eager (rounds) | dlg / compile (rounds) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        e, c = r["dlg_over_eager_rounds"], r["dlg_over_compile_rounds"]
        print(f"| {r['model']} | {r['batch']} | {r['dlg_ms']:.2f} | {r['eager_ms']:.2f} | {r['compile_ms']:.2f} | "
              f"{r['dlg_over_eager']:.2f} ({min(e):.2f}–{max(e):.2f}) | {r['dlg_over_compile']:.2f} ({min(c):.2f}–{max(c):.2f}) |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
