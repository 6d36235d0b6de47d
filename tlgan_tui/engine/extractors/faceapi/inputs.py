"""Images -> the nets' input batches, as face-api's NetInput.toBatchTensor builds them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tlgan_tui.engine.extractors.faceapi.layers import pad_to_square, resize_bilinear


def to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """One uint8 (H, W, 3) RGB image -> float32 (3, H, W) with values 0..255."""
    return torch.from_numpy(np.array(image, dtype=np.uint8)).to(device).permute(2, 0, 1).float()


def batch_tensor(images: Sequence[np.ndarray | torch.Tensor], size: int, centre: bool = True,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Each image padded to a square with zeros (centred or after), resized to `size`."""
    out = []
    for image in images:
        x = image if isinstance(image, torch.Tensor) else to_tensor(image, device)
        out.append(resize_bilinear(pad_to_square(x[None], centre), size, size))
    return torch.cat(out)
