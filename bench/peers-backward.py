#!/usr/bin/env python3
"""Times PyTorch CPU's BatchNorm backward on one .npy input: F.batch_norm(training=True) forward
plus y.backward(dy) (input, weight and bias requiring gradients), with the given thread count, and
the backward alone (autograd.grad on a retained graph); prints JSON.
Usage: peers-backward.py <input.npy> <threads> <repeats>"""
import json
import sys
import time

import numpy as np

path, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
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


try:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    t = torch.from_numpy(x).requires_grad_(True)
    c = t.shape[1]
    weight = torch.ones(c, requires_grad=True)
    bias = torch.zeros(c, requires_grad=True)
    dy = torch.randn_like(t)

    def forward_backward():
        t.grad = weight.grad = bias.grad = None
        y = F.batch_norm(t, torch.zeros(c), torch.ones(c), weight, bias, training=True, momentum=0.1, eps=1e-5)
        y.backward(dy)

    y = F.batch_norm(t, torch.zeros(c), torch.ones(c), weight, bias, training=True, momentum=0.1, eps=1e-5)
    result["torch_forward_backward"] = timed(forward_backward)
    result["torch_backward"] = timed(lambda: torch.autograd.grad(y, (t, weight, bias), dy, retain_graph=True))
    result["torch_version"] = torch.__version__
except ImportError as error:
    result["torch_missing"] = str(error)
print(json.dumps(result))
