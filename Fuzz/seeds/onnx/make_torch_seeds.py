"""Writes the PyTorch-made seeds of the ONNX fuzz target (Fuzz/run.sh onnx): small
networks through both of torch.onnx.export's exporters, so that the corpus starts
with what PyTorch writes (Constant nodes, Identity-shared initializers, the dynamo
exporter's CastLike/Expand shape code, gelu spelled with Erf) besides dlg's own
files. Weights are embedded (external data would not be found by the target).

Usage: python3 make_torch_seeds.py [DIR]   (needs torch, onnx and onnxscript)
"""
import os
import sys
import warnings

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")


class Tiny(nn.Module):
    """Conv + batchnorm + ReLU6, a depthwise convolution with gelu, hardswish, pooling
    (ceil mode, padding without counting it), global pooling, sigmoid, log-softmax."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.dw = nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)
        self.p = nn.MaxPool2d(2, ceil_mode=True)
        self.a = nn.AvgPool2d(2, padding=1, count_include_pad=False)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = F.relu6(self.bn(self.c(x)))
        y = F.gelu(self.dw(y)) + F.hardswish(F.max_pool2d(y, 2))
        y = self.a(self.p(y))
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)
        return torch.log_softmax(self.fc(torch.sigmoid(y) * y), -1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(0)
    m = Tiny().eval()
    x = torch.randn(2, 2, 8, 8)
    torch.onnx.export(m, (x,), f"{out}/tiny-torchscript.onnx", dynamo=False, do_constant_folding=False, opset_version=17,
                      input_names=["image"], output_names=["out"], dynamic_axes={"image": {0: "B"}})
    for optimize in (True, False):
        path = f"{out}/tiny-dynamo{'' if optimize else '-unoptimized'}.onnx"
        torch.onnx.export(m, (x,), path, dynamo=True, optimize=optimize, opset_version=18, input_names=["image"],
                          output_names=["out"], dynamic_shapes=({0: torch.export.Dim("B")},))
        onnx.save(onnx.load(path), path, save_as_external_data=False)
        if os.path.exists(path + ".data"):
            os.remove(path + ".data")
    g = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.GELU(), nn.Linear(5, 2)).eval()
    torch.onnx.export(g, (torch.randn(2, 3, 4),), f"{out}/gelu-torchscript.onnx", dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "B"}})


if __name__ == "__main__":
    main()
