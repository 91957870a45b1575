#!/usr/bin/env python3
"""Training-step time of dlg, PyTorch eager and PyTorch with torch.compile on
sequence models, measured in one run with the frameworks interleaved.

Models: a one-layer LSTM language model over embeddings
(Benchmarks/compare/models/lstm_lm.dlg: batch 32, T 64, vocab 64, embedding 64,
hidden 256) and GPT-mini (Benchmarks/compare/models/gpt_mini.dlg: batch 16,
T 128, vocab 64, d 128, 4 heads, 4 pre-norm causal decoder blocks with an MLP
of 4·d and the exact GELU, learned position embeddings, a final layer norm and
an untied output layer; the PyTorch model uses F.scaled_dot_product_attention
with is_causal=True). The parameter counts of both sides are printed and must
agree. Optimizer: Adam (lr 1e-3, PyTorch's defaults otherwise), softmax
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

# name: (dlg file, batch, steps T, vocab, embedding or d, hidden; heads and layers for the GPT)
MODELS = {
    "lstm": ("Benchmarks/compare/models/lstm_lm.dlg", 32, 64, 64, 64, 256),
    "gpt": ("Benchmarks/compare/models/gpt_mini.dlg", 16, 128, 64, 128, 512, 4, 4),
}


def torch_model(name):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    _, batch, steps, vocab, embedding, hidden = MODELS[name][:6]

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

    # The bundled library's decoder_block (Sources/DLGCompiler/Library): pre-norm,
    # a = x + out_proj(attention(in_proj(layer_norm(x)))), then a + mlp(layer_norm(a)),
    # in_proj one [3d, d] product cut into q, k, v (nn.MultiheadAttention's layout).
    class Block(nn.Module):
        def __init__(self, d, heads, hidden):
            super().__init__()
            self.heads = heads
            self.ln1 = nn.LayerNorm(d)
            self.in_proj = nn.Linear(d, 3 * d)
            self.out_proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, hidden)
            self.fc2 = nn.Linear(hidden, d)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.in_proj(self.ln1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.out_proj(a.transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self, heads, layers):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embedding)
            self.position = nn.Parameter(torch.randn(steps, embedding) * 0.02)
            self.blocks = nn.ModuleList(Block(embedding, heads, hidden) for _ in range(layers))
            self.ln = nn.LayerNorm(embedding)
            self.head = nn.Linear(embedding, vocab)

        def forward(self, tokens, labels):
            x = self.embedding(tokens) + self.position
            for blk in self.blocks:
                x = blk(x)
            logits = self.head(self.ln(x))
            return F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1))

    return GPT(*MODELS[name][6:]) if name == "gpt" else LSTMLM()


def torch_step(name, compiled):
    import torch
    torch.set_num_threads(THREADS)
    _, batch, steps, vocab = MODELS[name][:4]
    model = torch_model(name)
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


def dlg_parameters(dlg, name):
    out = subprocess.run([dlg, "summary", os.path.join(ROOT, MODELS[name][0]), "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["parameters"]["total"]


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
    ap.add_argument("--models", default="lstm,gpt")
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
        theirs = sum(p.numel() for p in torch_model(name).parameters())
        ours = dlg_parameters(a.dlg, name)
        print(f"{name}: parameters dlg {ours:,}, PyTorch {theirs:,}", file=sys.stderr, flush=True)
        if ours != theirs:
            sys.exit(f"{name}: the two models differ in their parameter counts")
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
