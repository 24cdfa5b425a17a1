#!/usr/bin/env python3
"""The Python check a user writes for a folded state_dict: torch.load both, fuse_conv_bn_weights per
(conv, BatchNorm) pair, torch.testing.assert_close against the folded weight and bias.
Usage: script-fold.py <unfused.pt> <folded.pt>; prints how many layers do not match."""
import sys

import torch
from torch.nn.utils.fusion import fuse_conv_bn_weights

torch.set_num_threads(2)
params, folded = torch.load(sys.argv[1]), torch.load(sys.argv[2])
keys = list(params.keys())
failing = checked = 0
for key in keys:
    if not key.endswith(".running_mean"):
        continue
    bn = key[: -len(".running_mean")]
    first = keys.index(f"{bn}.weight")
    conv = keys[first - 1][: -len(".weight")] if keys[first - 1].endswith(".weight") else None
    if conv is None or f"{conv}.weight" not in folded:
        continue
    w, b = fuse_conv_bn_weights(params[f"{conv}.weight"], params.get(f"{conv}.bias"), params[f"{bn}.running_mean"], params[f"{bn}.running_var"], 1e-5, params[f"{bn}.weight"], params[f"{bn}.bias"])
    checked += 1
    try:
        torch.testing.assert_close(folded[f"{conv}.weight"], w.detach())
        torch.testing.assert_close(folded[f"{conv}.bias"], b.detach())
    except AssertionError:
        failing += 1
print(f"{checked} layers, {failing} do not match")
