"""LeNet-5 in PyTorch behind Flask: the deployment the course teaches,
serving the same JSON as `dlg serve` (POST /v1/predict with
{"inputs": {"image": ...}}), with the same weights.

Run under gunicorn, one single-threaded worker per core:

    DLG_WEIGHTS=weights.safetensors gunicorn -w 2 -b 127.0.0.1:0 torch_server:app
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from flask import Flask, jsonify, request
from safetensors.numpy import load_file

torch.set_num_threads(1)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.f5 = nn.Linear(400, 120)
        self.f6 = nn.Linear(120, 84)
        self.logits = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        x = F.relu(self.f5(x.flatten(1)))
        x = F.relu(self.f6(x))
        return self.logits(x)


def load(path):
    """dlg's tensors: convolutions as PyTorch stores them, dense weights [in, out] (transposed here)."""
    model = LeNet5()
    tensors = load_file(path)
    state = {}
    for name, value in tensors.items():
        t = torch.from_numpy(value.copy())
        if name.endswith(".weight") and t.dim() == 2:
            t = t.t().contiguous()
        state[name] = t
    model.load_state_dict(state)
    return model.eval()


model = load(os.environ["DLG_WEIGHTS"])
app = Flask(__name__)


@app.post("/v1/predict")
def predict():
    body = request.get_json()
    x = torch.tensor(body["inputs"]["image"], dtype=torch.float32)
    single = x.dim() == 3
    if single:
        x = x.unsqueeze(0)
    with torch.inference_mode():
        logits = model(x)
        probability, classes = torch.softmax(logits, dim=1).max(dim=1)
    if single:
        return jsonify({"model": "lenet5", "outputs": {"logits": logits[0].tolist()},
                        "class": int(classes[0]), "probability": float(probability[0])})
    return jsonify({"model": "lenet5", "outputs": {"logits": logits.tolist()},
                    "classes": classes.tolist(), "probabilities": probability.tolist()})


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})
