"""torch.save zip files whose pickle is protocol 4 or 5.

`torch.save(..., pickle_protocol=4 or 5)` writes a valid checkpoint that
`torch.load(weights_only=True)` cannot read: its restricted unpickler knows
only the opcodes of protocol 2 (it stops at FRAME, "Unsupported operand 149").
Such files are read here instead, with the same allowlist as every other
pickle (`safe_pickle.RestrictedUnpickler`): the zip's `data.pkl` is unpickled
with tensor storages served from the zip's own records, each checked against
the element count and dtype the pickle declares. Nothing is ever loaded
without restrictions.
"""

from __future__ import annotations

import io
import pickle
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import torch

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.safe_pickle import (
    BaseConfigStub,
    NamespaceStub,
    RestrictedUnpickler,
)

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64, "IntStorage": torch.int32, "ShortStorage": torch.int16,
    "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


class _StorageType:
    """Stands for `torch.FloatStorage` & co. in a pickle: only its dtype is used."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


_EXTRA: dict[tuple[str, str], Any] = {
    ("models.utils.config", "BaseConfig"): BaseConfigStub,
    ("argparse", "Namespace"): NamespaceStub,
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


def _data_pkl(archive: zipfile.ZipFile) -> str:
    names = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
    if len(names) != 1:
        raise TlganError("not a torch.save zip: expected one data.pkl")
    return names[0]


def pickle_protocol(path: Path) -> int:
    """The protocol of a torch.save zip's data.pkl (2 when it has no PROTO opcode)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(_data_pkl(archive)) as handle:
            head = handle.read(2)
    except (zipfile.BadZipFile, OSError, KeyError) as error:
        raise TlganError(f"{path}: corrupt torch checkpoint ({error})") from None
    return head[1] if len(head) == 2 and head[0] == pickle.PROTO[0] else 2


def _read_stored(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size \
            or info.file_size > limit:
        raise pickle.UnpicklingError(f"zip record {name} is not a plain stored record")
    return archive.read(info)


def load_restricted(path: Path) -> Any:
    """Unpickle a torch.save zip with the allowlist (any pickle protocol)."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            pkl_name = _data_pkl(archive)
            prefix = pkl_name[: -len("data.pkl")]
            if f"{prefix}byteorder" in archive.namelist():
                order = _read_stored(archive, f"{prefix}byteorder", 16).decode("ascii", "replace")
                if order != sys.byteorder:
                    raise TlganError(f"{path}: a {order}-endian checkpoint on a "
                                     f"{sys.byteorder}-endian machine is not supported")
            storages: dict[str, torch.storage.TypedStorage] = {}

            def storage_for(pid: Any) -> torch.storage.TypedStorage:
                if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                        and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
                        and re.fullmatch(r"\w{1,64}", pid[2]) and type(pid[4]) is int
                        and pid[4] >= 0):
                    raise pickle.UnpicklingError("unexpected persistent id in torch pickle")
                key, dtype, numel = pid[2], pid[1].dtype, pid[4]
                if key not in storages:
                    itemsize = torch.empty((), dtype=dtype).element_size()
                    raw = _read_stored(archive, f"{prefix}data/{key}", size)
                    if len(raw) != numel * itemsize:
                        raise pickle.UnpicklingError(
                            f"storage {key}: {numel} x {dtype} needs {numel * itemsize} bytes, "
                            f"the file gives {len(raw)}"
                        )
                    untyped = torch.frombuffer(bytearray(raw), dtype=torch.uint8) \
                        .untyped_storage() if raw else torch.UntypedStorage(0)
                    storages[key] = torch.storage.TypedStorage(
                        wrap_storage=untyped, dtype=dtype, _internal=True
                    )
                if storages[key].dtype != dtype:
                    raise pickle.UnpicklingError(f"storage {key} declared with two dtypes")
                return storages[key]

            class ZipUnpickler(RestrictedUnpickler):
                def persistent_load(self, pid: Any) -> Any:
                    return storage_for(pid)

            data = io.BytesIO(_read_stored(archive, pkl_name, size))
            return ZipUnpickler(data, path, _EXTRA).load()
    except TlganError:
        raise
    except MemoryError:
        raise TlganError(f"{path}: not enough memory to read this checkpoint") from None
    except Exception as error:  # corrupt archives and pickles raise nearly anything
        text = " ".join(str(error).split())[:160] or type(error).__name__
        raise TlganError(f"{path}: corrupt or unsupported torch checkpoint ({text})") from None
