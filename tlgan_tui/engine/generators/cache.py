"""The conversion cache: third-party checkpoints converted once to safetensors.

A converted file is named by the sha256 of the source file the user gave, so
the second start reads a pickle-free safetensors file and skips conversion.
The directory is platformdirs' user cache dir (override: $TLGAN_CACHE_DIR).
Hashing a large file on every start would cost more than loading it, so a
small index remembers each source's (size, mtime) -> sha256.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from platformdirs import user_cache_dir
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from tlgan_tui.engine import bounded_json
from tlgan_tui.engine.atomic_write import write_bytes_atomic
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.hashing import sha256_file
from tlgan_tui.engine.safetensors_header import safetensors_metadata

CACHE_ENV = "TLGAN_CACHE_DIR"
CACHE_VERSION = "1"
INDEX_FILE = "sources.json"


def cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV)
    base = Path(override) if override else Path(user_cache_dir("tlgan-tui")) / "generators"
    return base


def cached_path(sha256: str) -> Path:
    return cache_dir() / f"{sha256}.safetensors"


def _read_index() -> dict[str, dict[str, object]]:
    try:
        data = bounded_json.loads((cache_dir() / INDEX_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def source_sha256(path: Path) -> tuple[str, bool]:
    """(sha256 of `path`, whether it came from the index of (path, size, mtime_ns))."""
    resolved = str(path.resolve())
    stat = path.stat()
    entry = _read_index().get(resolved)
    if (isinstance(entry, dict) and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns and isinstance(entry.get("sha256"), str)):
        return str(entry["sha256"]), True
    return sha256_file(path), False


def remember_sha256(path: Path, digest: str) -> None:
    """Record `digest` for `path` in the index (best effort)."""
    try:
        stat = path.stat()
        index = _read_index()
        index[str(path.resolve())] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                                      "sha256": digest}
        write_bytes_atomic(cache_dir() / INDEX_FILE, json.dumps(index, indent=0).encode())
    except (OSError, TlganError):
        pass


def load_cached(sha256: str) -> tuple[dict[str, str], dict[str, torch.Tensor]] | None:
    """(metadata, tensors) of a valid cached conversion, or None."""
    target = cached_path(sha256)
    if not target.is_file():
        return None
    try:
        metadata = safetensors_metadata(target)
        if (metadata.get("cache_version") != CACHE_VERSION
                or metadata.get("source_sha256") != sha256):
            return None
        return metadata, load_file(str(target))
    except (SafetensorError, ValueError, OSError, UnicodeDecodeError):
        return None


def store(sha256: str, metadata: Mapping[str, str],
          tensors: Mapping[str, torch.Tensor]) -> Path | None:
    """Write a conversion atomically; returns its path (None when the cache is not writable)."""
    target = cached_path(sha256)
    meta = {**metadata, "cache_version": CACHE_VERSION, "source_sha256": sha256}
    contiguous = {name: t.detach().to("cpu", torch.float32).contiguous()
                  for name, t in tensors.items()}
    try:
        write_bytes_atomic(target, save(contiguous, metadata=meta))
    except TlganError:
        return None
    return target
