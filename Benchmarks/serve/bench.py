"""Load benchmark: `dlg serve` against LeNet-5 in PyTorch behind Flask
(gunicorn), the same weights and the same JSON, on loopback, with wrk.

For each concurrency (1, 8, 32) both servers are measured in rounds, one
after the other, the order reversed every other round; each measurement is
a wrk run of fixed duration against POST /v1/predict, cycling through 16
different one-image bodies. The table gives the median over the rounds of
throughput and of the 50th and 99th latency percentiles, and the ratios.
Then `dlg serve` alone takes a longer run at concurrency 32: its resident
memory before, early in and at the end of the run, and the failed requests.

Started by run.sh, which makes the virtual environment and builds dlg.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def lenet_weights(path, seed=1):
    """LeNet-5's parameters, named as dlg names them, uniform ±1/√fan_in like PyTorch's defaults."""
    rng = np.random.default_rng(seed)
    shapes = {
        "c1.weight": ((6, 1, 5, 5), 25), "c1.bias": ((6,), 25),
        "c3.weight": ((16, 6, 5, 5), 150), "c3.bias": ((16,), 150),
        "f5.weight": ((400, 120), 400), "f5.bias": ((120,), 400),
        "f6.weight": ((120, 84), 120), "f6.bias": ((84,), 120),
        "logits.weight": ((84, 10), 84), "logits.bias": ((10,), 84),
    }
    tensors = {}
    for name, (shape, fan_in) in shapes.items():
        bound = 1 / np.sqrt(fan_in)
        tensors[name] = rng.uniform(-bound, bound, size=shape).astype(np.float32)
    save_file(tensors, path)


def bodies(directory, count=16, seed=2):
    """One-image JSON bodies, pixels in [0, 1)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        image = rng.random((1, 28, 28), dtype=np.float32)
        path = os.path.join(directory, f"body{i}.json")
        with open(path, "w") as f:
            json.dump({"inputs": {"image": image.tolist()}}, f)
        paths.append(path)
    return paths


WRK_SCRIPT = """
local bodies = {}
local i = 0
function init(args)
  for _, path in ipairs(args) do
    local f = io.open(path, "rb")
    bodies[#bodies + 1] = f:read("*a")
    f:close()
  end
  i = math.random(#bodies)
end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/predict", {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def seconds(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def percentile(out, p):
    """A line of wrk's latency distribution ("     50%    1.23ms"), not a percentage of its other lines ("66.50%")."""
    return seconds(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1))


def wrk(url, concurrency, duration, script, body_paths):
    out = subprocess.run(
        ["wrk", "-t", str(min(concurrency, 2)), "-c", str(concurrency), "-d", f"{duration}s", "--latency",
         "--timeout", "10s", "-s", script, url, "--"] + body_paths,
        capture_output=True, text=True, check=True).stdout
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50": percentile(out, 50),
        "p99": percentile(out, 99),
        "non2xx": 0, "socket_errors": 0,
    }
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        result["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        result["socket_errors"] = sum(int(g) for g in m.groups())
    return result


def post(url, path):
    with open(path, "rb") as f:
        request = urllib.request.Request(url, data=f.read(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def start_dlg(dlg, weights, args, log):
    p = subprocess.Popen([dlg, "serve", os.path.join(ROOT, "Graphs", "lenet5.dlg"), "--weights", weights,
                          "--port", "0", "--no-access-log", "--max-batch", str(args.max_batch),
                          "--max-delay-ms", str(args.max_delay_ms), "--threads", str(args.threads)],
                         stdout=subprocess.PIPE, stderr=log, text=True)
    line = p.stdout.readline()
    port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)", line).group(1))
    return p, f"http://127.0.0.1:{port}"


def start_torch(python, weights, workers, log):
    env = dict(os.environ, DLG_WEIGHTS=weights)
    p = subprocess.Popen([python, "-m", "gunicorn", "-w", str(workers), "-b", "127.0.0.1:0", "--chdir", HERE,
                          "--log-level", "info", "torch_server:app"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    port = None
    booted = 0
    deadline = time.time() + 120
    while time.time() < deadline and booted < workers:
        line = p.stderr.readline()
        log.write(line)
        m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
        if "Booting worker" in line:
            booted += 1
    # Workers load torch and the model after "Booting worker": wait until they answer.
    url = f"http://127.0.0.1:{port}"
    while time.time() < deadline:
        try:
            get(url + "/healthz")
            break
        except OSError:
            time.sleep(0.5)
    return p, url


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dlg", default=os.path.join(ROOT, ".build", "release", "dlg"))
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--memory-seconds", type=int, default=60, help="the long run at concurrency 32 (0: none)")
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--max-delay-ms", type=float, default=2)
    ap.add_argument("--threads", type=int, default=1, help="dlg serve --threads (its default)")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="gunicorn workers (one thread each)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="dlg-serve-bench-")
    weights = os.path.join(work, "lenet5.safetensors")
    lenet_weights(weights)
    body_paths = bodies(work)
    script = os.path.join(work, "post.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    log = open(os.path.join(work, "servers.log"), "w")
    dlg, dlg_url = start_dlg(args.dlg, weights, args, log)
    torch_proc, torch_url = start_torch(sys.executable, weights, args.workers, log)
    try:
        # The same model: both answer the same logits (up to rounding) and classes.
        for path in body_paths[:4]:
            a, b = post(dlg_url + "/v1/predict", path), post(torch_url + "/v1/predict", path)
            diff = max(abs(x - y) for x, y in zip(a["outputs"]["logits"], b["outputs"]["logits"]))
            assert diff < 1e-4 and a["class"] == b["class"], f"the servers disagree: {a} {b}"
        print(f"dlg serve {dlg_url} (pid {dlg.pid}) and gunicorn+Flask+PyTorch {torch_url}: same logits to {diff:.1e}",
              flush=True)
        servers = {"dlg": dlg_url, "torch": torch_url}
        for url in servers.values():
            wrk(url + "/v1/predict", 8, 2, script, body_paths)   # warm-up
        results = {}
        for c in [int(x) for x in args.concurrency.split(",")]:
            runs = {"dlg": [], "torch": []}
            batch_means = []
            for r in range(args.rounds):
                order = ["dlg", "torch"] if r % 2 == 0 else ["torch", "dlg"]
                for name in order:
                    before = get(dlg_url + "/metrics") if name == "dlg" else None
                    runs[name].append(wrk(servers[name] + "/v1/predict", c, args.duration, script, body_paths))
                    if before is not None:
                        after = get(dlg_url + "/metrics")
                        n = metric(after, "dlg_batch_size_count") - metric(before, "dlg_batch_size_count")
                        s = metric(after, "dlg_batch_size_sum") - metric(before, "dlg_batch_size_sum")
                        batch_means.append(s / n if n else 0)
                    last = runs[name][-1]
                    print(f"  c={c:<3} round {r + 1} {name:5}: {last['rps']:9.0f} req/s  p50 {last['p50'] * 1e3:7.3f} ms"
                          f"  p99 {last['p99'] * 1e3:7.3f} ms  errors {last['non2xx'] + last['socket_errors']}", flush=True)
            summary = {}
            for name, rs in runs.items():
                summary[name] = {k: statistics.median(x[k] for x in rs) for k in ("rps", "p50", "p99")}
                summary[name]["errors"] = sum(x["non2xx"] + x["socket_errors"] for x in rs)
            summary["ratios"] = [a["rps"] / b["rps"] for a, b in zip(runs["dlg"], runs["torch"])]
            summary["dlg_mean_batch"] = statistics.median(batch_means)
            results[c] = summary

        print()
        print("| clients | dlg serve req/s | p50 ms | p99 ms | PyTorch+Flask req/s | p50 ms | p99 ms | throughput ratio (per round) | dlg mean batch |")
        print("|---|---|---|---|---|---|---|---|---|")
        for c, s in results.items():
            d, t = s["dlg"], s["torch"]
            ratios = ", ".join(f"{x:.1f}" for x in s["ratios"])
            print(f"| {c} | {d['rps']:.0f} | {d['p50'] * 1e3:.2f} | {d['p99'] * 1e3:.2f} | {t['rps']:.0f} | {t['p50'] * 1e3:.2f} "
                  f"| {t['p99'] * 1e3:.2f} | {d['rps'] / t['rps']:.1f} ({ratios}) | {s['dlg_mean_batch']:.1f} |")
        errors = {c: (s["dlg"]["errors"], s["torch"]["errors"]) for c, s in results.items()}
        print(f"failed requests (dlg, PyTorch) by clients: {errors}")

        if args.memory_seconds > 0:
            torch_proc.terminate()
            torch_proc.wait()
            before = rss_kib(dlg.pid)
            errors_before = get(dlg_url + "/metrics")
            proc = subprocess.Popen(
                ["wrk", "-t", "2", "-c", "32", "-d", f"{args.memory_seconds}s", "--latency", "--timeout", "10s",
                 "-s", script, dlg_url + "/v1/predict", "--"] + body_paths,
                stdout=subprocess.PIPE, text=True)
            samples = []
            start = time.time()
            while proc.poll() is None:
                time.sleep(1)
                samples.append((round(time.time() - start), rss_kib(dlg.pid)))
            out = proc.stdout.read()
            after = get(dlg_url + "/metrics")
            failed = sum(metric(after, f'dlg_request_errors_total{{kind="{k}"}}') for k in
                         re.findall(r'dlg_request_errors_total\{kind="([a-z_]+)"\}', after))
            failed -= sum(metric(errors_before, f'dlg_request_errors_total{{kind="{k}"}}') for k in
                          re.findall(r'dlg_request_errors_total\{kind="([a-z_]+)"\}', errors_before))
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            total = int(re.search(r"(\d+) requests in", out).group(1))
            early = next((kib for t, kib in samples if t >= 5), samples[0][1])
            print()
            print(f"{args.memory_seconds}-second run at 32 clients: {total} requests, {rps:.0f} req/s; "
                  f"non-2xx {int(non2xx.group(1)) if non2xx else 0}, socket errors "
                  f"{sum(int(g) for g in sock.groups()) if sock else 0}, server-side errors {int(failed)}")
            print(f"dlg serve resident memory: {before / 1024:.1f} MiB before the run, {early / 1024:.1f} MiB after 5 s, "
                  f"{samples[-1][1] / 1024:.1f} MiB at the end (max {max(k for _, k in samples) / 1024:.1f} MiB)")
            results["memory"] = {"before_kib": before, "after_5s_kib": early, "end_kib": samples[-1][1],
                                 "max_kib": max(k for _, k in samples), "requests": total, "rps": rps,
                                 "non2xx": int(non2xx.group(1)) if non2xx else 0,
                                 "socket_errors": sum(int(g) for g in sock.groups()) if sock else 0,
                                 "server_errors": int(failed), "samples": samples}
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        for p in (dlg, torch_proc):
            if p.poll() is None:
                p.terminate()
                p.wait()
        log.close()


if __name__ == "__main__":
    main()
