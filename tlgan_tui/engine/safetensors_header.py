"""Read a safetensors file's JSON header without trusting it."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tlgan_tui.engine import bounded_json

if TYPE_CHECKING:
    import torch

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


def read_safetensors(path: Path, what: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """(metadata, tensors) of a safetensors file; one-line TlganError naming `what`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from tlgan_tui.engine.errors import TlganError

    try:
        return safetensors_metadata(path), load_file(str(path))
    except (SafetensorError, ValueError, OSError, UnicodeDecodeError) as error:
        raise TlganError(f"{path}: not a readable {what} ({error})") from None


_DTYPES = {"float32": "F32", "float64": "F64", "float16": "F16", "int64": "I64",
           "int32": "I32", "uint8": "U8"}


def safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """A safetensors file whose bytes depend only on its tensors and metadata.

    The safetensors library writes `__metadata__` in hash-map order, which
    changes from one process to the next; here every key is sorted.
    """
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[array.dtype.name], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the format asks
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)
