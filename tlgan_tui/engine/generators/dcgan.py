"""The embedded default: a DCGAN-64 face generator trained on DigiFace-1M.

Architecture as in Radford et al. (2015) and the PyTorch DCGAN tutorial: five
transposed convolutions from z (100 x 1 x 1) to a 64 x 64 RGB image, batch norm
and ReLU between them, tanh at the end. Weights: models/NOTICE.md.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tlgan_tui.engine.generators.base import Generator, GeneratorInfo

Z_DIM = 100
BASE_CHANNELS = 64


def _up_block(in_ch: int, out_ch: int, stride: int, padding: int) -> list[nn.Module]:
    return [
        nn.ConvTranspose2d(in_ch, out_ch, 4, stride, padding, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    ]


class DCGANNetwork(nn.Module):
    """z (N, 100, 1, 1) -> image (N, 3, 64, 64) in [-1, 1]."""

    def __init__(self, z_dim: int = Z_DIM, channels: int = BASE_CHANNELS) -> None:
        super().__init__()
        c = channels
        self.main = nn.Sequential(
            *_up_block(z_dim, c * 8, 1, 0),  # 4x4
            *_up_block(c * 8, c * 4, 2, 1),  # 8x8
            *_up_block(c * 4, c * 2, 2, 1),  # 16x16
            *_up_block(c * 2, c, 2, 1),  # 32x32
            nn.ConvTranspose2d(c, 3, 4, 2, 1, bias=False),  # 64x64
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class DCGANGenerator(Generator):
    """DCGAN generator; edits happen directly in z ~ N(0, I)."""

    def __init__(
        self,
        state_dict: dict[str, torch.Tensor],
        sha256: str,
        device: torch.device,
        name: str = "DCGAN-64 DigiFace-1M",
    ) -> None:
        first = state_dict["main.0.weight"]
        if first.ndim != 4 or first.shape[1] % 8:
            raise ValueError(f"main.0.weight has shape {tuple(first.shape)}")
        z_dim, channels = int(first.shape[0]), int(first.shape[1]) // 8
        if not (1 <= z_dim <= 8192 and 1 <= channels <= 1024):
            raise ValueError(f"z_dim {z_dim} / width {channels} out of range")
        # Shapes checked on the meta device first: a small file declaring a wide
        # network must not allocate that network before it is refused.
        with torch.device("meta"):
            expected = DCGANNetwork(z_dim, channels).state_dict()
        for key, tensor in expected.items():
            if key not in state_dict or tuple(state_dict[key].shape) != tuple(tensor.shape):
                found = tuple(state_dict[key].shape) if key in state_dict else "missing"
                raise ValueError(f"{key}: expected {tuple(tensor.shape)}, found {found}")
        self.net = DCGANNetwork(z_dim, channels)
        self.net.load_state_dict(state_dict)
        self.net.eval().requires_grad_(False)
        self.device = device
        # channels_last is ~25% faster for these transposed convolutions on CPU.
        self.net.to(device=device, memory_format=torch.channels_last)
        resolution = 64
        self.info = GeneratorInfo(
            name=name,
            ident=f"dcgan64:{sha256[:16]}",
            sha256=sha256,
            latent_dim=z_dim,
            latent_space="z",
            resolution=resolution,
        )

    @classmethod
    def matches(cls, keys: set[str]) -> bool:
        return "main.0.weight" in keys and "main.12.weight" in keys

    def sample_z(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.latent_dim), dtype=np.float32)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        z = latents.reshape(len(latents), self.latent_dim, 1, 1)
        return self.net(z.contiguous(memory_format=torch.channels_last))

    def sefa_weight(self) -> torch.Tensor:
        # ConvTranspose2d weight is (in=z_dim, out, kh, kw): each z component
        # feeds out*kh*kw outputs.
        weight = self.net.main[0].weight.detach().float().cpu()
        return weight.reshape(self.latent_dim, -1).T

