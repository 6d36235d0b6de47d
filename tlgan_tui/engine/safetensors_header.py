"""Read a safetensors file's JSON header without trusting it."""

from __future__ import annotations

import struct
from pathlib import Path

from tlgan_tui.engine import bounded_json

MAX_HEADER = 100 * 1024 * 1024


def safetensors_metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` map; ValueError when the file is not safetensors."""
    size = Path(path).stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ValueError("file too short for a safetensors header")
        (header_len,) = struct.unpack("<Q", prefix)
        if not 2 <= header_len <= min(size - 8, MAX_HEADER):
            raise ValueError("header length does not fit the file")
        try:
            header = bounded_json.loads(handle.read(header_len), max_bytes=MAX_HEADER)
        except bounded_json.JsonError as error:
            raise ValueError(f"header: {error}") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("__metadata__ is not a map")
    return {str(k): str(v) for k, v in metadata.items()}
