#!/usr/bin/env python3
"""The Python way of doing what `bn-check model` does: torch.load the state_dict, np.load the
activations dump, F.batch_norm per BatchNorm layer with the model's eps and momentum,
torch.testing.assert_close against the dumped output. Usage: script-model.py <params.pt> <acts.npz>
<mode> <eps> <momentum>; prints the number of layers that do not match."""
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
params, acts_path, mode, eps, momentum = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
state = torch.load(params)
acts = np.load(acts_path)
layers = [key[: -len(".running_mean")] for key in state if key.endswith(".running_mean")]
failing = 0
for layer in layers:
    x = torch.from_numpy(acts[f"{layer}.input"])
    ref = torch.from_numpy(acts[f"{layer}.output"])
    mean, var = state[f"{layer}.running_mean"].clone(), state[f"{layer}.running_var"].clone()
    y = F.batch_norm(x, mean, var, state[f"{layer}.weight"], state[f"{layer}.bias"], training=mode == "train", momentum=momentum, eps=eps)
    try:
        torch.testing.assert_close(y, ref)
    except AssertionError:
        failing += 1
print(f"{len(layers)} layers, {failing} do not match")
