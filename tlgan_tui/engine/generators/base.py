"""The Generator interface every face model meets.

A generator maps latents in its *edit space* (z for DCGAN and pg-GAN, w for
StyleGAN2) to images. Editing, fitting, sessions and snapshots only ever see
edit-space latents, so they work the same for every architecture.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Self

import numpy as np
import torch
from PIL import Image

# Asked between pieces of work: True means the result is no longer wanted.
CancelCheck = Callable[[], bool]


class RenderCancelled(Exception):
    """A render was given up because a newer request made it stale (not an error)."""


def check_cancel(cancel: CancelCheck | None) -> None:
    """Raise RenderCancelled when `cancel` says the work is no longer wanted."""
    if cancel is not None and cancel():
        raise RenderCancelled


@dataclass(frozen=True)
class GeneratorInfo:
    """What the CLI, the app and file metadata say about a generator."""

    name: str  # architecture and data set, for people: "DCGAN-64 DigiFace-1M"
    ident: str  # stable id written into axes files and PNGs: "<arch>:<sha256 prefix>"
    sha256: str  # of the weights file it was loaded from
    latent_dim: int
    latent_space: str  # "z" or "w"
    resolution: int


class JsonConfig:
    """Mixin for frozen dataclass configs stored as JSON in safetensors metadata.

    JSON has no tuples, so list values come back as tuples (the configs' sequences).
    """

    def to_json(self) -> str:
        return json.dumps(asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, text: str) -> Self:
        from tlgan_tui.engine import bounded_json

        data = bounded_json.loads(text)
        if not isinstance(data, dict):
            raise TypeError(f"the config is a JSON {type(data).__name__}, not an object")
        config = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ValueError/TypeError when a field is out of range (before anything is built)."""


MAX_DIM = 8192
MAX_RESOLUTION = 4096


def check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"config {name}={value!r} is not an integer in {low}..{high}")


def check_float(name: str, value: object, low: float, high: float) -> None:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not low <= float(value) <= high):
        raise ValueError(f"config {name}={value!r} is not a number in {low:g}..{high:g}")


def check_channels(channels: object, resolution: object) -> None:
    """One feature-map count per scale 4, 8, ..., resolution."""
    if not isinstance(channels, tuple) or not channels:
        raise ValueError("config channels must be a non-empty list")
    for value in channels:
        check_int("channels[]", value, 1, MAX_DIM)
    expected = 4 * 2 ** (len(channels) - 1)
    if resolution != expected or expected > MAX_RESOLUTION:
        raise ValueError(f"config resolution={resolution!r} does not fit "
                         f"{len(channels)} scales ({expected})")


class Generator(ABC):
    """A pretrained face generator in inference mode on one device."""

    info: GeneratorInfo
    device: torch.device
    dtype: torch.dtype = torch.float32
    # Truncation psi for generators that edit in w; None where it means nothing.
    psi: float | None = None

    def set_psi(self, psi: float) -> None:
        """Change the truncation used by `sample` / `latent_for_seed` (w-space only)."""
        from tlgan_tui.engine.errors import TlganError

        raise TlganError(f"{self.info.name} has no truncation (psi) to change")

    @abstractmethod
    def sample_z(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n prior samples z (float32, shape (n, z_dim))."""

    def z_to_latent(self, z: np.ndarray) -> np.ndarray:
        """Map prior samples to the edit space (identity unless the space is w)."""
        return z

    @abstractmethod
    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """Edit-space latents (N, latent_dim) on self.device -> images NCHW in [-1, 1]."""

    @abstractmethod
    def sefa_weight(self) -> torch.Tensor:
        """Weight (out_features, latent_dim) of the first layer that consumes the latent."""

    @property
    def latent_dim(self) -> int:
        return self.info.latent_dim

    @property
    def resolution(self) -> int:
        return self.info.resolution

    @property
    def num_ws(self) -> int:
        """Per-layer latents (W+) the generator takes as (N, num_ws, latent_dim) in
        `forward`; 0 where it takes only one latent per face."""
        return 0

    def fits(self, latent: np.ndarray) -> bool:
        """Whether `latent` is one face's latent for this generator: (d,), or
        (num_ws, d) where it takes per-layer latents."""
        shape = np.shape(latent)
        return shape == (self.latent_dim,) or (
            self.num_ws > 0 and shape == (self.num_ws, self.latent_dim))

    @property
    def preview_sizes(self) -> tuple[int, ...]:
        """Sizes (px, ascending) `synthesize` can render; the largest is the full image.

        Smaller ones are cheaper previews of the same face where the architecture
        has them (MobileStyleGAN); other generators have just their one size.
        """
        return (self.resolution,)

    def forward_at(self, latents: torch.Tensor, size: int | None,
                   cancel: CancelCheck | None = None) -> torch.Tensor:
        """`forward` at one of `preview_sizes` (None = full resolution).

        Generators whose forward pass is long check `cancel` between its blocks
        (raising RenderCancelled); the others run to the end.
        """
        if size is None or size == self.resolution:
            return self.forward(latents)
        from tlgan_tui.engine.errors import TlganError

        raise TlganError(f"{self.info.name} renders only at {self.resolution} px, not {size}")

    def sample(self, n: int, seed: int) -> np.ndarray:
        """n edit-space latents drawn reproducibly from `seed` (the same on every device)."""
        rng = np.random.default_rng(seed)
        return self.z_to_latent(self.sample_z(n, rng)).astype(np.float32)

    def latent_for_seed(self, seed: int) -> np.ndarray:
        """The latent of the face a user knows as "seed N"."""
        return self.sample(1, seed)[0]

    def synthesize(self, latents: np.ndarray, batch_size: int = 64,
                   size: int | None = None, cancel: CancelCheck | None = None) -> np.ndarray:
        """Edit-space latents (N, latent_dim) -> uint8 RGB images (N, H, W, 3).

        `size` picks one of `preview_sizes` (default: full resolution). `cancel`,
        asked between batches (and between blocks where the generator can),
        stops the work early with RenderCancelled.
        """
        latents = np.atleast_2d(np.asarray(latents, dtype=np.float32))
        side = size or self.resolution
        out = np.empty((len(latents), side, side, 3), dtype=np.uint8)
        with torch.inference_mode():
            for start in range(0, len(latents), batch_size):
                check_cancel(cancel)
                chunk = torch.from_numpy(np.ascontiguousarray(latents[start : start + batch_size]))
                images = self.forward_at(chunk.to(self.device), size, cancel)
                out[start : start + len(chunk)] = to_uint8(images)
        return out

    def render(self, latent: np.ndarray) -> Image.Image:
        """One latent -> one PIL image at the generator's resolution."""
        return Image.fromarray(self.synthesize(latent[None])[0])


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """NCHW images in [-1, 1] on any device -> NHWC uint8 numpy (outside values clamped).

    The conversion runs where the images are, so a GPU sends 1 byte per channel
    to the host instead of 4.
    """
    scaled = ((images.float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).contiguous().cpu().numpy()
