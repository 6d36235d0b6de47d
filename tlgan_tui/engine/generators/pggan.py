"""Progressive GAN generators (Karras et al. 2018), from two sources.

One network covers both checkpoints users bring:

- NVIDIA's TensorFlow pickle (the CelebA-HQ 1024 model TL-GAN used), whose
  variables are named `4x4/Dense/weight`, `{r}x{r}/Conv0/weight`, `ToRGB_lod{k}/*`;
- pytorch_GAN_zoo PGAN checkpoints (`formatLayer`, `groupScale0`, `scaleLayers`,
  `toRGBLayers`, every layer wrapped for equalized learning rate).

Both are converted once to a canonical layout with the equalized-lr constants
folded into the weights, so the forward pass is plain linear/conv layers:
pixel-norm z -> dense -> lrelu -> (c0, 4, 4) -> pixel-norm -> conv -> ... ->
per scale: nearest x2, two (conv -> lrelu -> pixel-norm) -> toRGB, optionally
blended with the previous scale's toRGB (alpha / fractional lod).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.base import (
    MAX_DIM,
    Generator,
    GeneratorInfo,
    JsonConfig,
    check_channels,
    check_float,
    check_int,
)
from tlgan_tui.engine.generators.layers import SQRT2, equalized_scale, pixel_norm


@dataclass(frozen=True)
class PGGANConfig(JsonConfig):
    resolution: int
    latent_dim: int
    channels: tuple[int, ...]  # feature maps at 4, 8, ..., resolution
    img_channels: int = 3
    alpha: float = 0.0  # weight of the previous scale's (upsampled) image
    normalize_latents: bool = True
    use_pixel_norm: bool = True
    slope: float = 0.2

    def validate(self) -> None:
        check_channels(self.channels, self.resolution)
        check_int("latent_dim", self.latent_dim, 1, MAX_DIM)
        check_int("img_channels", self.img_channels, 1, 3)
        check_float("alpha", self.alpha, 0.0, 1.0)
        check_float("slope", self.slope, 0.0, 1.0)
        for name in ("normalize_latents", "use_pixel_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"config {name} must be true or false")


class PGGANNetwork(nn.Module):
    """z (N, latent_dim) -> image (N, 3, R, R), unclamped."""

    def __init__(self, config: PGGANConfig) -> None:
        super().__init__()
        self.config = config
        c0 = config.channels[0]
        self.dense = nn.Linear(config.latent_dim, 16 * c0)
        self.conv4 = nn.Conv2d(c0, c0, 3, padding=1)
        self.blocks = nn.ModuleList()
        for c_in, c_out in zip(config.channels[:-1], config.channels[1:], strict=True):
            block = nn.Module()
            block.conv0 = nn.Conv2d(c_in, c_out, 3, padding=1)
            block.conv1 = nn.Conv2d(c_out, c_out, 3, padding=1)
            self.blocks.append(block)
        self.torgb = nn.ModuleList(nn.Conv2d(c, config.img_channels, 1) for c in config.channels)

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_norm(x) if self.config.use_pixel_norm else x

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        x = pixel_norm(z) if cfg.normalize_latents else z
        x = F.leaky_relu(self.dense(x), cfg.slope).reshape(len(z), cfg.channels[0], 4, 4)
        x = self._norm(x)
        x = self._norm(F.leaky_relu(self.conv4(x), cfg.slope))
        previous: torch.Tensor | None = None
        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks):
            if cfg.alpha > 0 and index == last:
                previous = self.torgb[index](x)
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = self._norm(F.leaky_relu(block.conv0(x), cfg.slope))
            x = self._norm(F.leaky_relu(block.conv1(x), cfg.slope))
        image = self.torgb[-1](x)
        if previous is not None:
            upsampled = F.interpolate(previous, scale_factor=2.0, mode="nearest")
            image = cfg.alpha * upsampled + (1.0 - cfg.alpha) * image
        if cfg.img_channels == 1:
            image = image.expand(-1, 3, -1, -1)
        return image


class PGGANGenerator(Generator):
    """A pg-GAN in inference mode; edits happen in z (pixel-normalized inside)."""

    def __init__(
        self,
        config: PGGANConfig,
        state: Mapping[str, torch.Tensor],
        sha256: str,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        name: str | None = None,
    ) -> None:
        self.config = config
        with torch.device("meta"):  # no init: the loaded tensors are assigned
            self.net = PGGANNetwork(config)
        try:
            self.net.load_state_dict(
                {k: v.to(device, torch.float32, copy=True) for k, v in state.items()}, assign=True
            )
        except RuntimeError as error:
            reason = " ".join(str(error).split())[:300]
            raise TlganError(f"pg-GAN weights do not fit the architecture ({reason})") from None
        self.net.eval().requires_grad_(False)
        self.device = device
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: tune each conv once
        self.dtype = dtype
        self.net.to(device=device, dtype=dtype)
        self.info = GeneratorInfo(
            name=name or f"pg-GAN-{config.resolution}",
            ident=f"pggan{config.resolution}:{sha256[:16]}",
            sha256=sha256,
            latent_dim=config.latent_dim,
            latent_space="z",
            resolution=config.resolution,
        )

    def sample_z(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.latent_dim), dtype=np.float32)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        images = self.net(latents.to(device=self.device, dtype=self.dtype))
        return images.float().clamp(-1.0, 1.0)

    def sefa_weight(self) -> torch.Tensor:
        return self.net.dense.weight.detach().float().cpu()

    def activation_bytes_per_sample(self) -> int:
        """Rough peak activation memory of one sample in inference."""
        cfg = self.config
        element = 2 if self.dtype == torch.float16 else 4
        return int(cfg.resolution**2 * cfg.channels[-1] * element * 6)


# --- conversion from the two source layouts ---------------------------------------


def _strip_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in state.items():
        out[key[len("module."):] if key.startswith("module.") else key] = value
    return out


def _config_value(config: Any, name: str, default: Any) -> Any:
    if config is None:
        return default
    if isinstance(config, Mapping):
        return config.get(name, default)
    return getattr(config, name, default)


def convert_gan_zoo(state: Mapping[str, Any], config: Any = None) -> tuple[PGGANConfig, dict]:
    """pytorch_GAN_zoo GNet state dict (+ its BaseConfig) -> canonical (config, tensors)."""
    sd = _strip_prefix(state)
    try:
        equalized = bool(_config_value(config, "equalizedlR", True))

        def layer(prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
            weight = sd[f"{prefix}.module.weight"].float()
            bias = sd[f"{prefix}.module.bias"].float()
            scale = equalized_scale(weight.shape, SQRT2) if equalized else 1.0
            return weight * scale, bias * scale

        out: dict[str, torch.Tensor] = {}
        out["dense.weight"], out["dense.bias"] = layer("formatLayer")
        latent_dim = int(out["dense.weight"].shape[1])
        c0 = int(out["dense.weight"].shape[0]) // 16
        out["conv4.weight"], out["conv4.bias"] = layer("groupScale0.0")
        channels = [c0]
        scale = 0
        while f"scaleLayers.{scale}.0.module.weight" in sd:
            out[f"blocks.{scale}.conv0.weight"], out[f"blocks.{scale}.conv0.bias"] = layer(
                f"scaleLayers.{scale}.0"
            )
            out[f"blocks.{scale}.conv1.weight"], out[f"blocks.{scale}.conv1.bias"] = layer(
                f"scaleLayers.{scale}.1"
            )
            channels.append(int(out[f"blocks.{scale}.conv1.weight"].shape[0]))
            scale += 1
        for index in range(len(channels)):
            out[f"torgb.{index}.weight"], out[f"torgb.{index}.bias"] = layer(
                f"toRGBLayers.{index}"
            )
    except KeyError as error:
        raise TlganError(f"not a complete pytorch_GAN_zoo PGAN generator (missing {error})") \
            from None
    depth0 = _config_value(config, "depthScale0", c0)
    if depth0 is not None and (isinstance(depth0, bool) or not isinstance(depth0, int | float)):
        raise TlganError(f"PGAN config depthScale0={str(depth0)[:20]!r} is not a number")
    if depth0 is not None and int(depth0) != c0:
        raise TlganError(f"PGAN config says depthScale0={depth0}, weights say {c0}")
    alpha = float(_config_value(config, "alpha", 0.0) or 0.0)
    img_channels = int(out["torgb.0.weight"].shape[0])
    cfg = PGGANConfig(
        resolution=4 * 2 ** (len(channels) - 1),
        latent_dim=latent_dim,
        channels=tuple(channels),
        img_channels=img_channels,
        alpha=min(max(alpha, 0.0), 1.0),
        normalize_latents=bool(_config_value(config, "perChannelNormalization", True)),
        use_pixel_norm=bool(_config_value(config, "perChannelNormalization", True)),
        slope=float(_config_value(config, "leakyReluLeak", 0.2) or 0.2),
    )
    cfg.validate()
    return cfg, out


def _tf_conv(weight: np.ndarray, gain: float, use_wscale: bool) -> torch.Tensor:
    """TF kernel [k, k, in, out] -> torch [out, in, k, k] with the wscale folded in."""
    tensor = torch.from_numpy(np.asarray(weight, dtype=np.float32)).permute(3, 2, 0, 1)
    scale = gain / math.sqrt(tensor.shape[1] * tensor.shape[2] * tensor.shape[3])
    return (tensor * (scale if use_wscale else 1.0)).contiguous()


def convert_tf_pggan(
    variables: Mapping[str, np.ndarray], static_kwargs: Mapping[str, Any] | None = None
) -> tuple[PGGANConfig, dict]:
    """NVIDIA pg-GAN Gs variables (name -> numpy) -> canonical (config, tensors)."""
    kwargs = dict(static_kwargs or {})
    use_wscale = bool(kwargs.get("use_wscale", True))
    if any("Conv0_up" in name for name in variables):
        raise TlganError("pg-GAN pickles trained with fused_scale=True are not supported")
    resolutions = sorted(
        {int(m.group(1)) for name in variables if (m := re.match(r"(\d+)x\1/", name))}
    )
    if not resolutions or resolutions[0] != 4:
        raise TlganError("not a pg-GAN generator: no 4x4 block among the variables")
    log_res = int(math.log2(resolutions[-1]))
    try:
        dense = np.asarray(variables["4x4/Dense/weight"], dtype=np.float32)
        latent_dim, features = dense.shape
        c0 = features // 16
        out: dict[str, torch.Tensor] = {}
        dense_scale = (SQRT2 / 4) / math.sqrt(latent_dim) if use_wscale else 1.0
        out["dense.weight"] = torch.from_numpy(dense).T.contiguous() * dense_scale
        # The TF bias is added after the reshape to (c0, 4, 4): one value per channel.
        dense_bias = torch.from_numpy(np.asarray(variables["4x4/Dense/bias"], np.float32))
        out["dense.bias"] = dense_bias.repeat_interleave(16)
        out["conv4.weight"] = _tf_conv(variables["4x4/Conv/weight"], SQRT2, use_wscale)
        out["conv4.bias"] = torch.from_numpy(np.asarray(variables["4x4/Conv/bias"], np.float32))
        channels = [c0]
        for index, res in enumerate(resolutions[1:]):
            for conv in ("Conv0", "Conv1"):
                prefix = f"blocks.{index}.{conv.lower()}"
                out[f"{prefix}.weight"] = _tf_conv(
                    variables[f"{res}x{res}/{conv}/weight"], SQRT2, use_wscale
                )
                out[f"{prefix}.bias"] = torch.from_numpy(
                    np.asarray(variables[f"{res}x{res}/{conv}/bias"], np.float32)
                )
            channels.append(int(out[f"blocks.{index}.conv1.weight"].shape[0]))
        for index, res in enumerate(resolutions):
            lod = log_res - int(math.log2(res))
            out[f"torgb.{index}.weight"] = _tf_conv(
                variables[f"ToRGB_lod{lod}/weight"], 1.0, use_wscale
            )
            out[f"torgb.{index}.bias"] = torch.from_numpy(
                np.asarray(variables[f"ToRGB_lod{lod}/bias"], np.float32)
            )
    except KeyError as error:
        raise TlganError(f"not a complete pg-GAN generator (missing variable {error})") from None
    lod_value = float(np.asarray(variables.get("lod", 0.0)))
    if not 0.0 <= lod_value < 1.0:
        raise TlganError(
            f"this pg-GAN is not fully grown (lod={lod_value:g}); only finished networks load"
        )
    cfg = PGGANConfig(
        resolution=resolutions[-1],
        latent_dim=int(latent_dim),
        channels=tuple(channels),
        img_channels=int(out["torgb.0.weight"].shape[0]),
        alpha=lod_value,
        normalize_latents=bool(kwargs.get("normalize_latents", True)),
        use_pixel_norm=bool(kwargs.get("use_pixelnorm", True)),
    )
    cfg.validate()
    return cfg, out
