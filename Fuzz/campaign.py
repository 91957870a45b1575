#!/usr/bin/env python3
"""A mutation campaign against dlg's readers, through the command line.

For each format — npy, npz, safetensors, idx (IDX, plain and gzip), csv,
cifar, dlgc (compiled programs) and checkpoint (a checkpoint's metadata) —
the campaign writes valid files, mutates them (bit flips, bytes set to
boundary values, insertions, deletions, truncations, and, inside their text
parts, numbers replaced by boundary values: -1, 0, 2^31, 2^63, 1e30, nan, …),
runs the dlg command that reads such a file on each mutant, and classifies
the outcome:

- crash: the process ended on a signal or with a status other than 0, 1, 64;
- hang: it ran longer than the time-out (20 s);
- accepted-bad: status 0 on a file that the format's reference reader
  refuses (NumPy's np.load for npy and npz, Python's safetensors package for
  safetensors and checkpoints);
- unnamed: status 1 with an error that does not name the file.

Any of these is a failure; the campaign prints a table of the counts per
format and exits 1 when one is not zero. Failing cases are kept in the work
directory (`failures/FORMAT-N.*`, with the command and its output).

Usage: Fuzz/campaign.py --dlg .build/release/dlg [--cases 2000] [--formats npy,npz,…]
                        [--jobs 2] [--seed 1] [--work DIR]
Fuzz/campaign.sh sets up a virtual environment with numpy and safetensors and runs it.
"""
import argparse
import concurrent.futures
import gzip
import io
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

try:
    import numpy as np
except ImportError:  # the reference checks of npy and npz need it
    np = None
try:
    import safetensors.numpy as st_np
    from safetensors import safe_open
except ImportError:
    st_np = None

FORMATS = ["npy", "npz", "safetensors", "idx", "csv", "cifar", "dlgc", "checkpoint"]
TIMEOUT = 20
BOUNDARY_NUMBERS = ["-1", "0", "1", "-0", "2147483647", "2147483648", "-2147483648", "4294967296",
                    "9223372036854775807", "9223372036854775808", "18446744073709551616", "1e30", "1e308",
                    "-1e30", "nan", "inf", "-inf", "0.5", "99999999999999999999999", "1099511627776",
                    "1152921504606846976", "-8", "65536", "3"]
BOUNDARY_BYTES = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0x30, 0x39, 0x7B, 0x7D, 0x22, 0x2C, 0x28, 0x29, 0x2D]

MODELS = {
    "dense": """model dense {
    input  x: f32[B, 3]
    input  y: f32[B, 1]
    output p = dense(x, 1)
    minimize mse(p, y)
}
""",
    "image": """model image {
    input  image: f32[B, 1, 4, 4]
    output logits = dense(flatten(image), 2)
}
""",
    "classifier": """model classifier {
    input  x: f32[B, 2]
    input  label: i32[B]
    output logits = dense(x, 3)
    minimize cross_entropy(logits, label)
}
""",
    "cifar": """model cifar {
    input  image: f32[B, 3, 32, 32]
    input  label: i32[B]
    output logits = dense(flatten(image), 10)
    minimize cross_entropy(logits, label)
}
""",
    "xor": """model xor {
    input  x: f32[B, 2]
    input  y: f32[B, 1]
    param  W1: f32[2, 2] = uniform(-1, 1)
    param  b1: f32[2]    = zeros
    param  W2: f32[2, 1] = [[0.2], [0.4]]
    param  b2: f32[1]    = zeros
    h      = sigmoid(x @ W1 + b1)
    output yhat = sigmoid(h @ W2 + b2)
    minimize mse(yhat, y)
}
train xor {
    data      = xor()
    optimizer = sgd(lr: 0.5, momentum: 0.9)
    batch     = 4
    epochs    = 3
    seed      = 7
}
""",
}


# MARK: valid files

def npy_bytes(shape, dtype="<f4", fortran=False, values=None):
    """A .npy file, written by hand (numpy is optional)."""
    count = 1
    for d in shape:
        count *= d
    size = {"<f4": 4, "<f8": 8, "<i4": 4, "<i8": 8, "|u1": 1}[dtype]
    fmt = {"<f4": "f", "<f8": "d", "<i4": "i", "<i8": "q", "|u1": "B"}[dtype]
    if values is None:
        values = [((i * 7) % 11) / 4.0 if fmt in "fd" else (i % 3) for i in range(count)]
    shape_text = "(%s)" % (", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else ""))
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (dtype, "True" if fortran else "False", shape_text)
    h = header.encode()
    while (10 + len(h) + 1) % 64:
        h += b" "
    h += b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + struct.pack("<%d%s" % (count, fmt), *values)


def npz_bytes(arrays, compressed):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as z:
        for name, data in arrays:
            z.writestr(name + ".npy", data)
    return buf.getvalue()


def safetensors_bytes(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] laid out in order."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    while len(h) % 8:
        h += b" "
    return struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in tensors)


def idx_bytes(code, shape, payload):
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + payload


def f32(values):
    return struct.pack("<%df" % len(values), *values)


class Setup:
    """The valid files and the command for each format, in one work directory."""

    def __init__(self, dlg, work):
        self.dlg = dlg
        self.work = work
        for name, text in MODELS.items():
            with open(os.path.join(work, name + ".dlg"), "w") as f:
                f.write(text)
        with open(os.path.join(work, "x3.npy"), "wb") as f:
            f.write(npy_bytes([4, 3]))
        with open(os.path.join(work, "x2.npy"), "wb") as f:
            f.write(npy_bytes([4, 2]))
        self.seeds = {}
        self.seeds["npy"] = [npy_bytes([4, 3]), npy_bytes([3], "<f8"), npy_bytes([2, 3], "<i4"), npy_bytes([4, 3], fortran=True),
                             npy_bytes([4, 3], "|u1"), npy_bytes([0, 3])]
        xy = [("x", npy_bytes([6, 3])), ("y", npy_bytes([6, 1]))]
        self.seeds["npz"] = [npz_bytes(xy, False), npz_bytes(xy, True)]
        w = lambda n: f32([0.25 * ((i % 5) - 2) for i in range(n)])
        self.seeds["safetensors"] = [
            safetensors_bytes([("logits.weight", "F32", [16, 2], w(32)), ("logits.bias", "F32", [2], w(2))], {"format": "pt"}),
            safetensors_bytes([("logits.bias", "F32", [2], w(2)), ("logits.weight", "F32", [16, 2], w(32)),
                               ("extra", "I64", [2], struct.pack("<2q", 1, -1))]),
        ]
        img = bytes((i * 37) % 256 for i in range(5 * 16))
        self.seeds["idx"] = [idx_bytes(8, [5, 4, 4], img), gzip.compress(idx_bytes(8, [5, 4, 4], img)),
                             idx_bytes(0x0D, [2, 1, 4, 4], struct.pack(">32f", *[i / 7 for i in range(32)])),
                             gzip.compress(idx_bytes(0x0D, [2, 4, 4], struct.pack(">32f", *[i / 7 for i in range(32)])))]
        self.seeds["csv"] = [b"a,b,label\n0.5,1,0\n-1,2e-3,2\n3,4,1\n0,0,0\n",
                             b"\xef\xbb\xbf\"a\",\"b\",label\r\n1.5,\"2\",1\r\n\r\n 3 , 4 ,0\r\n"]
        rec = lambda label, k: bytes([label]) + bytes((i * k) % 256 for i in range(3072))
        self.seeds["cifar"] = [rec(3, 7) + rec(9, 11), rec(0, 1) + rec(1, 3) + rec(2, 5)]
        # Compiled programs and a checkpoint, made by dlg itself.
        for name, args in [("forward.dlgc", ["--bind", "B=4"]), ("train.dlgc", ["--training-step", "--bind", "B=4"])]:
            subprocess.run([dlg, "compile", "xor.dlg", "-o", name] + args, cwd=work, check=True, capture_output=True)
        self.seeds["dlgc"] = [open(os.path.join(work, n), "rb").read() for n in ["forward.dlgc", "train.dlgc"]]
        subprocess.run([dlg, "train", "xor.dlg", "--epochs", "2", "--checkpoint", "ck.safetensors"], cwd=work, check=True,
                       capture_output=True)
        self.seeds["checkpoint"] = [open(os.path.join(work, "ck.safetensors"), "rb").read()]

    def command(self, fmt, path, variant):
        """The dlg command that reads `path` (relative to the work directory)."""
        if fmt == "npy":
            return ["run", "dense.dlg", "--input", "x=" + path, "--output", path + ".out.npy"]
        if fmt == "npz":
            return ["train", "dense.dlg", "--data", 'npz("%s", features: "x", labels: "y")' % path, "--epochs", "1", "--batch", "2"]
        if fmt == "safetensors":
            return ["run", "image.dlg", "--weights", path, "--input", "image=x16.idx", "--output", path + ".out.npy"]
        if fmt == "idx":
            return ["run", "image.dlg", "--input", "image=" + path, "--output", path + ".out.npy"]
        if fmt == "csv":
            return ["train", "classifier.dlg", "--data", 'csv("%s", label: "label")' % path, "--epochs", "1", "--batch", "2"]
        if fmt == "cifar":
            return ["train", "cifar.dlg", "--data", 'cifar10("%s")' % path, "--epochs", "1", "--batch", "1"]
        if fmt == "dlgc":
            if variant % 2 == 0:
                return ["run", path, "--input", "x=x2.npy", "--output", path + ".out.npy"]
            return ["train", path, "--epochs", "1"]
        if fmt == "checkpoint":
            return ["train", "xor.dlg", "--resume", path, "--epochs", "4"]
        raise ValueError(fmt)


# MARK: mutation

NUMBER = re.compile(rb"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def text_spans(fmt, data):
    """The byte range of a file's text part (a header, the JSON, the CSV), where numbers are edited."""
    if fmt in ("csv", "dlgc"):
        return 0, len(data)
    if fmt == "npy" and len(data) > 10:
        return 10, min(len(data), 10 + struct.unpack("<H", data[8:10])[0])
    if fmt in ("safetensors", "checkpoint") and len(data) > 8:
        return 8, min(len(data), 8 + struct.unpack("<Q", data[:8])[0])
    return None


def mutate(fmt, data, rng):
    data = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.random()
        span = text_spans(fmt, bytes(data))
        if span and kind < 0.45:
            lo, hi = span
            found = list(NUMBER.finditer(bytes(data[lo:hi])))
            if found:
                m = rng.choice(found)
                new = rng.choice(BOUNDARY_NUMBERS).encode()
                data[lo + m.start():lo + m.end()] = new
                # A length prefix before a text part follows the edit half of the time.
                if fmt in ("safetensors", "checkpoint") and rng.random() < 0.5 and len(data) >= 8:
                    data[:8] = struct.pack("<Q", max(0, struct.unpack("<Q", data[:8])[0] + len(new) - (m.end() - m.start())))
                continue
        if not data:
            data += bytes([rng.randrange(256)])
            continue
        i = rng.randrange(len(data))
        if kind < 0.6:
            data[i] ^= 1 << rng.randrange(8)
        elif kind < 0.72:
            data[i] = rng.choice(BOUNDARY_BYTES)
        elif kind < 0.8:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 2, 4, 8])))
        elif kind < 0.88:
            del data[i:i + rng.choice([1, 2, 4, 16, 64])]
        elif kind < 0.94:
            del data[i:]
        elif kind < 0.97:
            j = rng.randrange(len(data))
            data[j:j] = data[i:i + rng.choice([4, 16, 64])]
        else:
            data += bytes(rng.randrange(256) for _ in range(rng.choice([1, 8, 100])))
    return bytes(data)


# MARK: reference readers

def reference_rejects(fmt, path):
    """True when the format's reference reader refuses the file; None when there is no reference."""
    try:
        if fmt == "npy":
            if np is None:
                return None
            np.load(path, allow_pickle=False)
        elif fmt == "npz":
            if np is None:
                return None
            with np.load(path, allow_pickle=False) as z:
                for k in z.files:
                    z[k]
        elif fmt in ("safetensors", "checkpoint"):
            if st_np is None:
                return None
            with safe_open(path, framework="np") as f:
                for k in f.keys():
                    f.get_tensor(k)
        else:
            return None
        return False
    except Exception:
        return True


# MARK: running

def run_case(setup, fmt, n, data, rng_seed):
    name = "%s-%d.%s" % (fmt, n, {"idx": "gz" if data[:2] == b"\x1f\x8b" else "idx", "cifar": "bin",
                                   "checkpoint": "safetensors", "dlgc": "dlgc"}.get(fmt, fmt))
    path = os.path.join(setup.work, name)
    with open(path, "wb") as f:
        f.write(data)
    args = setup.command(fmt, name, n)
    start = time.time()
    try:
        r = subprocess.run([setup.dlg] + args, cwd=setup.work, capture_output=True, timeout=TIMEOUT,
                           env=dict(os.environ, NO_COLOR="1"))
        status, err, hang = r.returncode, r.stderr.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired:
        status, err, hang = None, "", True
    seconds = time.time() - start
    outcome = "ok"
    if hang:
        outcome = "hang"
    elif status not in (0, 1, 64):
        outcome = "crash"
    elif status == 1 and name not in err:
        outcome = "unnamed"
    reference = reference_rejects(fmt, path)
    if outcome == "ok" and status == 0 and reference:
        outcome = "accepted-bad"
    if outcome != "ok":
        keep = os.path.join(setup.work, "failures")
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, os.path.join(keep, name))
        with open(os.path.join(keep, name + ".txt"), "w") as f:
            f.write("outcome: %s\nstatus: %s\ncommand: dlg %s\n\n%s" % (outcome, status, " ".join(args), err))
    for leftover in (path, path + ".out.npy"):
        try:
            os.remove(leftover)
        except OSError:
            pass
    return fmt, outcome, status, reference, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dlg", required=True)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work")
    args = ap.parse_args()
    dlg = os.path.abspath(args.dlg)
    work = args.work or tempfile.mkdtemp(prefix="dlg-campaign-")
    os.makedirs(work, exist_ok=True)
    if np is None or st_np is None:
        print("campaign: numpy or safetensors is missing; the reference checks of %s are skipped"
              % ", ".join(f for f, m in [("npy/npz", np), ("safetensors/checkpoint", st_np)] if m is None), flush=True)
    setup = Setup(dlg, work)
    # The 16-pixel image input of the safetensors runs.
    with open(os.path.join(work, "x16.idx"), "wb") as f:
        f.write(idx_bytes(8, [3, 4, 4], bytes(range(48))))
    formats = [f for f in args.formats.split(",") if f]
    counts = {f: {"cases": 0, "ok": 0, "crash": 0, "hang": 0, "accepted-bad": 0, "unnamed": 0, "exit0": 0, "exit1": 0,
                  "exit64": 0, "ref-rejects": 0, "seconds": 0.0} for f in formats}
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = []
        for fmt in formats:
            rng = random.Random("%d-%s" % (args.seed, fmt))
            seeds = setup.seeds[fmt]
            for n in range(args.cases):
                data = mutate(fmt, rng.choice(seeds), rng)
                futures.append(pool.submit(run_case, setup, fmt, n, data, rng.random()))
        for done, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            fmt, outcome, status, reference, seconds = fut.result()
            c = counts[fmt]
            c["cases"] += 1
            c[outcome] += 1
            c["seconds"] = max(c["seconds"], seconds)
            if status in (0, 1, 64):
                c["exit%d" % status] += 1
            if reference:
                c["ref-rejects"] += 1
            if done % 500 == 0:
                print("campaign: %d of %d cases, %.0f s" % (done, len(futures), time.time() - started), flush=True)
    print("\nformat        cases  exit 0  exit 1  exit 64  crash  hang  exit 0 on a file the reference refuses  "
          "unnamed file  reference refuses  slowest")
    failed = 0
    for fmt in formats:
        c = counts[fmt]
        bad = c["crash"] + c["hang"] + c["accepted-bad"] + c["unnamed"]
        failed += bad
        ref = "—" if fmt not in ("npy", "npz", "safetensors", "checkpoint") else str(c["ref-rejects"])
        print("%-12s %6d  %6d  %6d  %7d  %5d  %4d  %38d  %12d  %17s  %6.1f s" % (
            fmt, c["cases"], c["exit0"], c["exit1"], c["exit64"], c["crash"], c["hang"], c["accepted-bad"], c["unnamed"],
            ref, c["seconds"]))
    print("\ncampaign: %d cases in %.0f s, %d failures%s" % (sum(c["cases"] for c in counts.values()), time.time() - started,
                                                          failed, " (kept in %s/failures)" % work if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
