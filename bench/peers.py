#!/usr/bin/env python3
"""Times the peers bn-check is compared with, on one .npy input: PyTorch CPU F.batch_norm in
training mode (with the given thread count) and a plain numpy batch norm; with `backward`, PyTorch's
forward + y.backward(dy) (input, weight and bias requiring gradients) and its backward alone
(autograd.grad on a retained graph) instead. Prints JSON.
Usage: peers.py <input.npy> <channel_axis> <threads> <repeats> [backward]"""
import json
import sys
import time

import numpy as np

path, axis, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
backward = sys.argv[5:6] == ["backward"]
x = np.load(path)
result = {}


def timed(fn):
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    runs.sort()
    return {"median": runs[len(runs) // 2], "min": runs[0], "max": runs[-1]}


axes = tuple(k for k in range(x.ndim) if k != axis)


def numpy_bn():
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5)


def torch_backward(torch, F, t):
    """Forward + backward, and backward alone, of train-mode BatchNorm with affine parameters."""
    t = t.detach().requires_grad_(True)
    c = t.shape[1]
    weight = torch.ones(c, requires_grad=True)
    bias = torch.zeros(c, requires_grad=True)
    dy = torch.randn_like(t)

    def forward():
        return F.batch_norm(t, torch.zeros(c), torch.ones(c), weight, bias, training=True, momentum=0.1, eps=1e-5)

    def forward_backward():
        t.grad = weight.grad = bias.grad = None
        forward().backward(dy)

    y = forward()
    result["torch_forward_backward"] = timed(forward_backward)
    result["torch_backward"] = timed(lambda: torch.autograd.grad(y, (t, weight, bias), dy, retain_graph=True))


if not backward:
    result["numpy"] = timed(numpy_bn)
try:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    t = torch.from_numpy(x)
    if axis != 1:
        t = t.movedim(axis, 1)
    c = t.shape[1]
    rm, rv = torch.zeros(c), torch.ones(c)
    if backward:
        torch_backward(torch, F, t)
    else:
        result["torch"] = timed(lambda: F.batch_norm(t, rm, rv, training=True, momentum=0.1, eps=1e-5))
    result["torch_version"] = torch.__version__
except ImportError as error:
    result["torch_missing"] = str(error)
print(json.dumps(result))
