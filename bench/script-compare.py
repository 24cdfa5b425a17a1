#!/usr/bin/env python3
"""The Python way of doing what `bn-check compare` does: load input and reference, run PyTorch's
batch norm in training mode, torch.testing.assert_close. Usage: script-compare.py <input> <ref>"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
x = torch.from_numpy(np.load(sys.argv[1]))
ref = torch.from_numpy(np.load(sys.argv[2]))
c = x.shape[1]
y = F.batch_norm(x, torch.zeros(c), torch.ones(c), training=True, momentum=0.1, eps=1e-5)
torch.testing.assert_close(y, ref)
