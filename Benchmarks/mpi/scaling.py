#!/usr/bin/env python3
"""Data-parallel scaling of `dlg train` on this machine (Benchmarks/README.md,
*Data-parallel training*): LeNet-5 on the MNIST sample and ResNet-20 on random
32×32 images, at a fixed global batch, one process × one thread against two
processes × one thread (`mpirun -np 2`), interleaved round by round.

For each run it reads the epoch's samples/s from `--log` and, for two
processes, rank 0's time blocked in collectives from `--json`
(`collective_seconds`); a third configuration, one process at half the
batch, gives the compute of one process's share of a step, which the cost
model of Docs/distributed.md adds to the measured allreduce time
(`dlg-benchmarks allreduce`) to predict the two-process throughput.

Usage: python3 Benchmarks/mpi/scaling.py [--rounds 3] [--dlg .build/release/dlg]
       [--allreduce-ms LENET,RESNET20]   (the allreduce benchmark's medians)
Only the standard library; needs mpirun and the MNIST sample (DLG_MNIST_DIR).
"""
import argparse, json, os, random, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cifar_like(path, n, seed=7):
    """n records of the CIFAR-10 binary format: a label byte, then 3·32·32 random pixel bytes."""
    rng = random.Random(seed)
    with open(path, "wb") as f:
        for _ in range(n):
            f.write(bytes([rng.randrange(10)]) + rng.randbytes(3072))


def run(dlg, model, batch, np_, extra, work):
    log = os.path.join(work, "log.jsonl")
    cmd = [dlg, "train", model, "--epochs", "1", "--batch", str(batch), "--threads", "1", "--json",
           "--log", log] + extra
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if np_ > 1:
        cmd = ["mpirun", "--oversubscribe", "-np", str(np_)] + cmd
    before = loadavg()
    out = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    after = loadavg()
    epoch = json.loads(open(log).read().splitlines()[-1])
    summary = json.loads(out)
    return {"samples_per_second": epoch["samples_per_second"], "seconds": epoch["seconds"],
            "collective_seconds": summary.get("collective_seconds", 0.0), "steps": summary["steps"],
            "load": (before + after) / 2}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dlg", default=os.path.join(ROOT, ".build/release/dlg"))
    p.add_argument("--allreduce-ms", default=None, help="LeNet-5 and ResNet-20 allreduce medians in ms, comma-separated")
    p.add_argument("--resnet-images", type=int, default=512)
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="dlg-scaling-")
    cifar = os.path.join(work, "random.bin")
    cifar_like(cifar, a.resnet_images)
    models = [
        ("LeNet-5", os.path.join(ROOT, "Graphs/lenet5.dlg"), 64, []),
        ("ResNet-20", os.path.join(ROOT, "Graphs/resnet_cifar.dlg"), 32, ["--data", f'cifar10("{cifar}")', "--validation", "0"]),
    ]
    allreduce = [float(x) / 1e3 for x in a.allreduce_ms.split(",")] if a.allreduce_ms else [None, None]
    print(f"{os.cpu_count()} cores; load average at the start {loadavg():.2f}; {a.rounds} rounds, interleaved")
    for (name, model, g, extra), ar in zip(models, allreduce):
        configs = [("1 process, batch G", 1, g), ("1 process, batch G/2", 1, g // 2), ("2 processes, batch G", 2, g)]
        results = {c[0]: [] for c in configs}
        for r in range(a.rounds):
            order = configs if r % 2 == 0 else list(reversed(configs))
            for label, np_, b in order:
                results[label].append(run(a.dlg, model, b, np_, extra, work))
        med = {k: {f: statistics.median(x[f] for x in v) for f in v[0]} for k, v in results.items()}
        one, half, two = (med[c[0]] for c in configs)
        step_one = g / one["samples_per_second"]
        step_two = g / two["samples_per_second"]
        steps = two["steps"]
        share = two["collective_seconds"] / (two["seconds"] + 1e-12)
        print(f"\n{name}, global batch G = {g}, medians of {a.rounds} (load average during the runs: "
              + ", ".join(f"{k}: {v['load']:.1f}" for k, v in med.items()) + ")")
        print(f"  1 process × 1 thread:   {one['samples_per_second']:8.1f} samples/s  ({step_one * 1e3:.1f} ms/step)")
        print(f"  1 process at G/2:       {half['samples_per_second']:8.1f} samples/s  ({g / 2 / half['samples_per_second'] * 1e3:.1f} ms/step)")
        print(f"  2 processes × 1 thread: {two['samples_per_second']:8.1f} samples/s  ({step_two * 1e3:.1f} ms/step)"
              f"; blocked in collectives {two['collective_seconds'] / steps * 1e3:.2f} ms/step = {share * 100:.1f}% of the step")
        print(f"  speed-up {two['samples_per_second'] / one['samples_per_second']:.2f}, scaling efficiency "
              f"{two['samples_per_second'] / one['samples_per_second'] / 2 * 100:.0f}%")
        if ar is not None:
            predicted = (g / 2 / half["samples_per_second"]) + ar
            print(f"  cost model: compute of a half step {g / 2 / half['samples_per_second'] * 1e3:.1f} ms + allreduce {ar * 1e3:.2f} ms"
                  f" → {g / predicted:.1f} samples/s, efficiency {g / predicted / one['samples_per_second'] / 2 * 100:.0f}%")


if __name__ == "__main__":
    sys.exit(main())
