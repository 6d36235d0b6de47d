"""Tiny checkpoints in the real third-party formats, and independent reference nets.

Used by tests/test_generators_*.py. Every writer produces a file in the layout
the original tools write (variable names, pickling mechanism), with random
weights; every reference forward is written from the format's own conventions
(scales applied at run time, per-sample convolutions, explicit zero insertion),
not through the project's canonical layout.
"""

from __future__ import annotations

import argparse
import itertools
import math
import pickle
import sys
import types
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)
FIR = torch.tensor([1.0, 3.0, 3.0, 1.0])
FIR2D = torch.outer(FIR, FIR) / 64.0


@contextmanager
def fake_modules(**modules: dict[str, Any]) -> Iterator[None]:
    """Temporarily register modules ("a__b" means "a.b" -> {attr: obj}) so pickle can name
    the stand-in classes by the original tools' module paths."""
    created: list[str] = []
    try:
        for key, members in modules.items():
            dotted = key.replace("__", ".")
            parts = dotted.split(".")
            for i in range(1, len(parts) + 1):
                name = ".".join(parts[:i])
                if name in sys.modules:
                    if i == len(parts):
                        raise RuntimeError(f"{name} is a real module here")
                    continue
                sys.modules[name] = types.ModuleType(name)
                created.append(name)
            for attr, obj in members.items():
                setattr(sys.modules[dotted], attr, obj)
                obj.__module__ = dotted
        yield
    finally:
        for name in created:
            sys.modules.pop(name, None)


# --- StyleGAN2-ADA ---------------------------------------------------------------------


def _reconstruct_persistent_obj(meta: dict) -> Any:  # stand-in; never called by the loader
    raise AssertionError("the real persistence function must never be reached")


_reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"


class PModule(nn.Module):
    """An nn.Module pickled the way torch_utils.persistence pickles decorated classes."""

    module_src = "# network code would be here\n"

    def __init__(self, class_name: str) -> None:
        super().__init__()
        self._class_name = class_name

    def __reduce__(self) -> tuple:
        state = dict(self.__dict__)
        meta = {"type": "class", "version": 6, "module_src": self.module_src,
                "class_name": self._class_name, "state": state}
        return (_reconstruct_persistent_obj, (meta,))


class EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict."""


def make_ada_generator(resolution: int = 32, w_dim: int = 32, mapping_layers: int = 2,
                       seed: int = 0, conv_clamp: float | None = 256.0,
                       module_src: str | None = None) -> PModule:
    """A StyleGAN2-ADA `Generator` module tree with random weights (the real names)."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * scale

    PModule.module_src = module_src or "# network code would be here\n"
    channels = {4: 32, 8: 32, 16: 16, 32: 8, 64: 8}

    def fc(in_f: int, out_f: int, lr: float, bias_init: float, activation: str) -> PModule:
        m = PModule("FullyConnectedLayer")
        m.activation = activation
        m.weight = nn.Parameter(randn(out_f, in_f) / lr)
        m.bias = nn.Parameter(randn(out_f, scale=0.1) + bias_init / lr)
        m.weight_gain = np.float64(lr / np.sqrt(in_f))
        m.bias_gain = lr
        return m

    g = PModule("Generator")
    g.z_dim, g.c_dim, g.w_dim, g.img_resolution, g.img_channels = w_dim, 0, w_dim, resolution, 3
    mapping = PModule("MappingNetwork")
    mapping.z_dim, mapping.num_layers, mapping.w_avg_beta = w_dim, mapping_layers, 0.995
    for i in range(mapping_layers):
        setattr(mapping, f"fc{i}", fc(w_dim, w_dim, 0.01, 0.0, "lrelu"))
    mapping.register_buffer("w_avg", randn(w_dim, scale=0.3))
    g.mapping = mapping
    synthesis = PModule("SynthesisNetwork")
    res = 4
    prev = 0
    while res <= resolution:
        block = PModule("SynthesisBlock")
        block.resolution = res
        block.register_buffer("resample_filter", FIR2D.clone())
        out_ch = channels[res]
        if res == 4:
            block.const = nn.Parameter(randn(out_ch, 4, 4))
        names = ["conv1"] if res == 4 else ["conv0", "conv1"]
        for name in names:
            in_ch = out_ch if (res == 4 or name == "conv1") else prev
            layer = PModule("SynthesisLayer")
            layer.up = 2 if name == "conv0" else 1
            layer.conv_clamp = conv_clamp
            layer.activation = "lrelu"
            layer.act_gain = SQRT2
            layer.affine = fc(w_dim, in_ch, 1.0, 1.0, "linear")
            layer.weight = nn.Parameter(randn(out_ch, in_ch, 3, 3))
            layer.bias = nn.Parameter(randn(out_ch, scale=0.1))
            layer.register_buffer("noise_const", randn(res, res))
            layer.noise_strength = nn.Parameter(torch.tensor(0.1 + 0.05 * res / resolution))
            layer.register_buffer("resample_filter", FIR2D.clone())
            setattr(block, name, layer)
        torgb = PModule("ToRGBLayer")
        torgb.conv_clamp = conv_clamp
        torgb.affine = fc(w_dim, out_ch, 1.0, 1.0, "linear")
        torgb.weight = nn.Parameter(randn(3, out_ch, 1, 1))
        torgb.bias = nn.Parameter(randn(3, scale=0.1))
        torgb.weight_gain = 1 / np.sqrt(out_ch)
        block.torgb = torgb
        setattr(synthesis, f"b{res}", block)
        prev = out_ch
        res *= 2
    g.synthesis = synthesis
    return g


def write_ada_pickle(path: Path, g: PModule) -> None:
    """{'G', 'D', 'G_ema', 'augment_pipe', 'training_set_kwargs'} as StyleGAN2-ADA saves it."""
    d = PModule("Discriminator")
    d.b4 = PModule("DiscriminatorBlock")
    d.b4.fromrgb = PModule("Conv2dLayer")
    d.b4.fromrgb.weight = nn.Parameter(torch.randn(4, 3, 1, 1))
    snapshot = {
        "G": g, "D": d, "G_ema": g, "augment_pipe": None,
        "training_set_kwargs": EasyDict(path="ffhq.zip", resolution=32),
    }
    with fake_modules(torch_utils__persistence={
            "_reconstruct_persistent_obj": _reconstruct_persistent_obj},
            dnnlib__util={"EasyDict": EasyDict}):
        data = pickle.dumps(snapshot, protocol=4)
    path.write_bytes(data)


def _ada_params(g: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in g.state_dict().items()}


def ref_mapping(g: PModule, z: torch.Tensor) -> torch.Tensor:
    x = z / torch.sqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
    for i in range(g.mapping.num_layers):
        layer = getattr(g.mapping, f"fc{i}")
        x = x @ (layer.weight * float(layer.weight_gain)).T + layer.bias * layer.bias_gain
        x = F.leaky_relu(x, 0.2) * SQRT2
    return x


def _zero_insert(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, 2 * h, 2 * w)
    out[:, :, ::2, ::2] = x
    return out


def _fir(x: torch.Tensor, pad: tuple[int, int], gain: float) -> torch.Tensor:
    c = x.shape[1]
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    kernel = (FIR2D * gain).to(x.dtype)[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, kernel, groups=c)


def ref_modconv_sample(x: torch.Tensor, weight: torch.Tensor, style: torch.Tensor,
                       demod: bool, up: bool) -> torch.Tensor:
    """One sample (1, in, H, W), the per-sample weight built explicitly."""
    w = weight * style[None, :, None, None]
    if demod:
        w = w / torch.sqrt(w.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
    if not up:
        return F.conv2d(x, w, padding=w.shape[-1] // 2)
    # transposed conv, stride 2 = zero insertion (2H-1), pad k-1, correlate with flipped kernel
    u = _zero_insert(x)[:, :, :-1, :-1]
    k = w.shape[-1]
    u = F.pad(u, (k - 1, k - 1, k - 1, k - 1))
    y = F.conv2d(u, w.flip(2, 3))
    return _fir(y, (1, 1), 4.0)


def ref_synthesis(g: PModule, w: torch.Tensor) -> torch.Tensor:
    """StyleGAN2-ADA synthesis with noise_mode='const': one w for all layers (N, w_dim), or
    per-layer ws (N, num_ws, w_dim) split as upstream: each conv takes the next w, a
    block's ToRGB the w after its last conv."""
    images = []
    for n in range(len(w)):
        ws = w[n]
        index = 0
        img = None
        x = None
        res = 4
        while res <= g.img_resolution:
            block = getattr(g.synthesis, f"b{res}")
            if res == 4:
                x = block.const[None]
            for name in (["conv1"] if res == 4 else ["conv0", "conv1"]):
                layer = getattr(block, name)
                aff = layer.affine
                wn = (ws[index] if ws.ndim == 2 else ws)[None]
                index += 1
                style = (wn @ (aff.weight * float(aff.weight_gain)).T + aff.bias * aff.bias_gain)[0]
                x = ref_modconv_sample(x, layer.weight, style, True, layer.up == 2)
                x = x + layer.noise_const * layer.noise_strength
                x = F.leaky_relu(x + layer.bias[None, :, None, None], 0.2) * SQRT2
                if layer.conv_clamp is not None:
                    x = x.clamp(-layer.conv_clamp, layer.conv_clamp)
            torgb = block.torgb
            aff = torgb.affine
            wn = (ws[index] if ws.ndim == 2 else ws)[None]
            style = (wn @ (aff.weight * float(aff.weight_gain)).T + aff.bias * aff.bias_gain)[0]
            y = ref_modconv_sample(x, torgb.weight, style * float(torgb.weight_gain), False, False)
            y = y + torgb.bias[None, :, None, None]
            if torgb.conv_clamp is not None:
                y = y.clamp(-torgb.conv_clamp, torgb.conv_clamp)
            img = y if img is None else _fir(_zero_insert(img), (2, 1), 4.0) + y
            res *= 2
        images.append(img)
    return torch.cat(images)


def ref_w(g: PModule, z: np.ndarray, psi: float) -> np.ndarray:
    with torch.no_grad():
        w = ref_mapping(g, torch.from_numpy(z))
        w_avg = g.mapping.w_avg
        return (w_avg + psi * (w - w_avg)).numpy()


# --- rosinality stylegan2-pytorch --------------------------------------------------------


def write_rosinality_checkpoint(path: Path, g: PModule, with_training_state: bool = True
                                ) -> None:
    """The same network as `g` (ADA layout) written as rosinality's {'g_ema', 'latent_avg'}."""
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    w_dim = g.w_dim
    with torch.no_grad():
        for i in range(g.mapping.num_layers):
            fc = getattr(g.mapping, f"fc{i}")
            in_f = fc.weight.shape[1]
            gain = float(fc.weight_gain) / (0.01 / math.sqrt(in_f))
            sd[f"style.{i + 1}.weight"] = fc.weight * gain
            sd[f"style.{i + 1}.bias"] = fc.bias * fc.bias_gain / 0.01
        sd["input.input"] = g.synthesis.b4.const[None].clone()

        def styled(prefix: str, layer: PModule, noise_index: int) -> None:
            in_ch = layer.weight.shape[1]
            sd[f"{prefix}.conv.weight"] = (layer.weight * math.sqrt(in_ch * 9))[None].clone()
            aff = layer.affine
            sd[f"{prefix}.conv.modulation.weight"] = aff.weight * float(aff.weight_gain) * \
                math.sqrt(w_dim)
            sd[f"{prefix}.conv.modulation.bias"] = aff.bias * aff.bias_gain
            if layer.up == 2:
                sd[f"{prefix}.conv.blur.kernel"] = FIR2D * 4
            sd[f"{prefix}.noise.weight"] = layer.noise_strength.reshape(1).clone()
            sd[f"{prefix}.activate.bias"] = layer.bias.clone()
            sd[f"noises.noise_{noise_index}"] = layer.noise_const[None, None].clone()

        def to_rgb(prefix: str, torgb: PModule, upsample: bool) -> None:
            aff = torgb.affine
            sd[f"{prefix}.conv.weight"] = torgb.weight[None].clone()
            sd[f"{prefix}.conv.modulation.weight"] = aff.weight * float(aff.weight_gain) * \
                math.sqrt(w_dim)
            sd[f"{prefix}.conv.modulation.bias"] = aff.bias * aff.bias_gain
            sd[f"{prefix}.bias"] = torgb.bias.reshape(1, 3, 1, 1).clone()
            if upsample:
                sd[f"{prefix}.upsample.kernel"] = FIR2D * 4

        styled("conv1", g.synthesis.b4.conv1, 0)
        to_rgb("to_rgb1", g.synthesis.b4.torgb, False)
        res, block = 8, 0
        while res <= g.img_resolution:
            b = getattr(g.synthesis, f"b{res}")
            styled(f"convs.{2 * block}", b.conv0, 2 * block + 1)
            styled(f"convs.{2 * block + 1}", b.conv1, 2 * block + 2)
            to_rgb(f"to_rgbs.{block}", b.torgb, True)
            res, block = res * 2, block + 1
    checkpoint: dict[str, Any] = {"g_ema": sd, "latent_avg": g.mapping.w_avg.detach().clone()}
    if with_training_state:
        checkpoint["args"] = argparse.Namespace(size=g.img_resolution, n_mlp=2, iter=10)
        checkpoint["g_optim"] = {"state": {}, "param_groups": [{"lr": 0.002}]}
    torch.save(checkpoint, path)


# --- pytorch_GAN_zoo PGAN ------------------------------------------------------------


class Equalized(nn.Module):
    """pytorch_GAN_zoo's ConstrainedLayer: run the wrapped layer, then scale by He's constant."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        fan_in = module.weight[0].numel()
        self.scale = math.sqrt(2.0 / fan_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x) * self.scale


def _pn(x: torch.Tensor) -> torch.Tensor:
    return x * ((x**2).mean(dim=1, keepdim=True) + 1e-8).rsqrt()


class ZooGNet(nn.Module):
    """A pytorch_GAN_zoo GNet with the original attribute names and forward."""

    def __init__(self, latent: int = 16, depth0: int = 16, depths: tuple[int, ...] = (16, 8),
                 alpha: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.alpha = alpha
        self.formatLayer = Equalized(nn.Linear(latent, 16 * depth0))
        self.groupScale0 = nn.ModuleList([Equalized(nn.Conv2d(depth0, depth0, 3, padding=1))])
        self.scaleLayers = nn.ModuleList()
        self.toRGBLayers = nn.ModuleList([Equalized(nn.Conv2d(depth0, 3, 1))])
        prev = depth0
        for depth in depths:
            self.scaleLayers.append(nn.ModuleList([
                Equalized(nn.Conv2d(prev, depth, 3, padding=1)),
                Equalized(nn.Conv2d(depth, depth, 3, padding=1)),
            ]))
            self.toRGBLayers.append(Equalized(nn.Conv2d(depth, 3, 1)))
            prev = depth
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0, 1) if p.dim() > 1 else p.normal_(0, 0.2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lrelu = nn.LeakyReLU(0.2)
        up = nn.Upsample(scale_factor=2, mode="nearest")
        x = _pn(z)
        x = lrelu(self.formatLayer(x)).view(len(z), -1, 4, 4)
        x = _pn(x)
        for conv in self.groupScale0:
            x = _pn(lrelu(conv(x)))
        y = None
        if self.alpha > 0 and len(self.scaleLayers) == 1:
            y = up(self.toRGBLayers[-2](x))
        for scale, group in enumerate(self.scaleLayers):
            x = up(x)
            for conv in group:
                x = _pn(lrelu(conv(x)))
            if self.alpha > 0 and scale == len(self.scaleLayers) - 2:
                y = up(self.toRGBLayers[-2](x))
        x = self.toRGBLayers[-1](x)
        if self.alpha > 0:
            x = self.alpha * y + (1 - self.alpha) * x
        return x


class BaseConfig:
    """Stand-in for pytorch_GAN_zoo's models.utils.config.BaseConfig."""


def write_gan_zoo_checkpoint(path: Path, avg: ZooGNet, net: ZooGNet) -> None:
    config = BaseConfig()
    config.depthScale0 = avg.formatLayer.module.weight.shape[0] // 16
    config.depthOtherScales = [g[1].module.weight.shape[0] for g in avg.scaleLayers]
    config.alpha = avg.alpha
    config.perChannelNormalization = True
    config.noiseVectorDim = avg.formatLayer.module.weight.shape[1]
    config.equalizedlR = True
    config.lossMode = "WGANGP"
    with fake_modules(models__utils__config={"BaseConfig": BaseConfig}):
        torch.save({"config": config, "netG": net.state_dict(), "avgG": avg.state_dict(),
                    "netD": {"formatLayer.module.weight": torch.zeros(1, 4)}}, path)


# --- NVIDIA pg-GAN TensorFlow pickle ---------------------------------------------------


class Network:
    """Stand-in for pg-GAN's tfutil.Network: pickles exactly its __getstate__ dict."""

    def __init__(self, name: str, variables: list[tuple[str, np.ndarray]],
                 build_module_src: str = "def G_paper(): pass\n") -> None:
        self.name = name
        self.variables = variables
        self.build_module_src = build_module_src

    def __getstate__(self) -> dict:
        return {"version": 2, "name": self.name,
                "static_kwargs": {"num_channels": 3, "resolution": 16, "label_size": 0},
                "build_module_src": self.build_module_src, "build_func_name": "G_paper",
                "variables": self.variables}


def make_tf_pggan_variables(latent: int = 16, channels: tuple[int, ...] = (16, 16, 8),
                            lod: float = 0.0, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out: list[tuple[str, np.ndarray]] = []
    c0 = channels[0]

    def add(name: str, *shape: int, scale: float = 1.0) -> None:
        out.append((name, (rng.standard_normal(shape) * scale).astype(np.float32)))

    add("4x4/Dense/weight", latent, 16 * c0)
    add("4x4/Dense/bias", c0, scale=0.2)
    add("4x4/Conv/weight", 3, 3, c0, c0)
    add("4x4/Conv/bias", c0, scale=0.2)
    for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
        r = 8 * 2**i
        add(f"{r}x{r}/Conv0/weight", 3, 3, c_in, c_out)
        add(f"{r}x{r}/Conv0/bias", c_out, scale=0.2)
        add(f"{r}x{r}/Conv1/weight", 3, 3, c_out, c_out)
        add(f"{r}x{r}/Conv1/bias", c_out, scale=0.2)
    n = len(channels)
    for i, c in enumerate(channels):
        add(f"ToRGB_lod{n - 1 - i}/weight", 1, 1, c, 3)
        add(f"ToRGB_lod{n - 1 - i}/bias", 3, scale=0.2)
    out.append(("lod", np.float32(lod)))
    return out


def write_tf_pggan_pickle(path: Path, gs_vars: list[tuple[str, np.ndarray]],
                          build_module_src: str = "def G_paper(): pass\n") -> None:
    noisy = [(n, v + 1.0 if n != "lod" else v) for n, v in gs_vars]
    nets = (Network("G", noisy, build_module_src), Network("D", [("x", np.zeros(2))]),
            Network("Gs", gs_vars, build_module_src))
    with fake_modules(tfutil={"Network": Network}):
        path.write_bytes(pickle.dumps(nets, protocol=3))


def ref_tf_pggan(variables: list[tuple[str, np.ndarray]], z: np.ndarray) -> torch.Tensor:
    """pg-GAN G_paper (structure 'linear') evaluated from the TF variables directly."""
    v = {n: torch.from_numpy(np.asarray(a, dtype=np.float32)) for n, a in variables}
    lod_in = float(v["lod"])

    def conv(x: torch.Tensor, scope: str, gain: float) -> torch.Tensor:
        w = v[f"{scope}/weight"]  # [k, k, in, out]
        wscale = gain / math.sqrt(w.shape[0] * w.shape[1] * w.shape[2])
        kernel = (w * wscale).permute(3, 2, 0, 1)
        x = F.conv2d(x, kernel, padding=w.shape[0] // 2)
        return x + v[f"{scope}/bias"][None, :, None, None]

    def act(x: torch.Tensor) -> torch.Tensor:
        return _pn(F.leaky_relu(x, 0.2))

    x = _pn(torch.from_numpy(z))
    w = v["4x4/Dense/weight"]
    x = x @ (w * (SQRT2 / 4 / math.sqrt(w.shape[0])))
    c0 = w.shape[1] // 16
    x = x.reshape(-1, c0, 4, 4) + v["4x4/Dense/bias"][None, :, None, None]
    x = act(x)
    x = act(conv(x, "4x4/Conv", SQRT2))
    res_log2 = int(math.log2(max(int(n.split("x")[0]) for n in v if n[0].isdigit())))
    images = conv(x, f"ToRGB_lod{res_log2 - 2}", 1.0)
    for res in range(3, res_log2 + 1):
        lod = res_log2 - res
        x = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        x = act(conv(x, f"{2**res}x{2**res}/Conv0", SQRT2))
        x = act(conv(x, f"{2**res}x{2**res}/Conv1", SQRT2))
        img = conv(x, f"ToRGB_lod{lod}", 1.0)
        images = images.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        t = min(max(lod_in - lod, 0.0), 1.0)
        images = img + (images - img) * t
    return images
