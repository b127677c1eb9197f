"""Session-wide test setup that must happen before any test module is imported."""

from __future__ import annotations

import os

import torch

# Without CUDA, the Triton kernels' tests run them through Triton's interpreter, which must be
# chosen before triton is first imported (its standard library is decorated at import time).
if "TRITON_INTERPRET" not in os.environ and not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"
