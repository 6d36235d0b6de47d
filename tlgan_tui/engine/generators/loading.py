"""Open a generator file: detect its format from its content, load it safely.

Every format ends up as a `Generator`. Files this project writes are
safetensors (no code can run at load); third-party pickles go through the
restricted loaders, never a plain unpickler.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.generators.dcgan import DCGANGenerator
from tlgan_tui.engine.hashing import sha256_file
from tlgan_tui.engine.paths import default_generator_path

SUPPORTED_FORMATS = "tlgan safetensors (DCGAN-64)"


def looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    return 2 <= header_len <= size - 8 and head[8:9] == b"{"


def read_safetensors_metadata(path: Path) -> dict[str, str]:
    with open(path, "rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_len))
    return dict(header.get("__metadata__") or {})


def load_generator(path: Path | str | None = None, device: torch.device | None = None,
                   **options: object) -> Generator:
    """Load the generator at `path` (the embedded default when None)."""
    path = Path(path) if path is not None else default_generator_path()
    device = device or torch.device("cpu")
    if not path.exists():
        raise TlganError(f"generator file not found: {path}")
    if not path.is_file():
        raise TlganError(f"generator path is not a file: {path}")
    with open(path, "rb") as handle:
        head = handle.read(64)
    size = path.stat().st_size
    if looks_like_safetensors(head, size):
        return _load_tlgan_safetensors(path, device)
    raise TlganError(
        f"{path}: not a generator file this version can read; supported: {SUPPORTED_FORMATS}"
    )


def _load_tlgan_safetensors(path: Path, device: torch.device) -> Generator:
    try:
        metadata = read_safetensors_metadata(path)
        state = load_file(str(path))
    except (SafetensorError, ValueError, OSError, UnicodeDecodeError) as error:
        raise TlganError(f"{path}: corrupt safetensors file ({error})") from None
    sha = sha256_file(path)
    architecture = metadata.get("architecture")
    if architecture == "dcgan64" or (architecture is None and DCGANGenerator.matches(set(state))):
        try:
            return DCGANGenerator(state, sha, device, name=metadata.get("name", "DCGAN-64"))
        except (RuntimeError, KeyError) as error:
            raise TlganError(f"{path}: weights do not fit a DCGAN-64 ({error})") from None
    raise TlganError(f"{path}: unknown generator architecture {architecture!r}")
