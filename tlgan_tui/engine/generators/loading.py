"""Open a generator file: detect its format from its content, load it safely.

Every format ends up as a `Generator`. Files this project writes are
safetensors (no code can run at load); third-party checkpoints go through the
restricted loaders in `safe_pickle` (never a plain unpickler, `torch.load` only
with weights_only=True), are converted once to a canonical layout and cached
as safetensors keyed by the source file's sha256.

Formats, recognized by content (the file name does not matter):

- tlgan safetensors: the shipped MobileStyleGAN FFHQ-1024 and DCGAN-64, or a cached
  conversion;
- pytorch_GAN_zoo PGAN checkpoint (torch.save: netG / avgG / config);
- rosinality stylegan2-pytorch checkpoint (torch.save: g_ema / latent_avg);
- NVIDIA pg-GAN TensorFlow pickle (tuple of tfutil.Network: G, D, Gs);
- NVIDIA StyleGAN2-ADA pickle (dict with G_ema, persistence-pickled).
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators import cache, torch_zip
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.generators.dcgan import DCGANGenerator
from tlgan_tui.engine.generators.mobilestylegan import (
    MobileStyleGANConfig,
    MobileStyleGANGenerator,
)
from tlgan_tui.engine.generators.pggan import (
    PGGANConfig,
    PGGANGenerator,
    convert_gan_zoo,
    convert_tf_pggan,
)
from tlgan_tui.engine.generators.safe_pickle import (
    EasyDictStub,
    ModuleStub,
    PersistentObject,
    TFNetworkStub,
    restricted_load,
    torch_load_weights_only,
)
from tlgan_tui.engine.generators.stylegan2 import (
    DEFAULT_PSI,
    StyleGAN2Config,
    StyleGAN2Generator,
    convert_ada,
    convert_rosinality,
)
from tlgan_tui.engine.hashing import sha256_file
from tlgan_tui.engine.paths import default_generator_path
from tlgan_tui.engine.safetensors_header import safetensors_metadata

SUPPORTED_FORMATS = (
    "tlgan safetensors (DCGAN-64 or a cached conversion), "
    "pytorch_GAN_zoo PGAN .pth, NVIDIA pg-GAN TensorFlow .pkl, "
    "NVIDIA StyleGAN2-ADA .pkl, rosinality stylegan2-pytorch .pt"
)
PRECISIONS = ("auto", "fp32", "fp16")

ZIP_MAGIC = b"PK\x03\x04"
# torch.save's legacy format starts with the pickled magic number 0x1950a86a20f9469cfc6c.
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


def looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    return 2 <= header_len <= size - 8 and head[8:9] == b"{"


def looks_like_pickle(head: bytes) -> bool:
    """Protocol 2+ pickles start with PROTO; older ones are not produced by these tools."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """`--precision` -> the dtype the synthesis network runs in."""
    if precision not in PRECISIONS:
        raise TlganError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp16":
        if device.type != "cuda":
            raise TlganError("--precision fp16 needs a CUDA device (use fp32 or auto on the CPU)")
        return torch.float16
    if precision == "auto" and device.type == "cuda":
        return torch.float16
    return torch.float32


def detect_format(path: Path) -> str:
    """'safetensors' | 'torch' | 'pickle' from the first bytes; TlganError otherwise."""
    with open(path, "rb") as handle:
        head = handle.read(64)
    size = path.stat().st_size
    if looks_like_safetensors(head, size):
        return "safetensors"
    if head.startswith(ZIP_MAGIC) or head.startswith(LEGACY_TORCH_MAGIC):
        return "torch"
    if looks_like_pickle(head):
        return "pickle"
    raise TlganError(
        f"{path}: not a generator file this version can read; supported: {SUPPORTED_FORMATS}"
    )


def load_generator(
    path: Path | str | None = None,
    device: torch.device | None = None,
    *,
    psi: float = DEFAULT_PSI,
    precision: str = "auto",
    use_cache: bool = True,
    **options: object,
) -> Generator:
    """Load the generator at `path` (the embedded default when None).

    `psi` is the truncation of w-space generators (ignored by z-space ones);
    `precision` auto|fp32|fp16 (fp16 only on CUDA, auto = fp16 on CUDA for the
    architectures where it is safe). Unknown `options` are ignored.
    """
    path = Path(path) if path is not None else default_generator_path()
    device = device or torch.device("cpu")
    if not path.exists():
        raise TlganError(f"generator file not found: {path}")
    if not path.is_file():
        raise TlganError(f"generator path is not a file: {path}")
    dtype = resolve_precision(precision, device)
    kind = detect_format(path)
    if kind == "safetensors":
        return _load_tlgan_safetensors(path, device, dtype, psi)
    sha, indexed = cache.source_sha256(path) if use_cache else (sha256_file(path), True)
    cached = cache.load_cached(sha) if use_cache else None
    if cached is not None:
        metadata, tensors = cached
        generator = _build(metadata, tensors, sha, device, dtype, psi, str(path))
    else:
        metadata, tensors = _convert(path, kind)
        generator = _build(metadata, tensors, sha, device, dtype, psi, str(path))
        if use_cache:
            indexed = cache.store(sha, metadata, tensors) is None
    if not indexed:
        # Only files that loaded are remembered; the next start skips hashing.
        cache.remember_sha256(path, sha)
    return generator


def _load_tlgan_safetensors(path: Path, device: torch.device, dtype: torch.dtype,
                            psi: float) -> Generator:
    try:
        metadata = safetensors_metadata(path)
        state = load_file(str(path))
    except (SafetensorError, ValueError, OSError, UnicodeDecodeError, struct.error) as error:
        raise TlganError(f"{path}: corrupt safetensors file ({error})") from None
    architecture = metadata.get("architecture")
    if architecture == "dcgan64" or (architecture is None and DCGANGenerator.matches(set(state))):
        sha = sha256_file(path)
        try:
            return DCGANGenerator(state, sha, device, name=metadata.get("name", "DCGAN-64"))
        except (RuntimeError, KeyError) as error:
            raise TlganError(f"{path}: weights do not fit a DCGAN-64 ({error})") from None
    if architecture == "mobilestylegan":
        return _build(metadata, state, sha256_file(path), device, dtype, psi, str(path))
    if architecture in ("pggan", "stylegan2"):
        # A cached conversion opened directly: keep the source's identity.
        sha = metadata.get("source_sha256") or sha256_file(path)
        return _build(metadata, state, sha, device, dtype, psi, str(path))
    raise TlganError(f"{path}: unknown generator architecture {architecture!r}")


def _build(metadata: Mapping[str, str], tensors: Mapping[str, torch.Tensor], sha: str,
           device: torch.device, dtype: torch.dtype, psi: float, where: str) -> Generator:
    architecture = metadata.get("architecture")
    try:
        if architecture == "pggan":
            pg_config = PGGANConfig.from_json(metadata["config"])
            return PGGANGenerator(pg_config, tensors, sha, device, dtype, metadata.get("name"))
        if architecture == "stylegan2":
            sg_config = StyleGAN2Config.from_json(metadata["config"])
            return StyleGAN2Generator(sg_config, tensors, sha, device, dtype,
                                      metadata.get("name"), psi=psi)
        if architecture == "mobilestylegan":
            ms_config = MobileStyleGANConfig.from_json(metadata["config"])
            return MobileStyleGANGenerator(ms_config, tensors, sha, device, dtype,
                                           metadata.get("name"), psi=psi)
    except (KeyError, TypeError, ValueError) as error:
        raise TlganError(f"{where}: broken generator metadata ({error})") from None
    raise TlganError(f"{where}: unknown generator architecture {architecture!r}")


# --- conversion of third-party checkpoints ---------------------------------------


def _convert(path: Path, kind: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if kind == "torch":
        # torch's weights-only reader knows protocol 2 only; newer pickles get ours.
        if zipfile.is_zipfile(path) and torch_zip.pickle_protocol(path) >= 4:
            obj = torch_zip.load_restricted(path)
        else:
            obj = torch_load_weights_only(path)
        return _convert_torch_checkpoint(path, obj)
    obj = restricted_load(path)
    return _convert_pickle(path, obj)


def _tensor_dict(value: Any) -> dict[str, torch.Tensor] | None:
    if isinstance(value, Mapping) and value and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    ):
        return dict(value)
    return None


def _convert_torch_checkpoint(path: Path, obj: Any) -> tuple[dict[str, str], dict]:
    if not isinstance(obj, Mapping):
        raise TlganError(f"{path}: a torch checkpoint, but not one holding a generator")
    # rosinality stylegan2-pytorch: {'g_ema': state_dict, 'latent_avg': tensor, ...}
    g_ema = _tensor_dict(obj.get("g_ema"))
    if g_ema is not None or "style.1.weight" in obj:
        state = g_ema if g_ema is not None else _tensor_dict(obj)
        if state is None:
            raise TlganError(f"{path}: g_ema is not a state dict")
        latent_avg = obj.get("latent_avg")
        args = obj.get("args")
        lr_mlp = float(getattr(args, "lr_mlp", 0.01) or 0.01) if args is not None else 0.01
        sg_config, tensors = convert_rosinality(
            state, latent_avg if isinstance(latent_avg, torch.Tensor) else None, lr_mlp
        )
        name = f"StyleGAN2-{sg_config.resolution} (rosinality)"
        return _metadata("stylegan2", sg_config.to_json(), name, "rosinality"), tensors
    # pytorch_GAN_zoo PGAN: {'config', 'netG', 'netD', 'avgG'}; avgG preferred.
    for key in ("avgG", "netG"):
        state = _tensor_dict(obj.get(key))
        if state is not None:
            pg_config, tensors = convert_gan_zoo(state, obj.get("config"))
            name = f"PGAN-{pg_config.resolution} (pytorch_GAN_zoo, {key})"
            return _metadata("pggan", pg_config.to_json(), name, "gan_zoo"), tensors
    bare = _tensor_dict(obj)
    if bare is not None and any(k.endswith("formatLayer.module.weight") for k in bare):
        pg_config, tensors = convert_gan_zoo(bare, None)
        name = f"PGAN-{pg_config.resolution} (pytorch_GAN_zoo)"
        return _metadata("pggan", pg_config.to_json(), name, "gan_zoo"), tensors
    keys = ", ".join(sorted(str(k) for k in obj)[:8])
    raise TlganError(
        f"{path}: a torch checkpoint with keys [{keys}], not a generator this version can read; "
        f"supported: {SUPPORTED_FORMATS}"
    )


def _convert_pickle(path: Path, obj: Any) -> tuple[dict[str, str], dict]:
    # NVIDIA pg-GAN TF: (G, D, Gs) of tfutil.Network; use Gs (the averaged weights).
    if isinstance(obj, tuple) and obj and all(isinstance(x, TFNetworkStub) for x in obj):
        network = next((x for x in obj if x.__dict__.get("name") == "Gs"), obj[-1])
        state = network.__dict__
        variables = state.get("variables")
        if not isinstance(variables, list):
            raise TlganError(f"{path}: TF network pickle without a variables list")
        var_map = {str(n): np.asarray(v) for n, v in variables}
        if any(name.startswith(("G_mapping/", "G_synthesis/")) for name in var_map) or \
                any(name.startswith("mapping/") for name in var_map):
            raise TlganError(f"{path}: a TensorFlow StyleGAN pickle; convert it to the "
                             "StyleGAN2-ADA PyTorch .pkl first (only pg-GAN TF pickles load)")
        kwargs = state.get("static_kwargs")
        pg_config, tensors = convert_tf_pggan(var_map, kwargs if isinstance(kwargs, dict) else {})
        name = f"pg-GAN-{pg_config.resolution} (NVIDIA TF, Gs)"
        return _metadata("pggan", pg_config.to_json(), name, "nvidia_tf"), tensors
    # NVIDIA StyleGAN2-ADA: {'G', 'D', 'G_ema', ...}; G_ema persistence-pickled.
    if isinstance(obj, Mapping) and isinstance(obj.get("G_ema"), PersistentObject):
        tensors, attrs = flatten_persistent(obj["G_ema"])
        sg_config, canonical = convert_ada(tensors, attrs)
        name = f"StyleGAN2-{sg_config.resolution} (NVIDIA ADA, G_ema)"
        return _metadata("stylegan2", sg_config.to_json(), name, "nvidia_ada"), canonical
    raise TlganError(
        f"{path}: a pickle, but not a generator this version can read; "
        f"supported: {SUPPORTED_FORMATS}"
    )


def _metadata(architecture: str, config: str, name: str, source: str) -> dict[str, str]:
    return {"format": "tlgan-generator", "architecture": architecture, "config": config,
            "name": name, "source_format": source}


def flatten_persistent(root: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Walk pickled module states: ('a.b.weight' -> tensor, 'a.b.attr' -> plain value)."""
    tensors: dict[str, torch.Tensor] = {}
    attrs: dict[str, Any] = {}

    def visit(node: Any, prefix: str, depth: int) -> None:
        if depth > 64:
            raise TlganError("module tree nested too deeply")
        if isinstance(node, (PersistentObject, ModuleStub)):
            state = node.state
        else:
            return
        if not isinstance(state, Mapping):
            return
        for group in ("_parameters", "_buffers"):
            entries = state.get(group) or {}
            if isinstance(entries, Mapping):
                for name, value in entries.items():
                    if isinstance(value, torch.Tensor):
                        tensors[f"{prefix}{name}"] = value
        for key, value in state.items():
            if key.startswith("_") or key == "training":
                continue
            if isinstance(value, bool | int | float | str | np.generic | type(None)):
                attrs[f"{prefix}{key}"] = value
            elif isinstance(value, EasyDictStub | dict):
                attrs[f"{prefix}{key}"] = dict(value)
        children = state.get("_modules") or {}
        if isinstance(children, Mapping):
            for name, child in children.items():
                visit(child, f"{prefix}{name}.", depth + 1)

    visit(root, "", 0)
    return tensors, attrs
