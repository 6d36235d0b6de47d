"""What every generator that edits in W shares: z -> w mapping, truncation psi."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from tlgan_tui.engine.errors import TlganError

DEFAULT_PSI = 0.7
PSI_RANGE = (-1.0, 2.0)


class WSpace:
    """Mixin for a Generator with a `mapping` network (holding `w_avg`) and a config
    with `z_dim` and `w_dim`. The mapping runs on the CPU in float32, so a seed gives
    the same w on every device."""

    mapping: Any
    config: Any
    psi: float | None

    def set_psi(self, psi: float) -> None:
        psi = float(psi)
        if not (math.isfinite(psi) and PSI_RANGE[0] <= psi <= PSI_RANGE[1]):
            raise TlganError(
                f"truncation psi must be between {PSI_RANGE[0]:g} and {PSI_RANGE[1]:g}, "
                f"got {psi:g}"
            )
        self.psi = psi

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
