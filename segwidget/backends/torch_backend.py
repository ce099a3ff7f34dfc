"""torch eager (FP16 on CUDA)."""

from __future__ import annotations

import numpy as np
import torch

from ..weights import SegmentationNet


class TorchBackend:
    name = "torch"

    def __init__(self, net: SegmentationNet, device: str, precision: str):
        self.device = torch.device(device)
        dtype = torch.float16 if precision == "fp16" else torch.float32
        self.net = net.to(self.device, dtype).eval()

    @torch.inference_mode()
    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        # Upload the uint8 frames (4x fewer bytes than float); normalisation runs on the
        # device, and the whole batch is one forward pass.
        batch = torch.from_numpy(x).to(self.device, non_blocking=True)
        return (self.net(batch).cpu().numpy(),)
