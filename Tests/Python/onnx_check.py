"""ONNX Runtime's side of dlg's ONNX tests (Tests/dlgTests/ONNXTests.swift).

  onnx_check.py weights MODEL.onnx OUT.safetensors SEED
      random weights for the model's parameters (its float initializers whose
      names are dlg parameter names), as safetensors; variances positive.
  onnx_check.py run MODEL.onnx DIR SEED BATCH [NAME=PATH ...]
      inputs: NAME=PATH arrays, else random ones (normal, seeded; symbolic
      sizes take BATCH) written to DIR/in_NAME.npy; runs the model in ONNX
      Runtime on one thread and writes DIR/ort_NAME.npy per output. Prints
      one line per input and output: `input NAME PATH` / `output NAME PATH`.
"""
import sys

import numpy as np


def weights(model_path, out_path, seed):
    import onnx
    from safetensors.numpy import save_file
    m = onnx.load(model_path)
    rng = np.random.default_rng(seed)
    out = {}
    for t in m.graph.initializer:
        if "/" in t.name or t.data_type not in (1, 11):
            continue  # the exporter's own constants (shapes, axes) have a '/' in their names
        a = onnx.numpy_helper.to_array(t)
        # Scaled by fan-in so that activations stay near 1: dense weights are [K, N], filters [O, C, kh, kw].
        fan_in = a.shape[0] if a.ndim == 2 else int(np.prod(a.shape[1:])) if a.ndim > 2 else 1
        v = rng.normal(0.0, 1.0 / np.sqrt(fan_in), a.shape) if a.ndim >= 2 else rng.normal(0.0, 0.1, a.shape)
        if t.name.endswith("running_var"):
            v = np.abs(v) + 0.5
        elif t.name.endswith("gamma"):
            v = v + 1.0
        v = v.astype(a.dtype)
        out[t.name] = np.ascontiguousarray(v)
    save_file(out, out_path)


def run(model_path, directory, seed, batch, given):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    s = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = {}
    types = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int32)": np.int32,
             "tensor(int64)": np.int64}
    for i in s.get_inputs():
        if i.name in given:
            a = np.load(given[i.name])
            path = given[i.name]
        else:
            shape = [d if isinstance(d, int) else batch for d in i.shape]
            a = rng.normal(0.0, 1.0, shape)
            if i.type in ("tensor(int32)", "tensor(int64)"):
                a = (a > 0).astype(np.int64)  # token ids or labels: 0 and 1, in range of any table
            path = f"{directory}/in_{i.name}.npy"
        a = a.astype(types[i.type])
        np.save(path, a)
        feeds[i.name] = a
        print("input", i.name, path)
    outputs = s.run(None, feeds)
    for o, a in zip(s.get_outputs(), outputs):
        path = f"{directory}/ort_{o.name}.npy"
        np.save(path, a)
        print("output", o.name, path)


if __name__ == "__main__":
    if sys.argv[1] == "weights":
        weights(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "run":
        given = dict(a.split("=", 1) for a in sys.argv[6:])
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), given)
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
