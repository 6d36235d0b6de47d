"""What every generator that edits in W shares: z -> w mapping, truncation psi."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.layers import lrelu_gain

DEFAULT_PSI = 0.7
PSI_RANGE = (-1.0, 2.0)


class MappingNetwork(nn.Module):
    """z -> w: normalize the second moment of z, then FC layers with scaled lrelu.

    `config` needs z_dim, w_dim and mapping_layers (StyleGAN2's and MobileStyleGAN's do).
    """

    def __init__(self, config: Any) -> None:
        super().__init__()
        dims = [config.z_dim] + [config.w_dim] * config.mapping_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for layer in self.layers:
            x = lrelu_gain(layer(x))
        return x


class WSpace:
    """Mixin for a Generator with a `mapping` network (holding `w_avg`) and a config
    with `z_dim` and `w_dim`. The mapping runs on the CPU in float32, so a seed gives
    the same w on every device."""

    mapping: Any
    synthesis: Any
    config: Any
    psi: float | None

    def assign_weights(self, state: Mapping[str, torch.Tensor], device: torch.device,
                       architecture: str) -> None:
        """Give the meta-built `mapping` (CPU, float32) and `synthesis` (on `device`)
        their tensors from `state` ("mapping.*", "synthesis.*")."""
        # Fresh (aligned) copies: tensors straight from a file mapping can take other
        # BLAS paths and round differently, and "seed N" must be bit-identical.
        mapping_state = {k[len("mapping."):]: v.float().clone() for k, v in state.items()
                         if k.startswith("mapping.")}
        synthesis_state = {k[len("synthesis."):]: v.to(device, torch.float32, copy=True)
                           for k, v in state.items() if k.startswith("synthesis.")}
        try:
            self.mapping.load_state_dict(mapping_state, assign=True)
            self.synthesis.load_state_dict(synthesis_state, assign=True)
        except RuntimeError as error:
            reason = " ".join(str(error).split())[:300]
            raise TlganError(f"{architecture} weights do not fit the architecture ({reason})") \
                from None

    def set_psi(self, psi: float) -> None:
        psi = float(psi)
        if not (math.isfinite(psi) and PSI_RANGE[0] <= psi <= PSI_RANGE[1]):
            raise TlganError(
                f"truncation psi must be between {PSI_RANGE[0]:g} and {PSI_RANGE[1]:g}, "
                f"got {psi:g}"
            )
        self.psi = psi

    @property
    def num_ws(self) -> int:
        """How many per-layer latents the synthesis network takes (W+)."""
        return int(self.synthesis.num_ws)

    @property
    def w_avg(self) -> np.ndarray:
        return self.mapping.w_avg.numpy().copy()

    def sample_z(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.config.z_dim), dtype=np.float32)

    def map_z(self, z: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """z -> untruncated w (float32, on the CPU)."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        out = np.empty((len(z), self.config.w_dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(z), batch_size):
                chunk = torch.from_numpy(np.ascontiguousarray(z[start:start + batch_size]))
                out[start:start + len(chunk)] = self.mapping(chunk).numpy()
        return out

    def z_to_latent(self, z: np.ndarray) -> np.ndarray:
        """Prior samples -> truncated w: w_avg + psi (w - w_avg)."""
        w = self.map_z(z)
        w_avg = self.mapping.w_avg.numpy()
        assert self.psi is not None
        return (w_avg + np.float32(self.psi) * (w - w_avg)).astype(np.float32)
