"""StyleGAN2 generators (Karras et al. 2020, config-f "skip" generator), from two sources.

- NVIDIA StyleGAN2-ADA `.pkl` (the `G_ema` network), rebuilt from the pickled
  module state without running its `module_src`;
- rosinality stylegan2-pytorch `.pt` (`g_ema` state dict and `latent_avg`).

Both convert to one canonical layout with learning-rate multipliers and weight
gains folded in: mapping = 2nd-moment normalization then FC+lrelu layers;
synthesis = learned 4x4 constant, modulated 3x3 convs with demodulation, fixed
("const") noise, and a skip path of 1x1 toRGB convs upsampled with the [1,3,3,1]
FIR filter. One w drives every layer; edits happen in W.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
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
from tlgan_tui.engine.generators.layers import (
    binomial_filter,
    lrelu_gain,
    modulated_conv2d,
    upsample2d,
)
from tlgan_tui.engine.generators.wspace import DEFAULT_PSI, MappingNetwork, WSpace


@dataclass(frozen=True)
class StyleGAN2Config(JsonConfig):
    resolution: int
    z_dim: int
    w_dim: int
    mapping_layers: int
    channels: tuple[int, ...]  # feature maps at 4, 8, ..., resolution
    img_channels: int = 3
    conv_clamp: float | None = None

    def validate(self) -> None:
        check_channels(self.channels, self.resolution)
        check_int("z_dim", self.z_dim, 1, MAX_DIM)
        check_int("w_dim", self.w_dim, 1, MAX_DIM)
        check_int("mapping_layers", self.mapping_layers, 1, 64)
        check_int("img_channels", self.img_channels, 1, 3)
        if self.conv_clamp is not None:
            check_float("conv_clamp", self.conv_clamp, 1e-3, 1e6)

    @property
    def num_layers(self) -> int:
        """Modulated 3x3 conv layers (each with its own style affine)."""
        return 1 + 2 * (len(self.channels) - 1)


class StyledConv(nn.Module):
    """Modulated 3x3 conv (+ optional 2x upsampling), const noise, bias, lrelu."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, up: bool) -> None:
        super().__init__()
        self.up = up
        self.affine = nn.Linear(w_dim, in_ch)
        self.weight = nn.Parameter(torch.zeros(out_ch, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.register_buffer("noise", torch.zeros(resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor, kernel: torch.Tensor,
                clamp: float | None) -> torch.Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight, styles, demodulate=True, up=self.up, kernel=kernel)
        x = x + self.noise.to(x.dtype)
        x = lrelu_gain(x + self.bias.to(x.dtype)[None, :, None, None])
        if clamp is not None:
            x = x.clamp(-clamp, clamp)
        return x


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation (weight gain folded into the affine)."""

    def __init__(self, in_ch: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = nn.Linear(w_dim, in_ch)
        self.weight = nn.Parameter(torch.zeros(img_channels, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, clamp: float | None) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w), demodulate=False)
        x = x + self.bias.to(x.dtype)[None, :, None, None]
        if clamp is not None:
            x = x.clamp(-clamp, clamp)
        return x


class SynthesisNetwork(nn.Module):
    """w (N, w_dim) -> image (N, C, R, R); the image (skip) path stays float32."""

    def __init__(self, config: StyleGAN2Config) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        self.const = nn.Parameter(torch.zeros(ch[0], 4, 4))
        self.layers = nn.ModuleList([StyledConv(ch[0], ch[0], config.w_dim, 4, up=False)])
        self.torgbs = nn.ModuleList([ToRGB(ch[0], config.img_channels, config.w_dim)])
        for index, (c_in, c_out) in enumerate(itertools.pairwise(ch)):
            res = 8 * 2**index
            self.layers.append(StyledConv(c_in, c_out, config.w_dim, res, up=True))
            self.layers.append(StyledConv(c_out, c_out, config.w_dim, res, up=False))
            self.torgbs.append(ToRGB(c_out, config.img_channels, config.w_dim))
        self.register_buffer("kernel", binomial_filter(), persistent=False)
        self.fp16_from = 1 << 30  # first resolution computed in half precision

    def use_half_from(self, resolution: int) -> None:
        """Run blocks at `resolution` and above in float16 (CUDA only)."""
        self.fp16_from = resolution
        for block, res in enumerate(self.resolutions()):
            if res < resolution:
                continue
            first = max(0, 2 * block - 1)
            layers = list(self.layers[first:2 * block + 1])
            for layer in [*layers, self.torgbs[block]]:
                layer.weight.data = layer.weight.data.half()
                layer.bias.data = layer.bias.data.half()
                if isinstance(layer, StyledConv):
                    layer.noise = layer.noise.half()

    def resolutions(self) -> list[int]:
        return [4 * 2**i for i in range(len(self.config.channels))]

    def _clamp(self, half: bool) -> float | None:
        clamp = self.config.conv_clamp
        if half and clamp is None:
            clamp = 256.0  # fp16 overflows long before this; real activations stay far below
        return clamp

    @property
    def num_ws(self) -> int:
        """Per-layer latents (W+), StyleGAN2's layout: conv k reads w_k, ToRGB of block b
        reads w_{2b+1}."""
        return len(self.layers) + 1

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """w is (N, w_dim), or (N, num_ws, w_dim) for a per-layer (W+) latent."""
        w = w.float()
        ws = w.unbind(1) if w.ndim == 3 else (w,) * self.num_ws
        if len(ws) != self.num_ws:
            raise ValueError(f"a per-layer latent needs {self.num_ws} layers, not {len(ws)}")
        half = self.fp16_from <= 4
        dtype = torch.float16 if half else torch.float32
        x = self.const.to(dtype)[None].expand(len(w), -1, -1, -1)
        x = self.layers[0](x, ws[0], self.kernel, self._clamp(half))
        image = self.torgbs[0](x, ws[1], self._clamp(half)).float()
        for block, res in enumerate(self.resolutions()[1:], start=1):
            half = res >= self.fp16_from
            x = x.to(torch.float16 if half else torch.float32)
            kernel = self.kernel.to(x.dtype)
            x = self.layers[2 * block - 1](x, ws[2 * block - 1], kernel, self._clamp(half))
            x = self.layers[2 * block](x, ws[2 * block], kernel, self._clamp(half))
            image = upsample2d(image, self.kernel) + self.torgbs[block](
                x, ws[2 * block + 1], self._clamp(half)
            ).float()
        return image


class StyleGAN2Generator(WSpace, Generator):
    """StyleGAN2 in inference mode; the edit space is W (mapping output, truncated).

    The mapping network always runs on the CPU in float32 so that "seed N" is
    the same w on every machine; synthesis runs on `device` in `dtype`.
    """

    def __init__(
        self,
        config: StyleGAN2Config,
        state: Mapping[str, torch.Tensor],
        sha256: str,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        name: str | None = None,
        psi: float = DEFAULT_PSI,
    ) -> None:
        self.config = config
        # Built on the meta device and given the loaded tensors (assign=True): no
        # initialization or copy of ~30M parameters on every start.
        with torch.device("meta"):
            self.mapping = MappingNetwork(config)
            self.synthesis = SynthesisNetwork(config)
        self.assign_weights(state, device, "StyleGAN2")
        self.synthesis.kernel = binomial_filter()
        self.mapping.eval().requires_grad_(False)
        self.synthesis.eval().requires_grad_(False)
        self.device = device
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: tune each conv once
        self.synthesis.to(device)
        self.dtype = dtype
        if dtype == torch.float16:
            # As NVIDIA's config-f: the 4 highest resolutions in half precision.
            self.synthesis.use_half_from(max(config.resolution // 8, 8))
        self.psi = DEFAULT_PSI
        self.set_psi(psi)
        self.info = GeneratorInfo(
            name=name or f"StyleGAN2-{config.resolution}",
            ident=f"stylegan2-{config.resolution}:{sha256[:16]}",
            sha256=sha256,
            latent_dim=config.w_dim,
            latent_space="w",
            resolution=config.resolution,
        )


    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        images = self.synthesis(latents.to(self.device))
        return images.float().clamp(-1.0, 1.0)

    def sefa_weight(self) -> torch.Tensor:
        """The style affine weights of every modulated conv, stacked: (sum in_ch, w_dim)."""
        weights = [layer.affine.weight.detach().float().cpu() for layer in self.synthesis.layers]
        return torch.cat(weights, dim=0)

    def activation_bytes_per_sample(self) -> int:
        cfg = self.config
        element = 2 if self.dtype == torch.float16 else 4
        return int(cfg.resolution**2 * cfg.channels[-1] * element * 8)


# --- conversion from the two source layouts ---------------------------------------


def _num(value: Any, default: float) -> float:
    if value is None:
        return default
    try:
        return float(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        return default


def convert_ada(tensors: Mapping[str, torch.Tensor], attrs: Mapping[str, Any]
                ) -> tuple[StyleGAN2Config, dict[str, torch.Tensor]]:
    """StyleGAN2-ADA G_ema (flattened names -> tensors, module attributes) -> canonical."""
    names = set(tensors)
    if any(n.startswith("synthesis.input.") or re.match(r"synthesis\.L\d+_", n) for n in names):
        raise TlganError("this is a StyleGAN3 network; only StyleGAN2(-ADA) pickles are supported")
    if any(n.startswith("mapping.embed.") for n in names):
        raise TlganError("conditional (class-labelled) StyleGAN2 networks are not supported")
    if "synthesis.b4.const" not in names:
        raise TlganError("not a StyleGAN2 generator: synthesis.b4.const is missing")
    out: dict[str, torch.Tensor] = {}
    try:
        # Mapping network.
        index = 0
        while f"mapping.fc{index}.weight" in names:
            prefix = f"mapping.fc{index}"
            weight = tensors[f"{prefix}.weight"].float()
            lr = _num(attrs.get("mapping.lr_multiplier"), 0.01)
            w_gain = _num(attrs.get(f"{prefix}.weight_gain"), lr / math.sqrt(weight.shape[1]))
            b_gain = _num(attrs.get(f"{prefix}.bias_gain"), lr)
            out[f"mapping.layers.{index}.weight"] = weight * w_gain
            out[f"mapping.layers.{index}.bias"] = tensors[f"{prefix}.bias"].float() * b_gain
            index += 1
        mapping_layers = index
        if mapping_layers == 0:
            raise KeyError("mapping.fc0.weight")
        out["mapping.w_avg"] = tensors["mapping.w_avg"].float()
        resolutions = sorted(
            {int(m.group(1)) for n in names if (m := re.match(r"synthesis\.b(\d+)\.", n))}
        )
        _check_resolutions(resolutions)
        out["synthesis.const"] = tensors["synthesis.b4.const"].float()
        layer = 0
        clamp: float | None = None
        for block, res in enumerate(resolutions):
            convs = ["conv1"] if block == 0 else ["conv0", "conv1"]
            for conv in convs:
                prefix = f"synthesis.b{res}.{conv}"
                dst = f"synthesis.layers.{layer}"
                affine = tensors[f"{prefix}.affine.weight"].float()
                a_gain = _num(attrs.get(f"{prefix}.affine.weight_gain"),
                              1.0 / math.sqrt(affine.shape[1]))
                a_bgain = _num(attrs.get(f"{prefix}.affine.bias_gain"), 1.0)
                out[f"{dst}.affine.weight"] = affine * a_gain
                out[f"{dst}.affine.bias"] = tensors[f"{prefix}.affine.bias"].float() * a_bgain
                out[f"{dst}.weight"] = tensors[f"{prefix}.weight"].float()
                out[f"{dst}.bias"] = tensors[f"{prefix}.bias"].float()
                noise_const = tensors.get(f"{prefix}.noise_const")
                strength = tensors.get(f"{prefix}.noise_strength")
                if noise_const is not None and strength is not None:
                    out[f"{dst}.noise"] = noise_const.float() * strength.float()
                else:
                    out[f"{dst}.noise"] = torch.zeros(res, res)
                clamp_value = attrs.get(f"{prefix}.conv_clamp")
                if clamp_value is not None:
                    clamp = _num(clamp_value, 256.0)
                layer += 1
            prefix = f"synthesis.b{res}.torgb"
            if f"{prefix}.weight" not in names:
                raise TlganError("only the 'skip' StyleGAN2 generator architecture is supported")
            weight = tensors[f"{prefix}.weight"].float()
            weight_gain = _num(attrs.get(f"{prefix}.weight_gain"),
                               1.0 / math.sqrt(weight[0].numel()))
            affine = tensors[f"{prefix}.affine.weight"].float()
            a_gain = _num(attrs.get(f"{prefix}.affine.weight_gain"),
                          1.0 / math.sqrt(affine.shape[1]))
            a_bgain = _num(attrs.get(f"{prefix}.affine.bias_gain"), 1.0)
            dst = f"synthesis.torgbs.{block}"
            out[f"{dst}.affine.weight"] = affine * a_gain * weight_gain
            out[f"{dst}.affine.bias"] = (
                tensors[f"{prefix}.affine.bias"].float() * a_bgain * weight_gain
            )
            out[f"{dst}.weight"] = weight
            out[f"{dst}.bias"] = tensors[f"{prefix}.bias"].float()
    except KeyError as error:
        raise TlganError(f"not a complete StyleGAN2 generator (missing {error})") from None
    channels = [int(out["synthesis.const"].shape[0])]
    for block in range(1, len(resolutions)):
        channels.append(int(out[f"synthesis.layers.{2 * block}.weight"].shape[0]))
    config = StyleGAN2Config(
        resolution=resolutions[-1],
        z_dim=int(out["mapping.layers.0.weight"].shape[1]),
        w_dim=int(out["mapping.w_avg"].shape[0]),
        mapping_layers=mapping_layers,
        channels=tuple(channels),
        img_channels=int(out["synthesis.torgbs.0.weight"].shape[0]),
        conv_clamp=clamp,
    )
    config.validate()
    return config, out


def _check_resolutions(resolutions: list[int]) -> None:
    expected = [4 * 2**i for i in range(len(resolutions))]
    if resolutions != expected:
        raise TlganError(f"unexpected StyleGAN2 block resolutions {resolutions}")


def convert_rosinality(
    state: Mapping[str, torch.Tensor], latent_avg: torch.Tensor | None, lr_mlp: float = 0.01
) -> tuple[StyleGAN2Config, dict[str, torch.Tensor]]:
    """rosinality stylegan2-pytorch Generator state dict (+ latent_avg) -> canonical."""
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    out: dict[str, torch.Tensor] = {}
    try:
        index = 1
        while f"style.{index}.weight" in sd:
            weight = sd[f"style.{index}.weight"].float()
            gain = lr_mlp / math.sqrt(weight.shape[1])
            out[f"mapping.layers.{index - 1}.weight"] = weight * gain
            out[f"mapping.layers.{index - 1}.bias"] = sd[f"style.{index}.bias"].float() * lr_mlp
            index += 1
        mapping_layers = index - 1
        if mapping_layers == 0:
            raise KeyError("style.1.weight")
        const = sd["input.input"].float()
        out["synthesis.const"] = const[0]

        def styled(src: str, dst: str, noise_index: int) -> None:
            weight = sd[f"{src}.conv.weight"].float()[0]  # (out, in, k, k)
            fan_in = weight[0].numel()
            out[f"{dst}.weight"] = weight / math.sqrt(fan_in)
            mod = sd[f"{src}.conv.modulation.weight"].float()
            out[f"{dst}.affine.weight"] = mod / math.sqrt(mod.shape[1])
            out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"].float()
            out[f"{dst}.bias"] = sd[f"{src}.activate.bias"].float().reshape(-1)
            noise = sd.get(f"noises.noise_{noise_index}")
            strength = sd[f"{src}.noise.weight"].float().reshape(())
            res = 4 * 2 ** ((noise_index + 1) // 2)
            out[f"{dst}.noise"] = (
                noise.float().reshape(res, res) * strength if noise is not None
                else torch.zeros(res, res)
            )

        def to_rgb(src: str, dst: str) -> None:
            weight = sd[f"{src}.conv.weight"].float()[0]
            mod = sd[f"{src}.conv.modulation.weight"].float()
            gain = 1.0 / math.sqrt(weight[0].numel())
            out[f"{dst}.weight"] = weight
            out[f"{dst}.affine.weight"] = mod * (gain / math.sqrt(mod.shape[1]))
            out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"].float() * gain
            out[f"{dst}.bias"] = sd[f"{src}.bias"].float().reshape(-1)

        styled("conv1", "synthesis.layers.0", 0)
        to_rgb("to_rgb1", "synthesis.torgbs.0")
        block = 1
        while f"convs.{2 * block - 2}.conv.weight" in sd:
            styled(f"convs.{2 * block - 2}", f"synthesis.layers.{2 * block - 1}", 2 * block - 1)
            styled(f"convs.{2 * block - 1}", f"synthesis.layers.{2 * block}", 2 * block)
            to_rgb(f"to_rgbs.{block - 1}", f"synthesis.torgbs.{block}")
            block += 1
    except KeyError as error:
        raise TlganError(f"not a complete rosinality StyleGAN2 generator (missing {error})") \
            from None
    channels = [int(const.shape[1])]
    for index in range(1, block):
        channels.append(int(out[f"synthesis.layers.{2 * index}.weight"].shape[0]))
    w_dim = int(out["mapping.layers.0.weight"].shape[0])
    config = StyleGAN2Config(
        resolution=4 * 2 ** (len(channels) - 1),
        z_dim=int(out["mapping.layers.0.weight"].shape[1]),
        w_dim=w_dim,
        mapping_layers=mapping_layers,
        channels=tuple(channels),
        img_channels=int(out["synthesis.torgbs.0.weight"].shape[0]),
        conv_clamp=None,
    )
    config.validate()
    if latent_avg is None:
        out["mapping.w_avg"] = _estimate_w_avg(config, out)
    else:
        out["mapping.w_avg"] = latent_avg.float().reshape(-1)[:w_dim].clone()
    return config, out


def _estimate_w_avg(config: StyleGAN2Config, state: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Mean of the mapping output over 8192 fixed samples (when the file has none)."""
    mapping = MappingNetwork(config)
    weights = {k[len("mapping."):]: v for k, v in state.items() if k.startswith("mapping.")}
    weights["w_avg"] = torch.zeros(config.w_dim)
    mapping.load_state_dict(weights)
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((8192, config.z_dim),
                                                                  dtype=np.float32))
    with torch.inference_mode():
        return mapping(z).mean(dim=0).clone()
