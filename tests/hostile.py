"""Hostile input files, generated on the fly (nothing large is committed).

Used by the hardening tests and by benchmarks/fuzz_cli.py.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import generators_fixtures as fx
import numpy as np
import torch
from safetensors.torch import save_file


class Persistent:
    """Pickles as StyleGAN2-ADA's persistence record holding `state`."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        meta = {"type": "class", "version": 6, "module_src": "", "class_name": "M",
                "state": self.state}
        return (fx._reconstruct_persistent_obj, (meta,))


def shared_tree_pickle(path: Path, depth: int = 40) -> Path:
    """A module tree that reuses one sub-module on both branches, `depth` levels deep."""
    node = Persistent({"_modules": {}})
    for _ in range(depth):
        node = Persistent({"_modules": {"a": node, "b": node}})
    with fx.fake_modules(torch_utils__persistence={
            "_reconstruct_persistent_obj": fx._reconstruct_persistent_obj}):
        path.write_bytes(pickle.dumps({"G_ema": node}, protocol=4))
    return path


def deep_chain_pickle(path: Path, depth: int = 100) -> Path:
    node = Persistent({"_modules": {}})
    for _ in range(depth):
        node = Persistent({"_modules": {"a": node}})
    with fx.fake_modules(torch_utils__persistence={
            "_reconstruct_persistent_obj": fx._reconstruct_persistent_obj}):
        path.write_bytes(pickle.dumps({"G_ema": node}, protocol=4))
    return path


class _BigBytearray:
    def __init__(self, size: int) -> None:
        self.size = size

    def __reduce__(self) -> tuple[Any, ...]:
        return (bytearray, (self.size,))


def bytearray_bomb(path: Path, size: int = 4_000_000_000) -> Path:
    path.write_bytes(pickle.dumps({"G_ema": _BigBytearray(size)}, protocol=4))
    return path


def bytearray8_bomb(path: Path, size: int = 4_000_000_000) -> Path:
    """A protocol-5 BYTEARRAY8 record declaring `size` bytes, with none following."""
    path.write_bytes(b"\x80\x05\x96" + size.to_bytes(8, "little") + b"." )
    return path


def wide_dcgan(path: Path, width: int = 1024) -> Path:
    """A small safetensors file whose first layer declares a DCGAN `width` wide."""
    tensors = {"main.0.weight": torch.zeros(16, 8 * width, 1, 1),
               "main.12.weight": torch.zeros(1)}
    save_file(tensors, str(path), metadata={"architecture": "dcgan64"})
    return path


def zip_bomb(path: Path, inflated_mb: int = 200) -> Path:
    """A torch-style zip whose one deflated record inflates to `inflated_mb` MB."""
    chunk = bytes(1 << 20)
    with (zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
          archive.open("archive/data.pkl", "w", force_zip64=True) as handle):
        for _ in range(inflated_mb):
            handle.write(chunk)
    return path


def tlgan_safetensors(path: Path, architecture: str, config: Any,
                      tensors: dict[str, torch.Tensor] | None = None,
                      **metadata: str) -> Path:
    text = config if isinstance(config, str) else json.dumps(config)
    save_file(tensors or {"x": torch.zeros(1)}, str(path),
              metadata={"architecture": architecture, "config": text, **metadata})
    return path


PGGAN_CONFIG = {"resolution": 8, "latent_dim": 4, "channels": [4, 4], "img_channels": 3,
                "alpha": 0.0, "normalize_latents": True, "use_pixel_norm": True, "slope": 0.2}


def pggan_tensors(config: dict[str, Any] = PGGAN_CONFIG, fill: float = 0.1
                  ) -> dict[str, torch.Tensor]:
    from tlgan_tui.engine.generators.pggan import PGGANConfig, PGGANNetwork

    cfg = PGGANConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    net = PGGANNetwork(cfg)
    return {k: torch.full_like(v, fill) for k, v in net.state_dict().items()}


def gan_zoo_checkpoint(path: Path, state: dict[str, torch.Tensor],
                       config: dict[str, Any] | None = None) -> Path:
    torch.save({"netG": state, **({"config": config} if config is not None else {})}, path)
    return path


def tf_pggan_pickle(path: Path, variables: list[tuple[str, np.ndarray]]) -> Path:
    fx.write_tf_pggan_pickle(path, variables)
    return path


def nested_json(depth: int = 5000) -> str:
    return "[" * depth + "]" * depth


def png_with_chunk(path: Path, text: str, size: tuple[int, int] = (8, 8)) -> Path:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("tlgan", text)
    Image.new("RGB", size, (90, 90, 90)).save(path, pnginfo=info)
    return path


def huge_png(path: Path, side: int = 20000) -> Path:
    """A PNG of side x side pixels, a few KB on disk (a decompression bomb)."""
    import struct
    import zlib

    raw = zlib.compressobj(9)
    row = b"\x00" + bytes(side)  # filter byte + 1 byte/pixel (grayscale)
    data = b"".join(raw.compress(row) for _ in range(side)) + raw.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
                     + chunk(b"IEND", b""))
    return path


def buffer_of(obj: Any) -> bytes:
    handle = io.BytesIO()
    torch.save(obj, handle)
    return handle.getvalue()
