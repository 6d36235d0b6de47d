"""Restricted unpickling for third-party checkpoints.

A pickle can call any importable function while it loads. These loaders let
a file name only an allowlist of globals: tensor and array rebuilding,
OrderedDict and a few plain containers, and inert stubs that stand in for the
checkpoint formats' own classes (`tfutil.Network`, StyleGAN2-ADA's
`_reconstruct_persistent_obj`, `dnnlib.EasyDict`, pytorch_GAN_zoo's
`BaseConfig`, `argparse.Namespace`). A stub only stores the data handed to it;
no code shipped inside a file (`build_module_src`, `module_src`) is ever run.
Anything else aborts with `RefusedGlobal`, naming the global.

`torch.load` is only ever called with `weights_only=True` (plus the stubs as
safe globals); there is no fallback to an unrestricted load.
"""

from __future__ import annotations

import _compat_pickle
import io
import math
import os
import pickle
import re
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
import torch

from tlgan_tui.engine.errors import TlganError


class RefusedGlobal(TlganError):
    """The file asked for a Python global outside the allowlist."""

    def __init__(self, path: Path | str, name: str) -> None:
        self.global_name = name
        super().__init__(
            f"{path}: refused to load: it asks for the Python global '{name}', which is not "
            "on the allowlist of a weights file (tensors, arrays, known checkpoint types); "
            "nothing from the file was run"
        )


# --- stubs: inert stand-ins for the formats' classes ----------------------------


class _StateStub:
    """Keeps whatever state pickle hands it; defines no behaviour."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict | None):
            # (dict state, slot state) form
            state = {**(state[0] or {}), **(state[1] or {})}
        self.__dict__["_state"] = state
        if isinstance(state, dict):
            for key, value in state.items():
                if isinstance(key, str):
                    self.__dict__[key] = value

    @property
    def state(self) -> Any:
        return self.__dict__.get("_state")


class TFNetworkStub(_StateStub):
    """A pickled `tfutil.Network` (NVIDIA pg-GAN/StyleGAN TF): name, variables, kwargs."""


class ModuleStub(_StateStub):
    """A plain torch module pickled inside a persistence pickle (state only)."""


class BaseConfigStub(_StateStub):
    """pytorch_GAN_zoo `models.utils.config.BaseConfig`: attributes only."""


class NamespaceStub(_StateStub):
    """`argparse.Namespace` in training checkpoints: attributes only."""


class EasyDictStub(dict):
    """`dnnlib.EasyDict`: a dict (its attribute access is not needed)."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


class PersistentObject:
    """What `torch_utils.persistence._reconstruct_persistent_obj(meta)` stands for.

    Holds the class name and the pickled module state; `module_src` is kept as
    text for diagnostics and never compiled or run.
    """

    def __init__(self, meta: Any) -> None:
        if not isinstance(meta, dict):
            raise pickle.UnpicklingError("persistent object metadata is not a dict")
        self.class_name = str(meta.get("class_name", ""))
        self.module_src_length = len(str(meta.get("module_src", "")))
        self.state = meta.get("state")


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    return PersistentObject(meta)


_STUB_TYPES: tuple[type, ...] = (
    TFNetworkStub, ModuleStub, BaseConfigStub, NamespaceStub, EasyDictStub,
)


def _safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """copyreg._reconstructor restricted to the stubs (protocol 0/1 objects)."""
    if cls not in _STUB_TYPES or base is not object:
        raise pickle.UnpicklingError("copyreg._reconstructor on a class outside the allowlist")
    obj = cls.__new__(cls)
    if state is not None and isinstance(obj, _StateStub):
        obj.__setstate__(state)
    return obj


# --- tensors and storages in plain (non-torch.save) pickles ---------------------


def _load_storage_from_bytes(data: Any) -> Any:
    """torch.storage._load_from_bytes, but through the weights-only loader."""
    if not isinstance(data, bytes | bytearray):
        raise pickle.UnpicklingError("storage payload is not bytes")
    storage = torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    if not isinstance(storage, torch.storage.TypedStorage | torch.UntypedStorage):
        raise pickle.UnpicklingError("storage payload did not hold a storage")
    return storage


def _rebuild_tensor(storage: Any, offset: int, size: Any, stride: Any, requires_grad: Any = False,
                    backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    if not isinstance(storage, torch.storage.TypedStorage | torch.UntypedStorage):
        raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage")
    # Hooks are dropped: a weights file has no business attaching callables.
    return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None
                       ) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("parameter rebuilt from something that is not a tensor")
    return data


# --- arrays from raw bytes (pickle protocol 5) and bytes from text (protocol 2) ----------

_ARRAY_KINDS = frozenset("biufc")  # bool, signed, unsigned, float, complex: plain numbers
_MAX_NDIM = 64


def _safe_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C",
                     axis_order: Any = None) -> np.ndarray:
    """numpy's `_frombuffer` (how protocol 5 pickles arrays), checking all it is given.

    The bytes must be exactly shape x itemsize long, the dtype a plain numeric
    one (no object or structured fields) and the shape a tuple of ints.
    """
    if not isinstance(buf, bytes | bytearray):
        raise pickle.UnpicklingError("array payload is not bytes")
    if not isinstance(dtype, np.dtype) or dtype.kind not in _ARRAY_KINDS or dtype.hasobject \
            or dtype.fields is not None or dtype.subdtype is not None:
        raise pickle.UnpicklingError(f"array of dtype {dtype!r} refused (numeric dtypes only)")
    if not isinstance(shape, tuple) or len(shape) > _MAX_NDIM or not all(
        type(n) is int and n >= 0 for n in shape
    ):
        raise pickle.UnpicklingError("array shape is not a tuple of non-negative ints")
    if math.prod(shape) * dtype.itemsize != len(buf):
        raise pickle.UnpicklingError(
            f"array shape {shape} of {dtype} needs {math.prod(shape) * dtype.itemsize} bytes, "
            f"the file gives {len(buf)}"
        )
    if order not in ("C", "F", "K"):
        raise pickle.UnpicklingError(f"array order {order!r} refused")
    array = np.frombuffer(buf, dtype=dtype)
    if order == "K" and axis_order is not None:
        if not isinstance(axis_order, tuple) or sorted(axis_order) != list(range(len(shape))):
            raise pickle.UnpicklingError("array axis order is not a permutation of its axes")
        return array.reshape(shape, order="C").transpose(axis_order)
    return array.reshape(shape, order="F" if order == "F" else "C")


def _latin1_encode(text: Any, encoding: Any = "latin1") -> bytes:
    """`_codecs.encode(str, 'latin1')`: how Python 3 writes bytes in protocol 2 pickles."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed as str -> latin1 bytes")
    return text.encode("latin-1")


def _empty_bytes(*args: Any) -> bytes:
    """`bytes()`: how protocol 2 writes b"" (any argument, e.g. a size, is refused)."""
    if args:
        raise pickle.UnpicklingError("builtins.bytes is only allowed without arguments")
    return b""


_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")

_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "object"): object,
    ("_codecs", "encode"): _latin1_encode,
    ("builtins", "bytes"): _empty_bytes,
    ("copyreg", "_reconstructor"): _safe_reconstructor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("torch", "device"): torch.device,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("tfutil", "Network"): TFNetworkStub,
    ("dnnlib.tflib.network", "Network"): TFNetworkStub,
    ("dnnlib.util", "EasyDict"): EasyDictStub,
    ("dnnlib", "EasyDict"): EasyDictStub,
}
for _dtype_name in ("float16", "float32", "float64", "bfloat16", "int8", "int16", "int32",
                    "int64", "uint8", "bool"):
    _ALLOWED[("torch", _dtype_name)] = getattr(torch, _dtype_name)


def _numpy_helpers() -> None:
    """Resolve numpy's array/scalar reconstruction functions (module moved in numpy 2)."""
    try:
        from numpy._core import multiarray as core  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray as core  # type: ignore[no-redef]
    for module in _NUMPY_CORE:
        _ALLOWED[(module, "_reconstruct")] = core._reconstruct
        _ALLOWED[(module, "scalar")] = core.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):  # protocol 5 arrays
        _ALLOWED[(module, "_frombuffer")] = _safe_frombuffer


_numpy_helpers()


_STATEFUL_TYPES: tuple[type, ...] = (
    _StateStub, EasyDictStub, np.ndarray, np.dtype, np.generic, torch.Tensor, OrderedDict,
)


class RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """An Unpickler that resolves only allowlisted globals (and stubs).

    The pure-Python unpickler, so that BUILD can be checked too: a pickle may
    only set state on data objects (stubs, arrays, tensors), never on a class
    or function it named (which would patch this process's allowlisted code).
    """

    dispatch: ClassVar[dict[int, Any]] = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, handle: BinaryIO, path: Path | str,
                 extra: dict[tuple[str, str], Any] | None = None,
                 budget: int | None = None) -> None:
        # Nothing a pickle declares may allocate more than the file itself holds
        # (plus slack): `bytearray(4e9)` or a BYTEARRAY8 claiming 4 GB is refused.
        self._budget = _allocation_budget(handle) if budget is None else budget
        self._bounded = _BoundedReader(handle, self)
        super().__init__(self._bounded)
        self._path = path
        # bytearray is allowed, but only through the per-file allocation budget.
        self._allowed = {**_ALLOWED, **(extra or {}),
                         ("builtins", "bytearray"): self._bytearray}

    def spend(self, size: int, what: str) -> None:
        if size < 0 or size > self._budget:
            raise pickle.UnpicklingError(
                f"{what} of {size} bytes is more than the file can hold "
                f"({self._budget} bytes left to allocate)")
        self._budget -= size

    def _bytearray(self, *args: Any) -> bytearray:
        if args and isinstance(args[0], int):
            self.spend(args[0], "a bytearray")
        elif args and isinstance(args[0], bytes | bytearray | str):
            self.spend(len(args[0]), "a bytearray")
        elif args:
            raise pickle.UnpicklingError("bytearray from something that is not bytes")
        return bytearray(*args)

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles written by Python 2 names (__builtin__, copy_reg):
        # map them the way pickle's own fix_imports does, then check the allowlist.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        found = self._allowed.get((module, name))
        if found is not None:
            return found
        if module.startswith("torch.nn.modules.") and "." not in name:
            return ModuleStub  # only ever built through _safe_reconstructor / NEWOBJ
        raise RefusedGlobal(self._path, f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed in this pickle")

    def load_build(self) -> None:
        inst = self.stack[-2]  # BUILD: [..., inst, state]
        if not isinstance(inst, _STATEFUL_TYPES):
            raise pickle.UnpicklingError(
                f"refused to set state on a {type(inst).__name__} (only data objects take state)"
            )
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def load_bytearray8(self) -> None:
        # pickle allocates the declared length before reading: bound it by the bytes left.
        (size,) = struct.unpack("<Q", self.read(8))
        frame = self._unframer.current_frame
        left = self._bounded.remaining() + (
            len(frame.getbuffer()) - frame.tell() if frame is not None else 0
        )
        if size > left:
            raise pickle.UnpicklingError(
                f"a BYTEARRAY8 record of {size} bytes is more than the file can hold "
                f"(only {left} bytes remain)"
            )
        self.spend(size, "a BYTEARRAY8 record")
        data = bytearray(size)
        if self.readinto(data) != size:
            raise pickle.UnpicklingError("a BYTEARRAY8 record is cut short")
        self.append(data)

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8


MIN_BUDGET = 1 << 20


def _allocation_budget(handle: BinaryIO) -> int:
    try:
        size = os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        size = len(handle.getbuffer()) if isinstance(handle, io.BytesIO) else 0
    return 2 * size + MIN_BUDGET


class _BoundedReader:
    """The file as the unpickler sees it: no single read may exceed the budget."""

    def __init__(self, handle: BinaryIO, owner: RestrictedUnpickler) -> None:
        self._handle = handle
        self._owner = owner
        position = handle.tell()
        self._end = handle.seek(0, io.SEEK_END)
        handle.seek(position)

    def remaining(self) -> int:
        return self._end - self._handle.tell()

    def read(self, size: int = -1) -> bytes:
        # Length-prefixed opcodes (FRAME, BINBYTES8, ...) declare their size first:
        # a 12-byte file must not make the reader allocate gigabytes.
        if size > self.remaining():
            raise pickle.UnpicklingError(
                f"the pickle declares {size} bytes where only {self.remaining()} remain"
            )
        if size > 8:  # opcode arguments are tiny; big reads are declared payloads
            self._owner.spend(size, "a record")
        return self._handle.read(size)

    def readinto(self, buffer: Any) -> int:
        return self._handle.readinto(buffer)

    def readline(self) -> bytes:
        line = self._handle.readline(MIN_BUDGET)
        self._owner.spend(len(line), "a text record")
        return line

    def peek(self, size: int = 0) -> bytes:
        return self._handle.peek(size) if hasattr(self._handle, "peek") else b""


def restricted_load(path: Path) -> Any:
    """Unpickle `path` with the allowlist. Raises TlganError on anything else."""
    try:
        with open(path, "rb") as handle:
            return RestrictedUnpickler(handle, path).load()
    except TlganError:
        raise
    except MemoryError:
        raise TlganError(f"{path}: not enough memory to read this pickle") from None
    except Exception as error:  # corrupt pickles raise nearly anything
        raise TlganError(f"{path}: corrupt or unsupported pickle ({short_reason(error)})") from None


# --- torch.save files (zip or legacy) --------------------------------------------

TORCH_SAFE_GLOBALS: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [
    (BaseConfigStub, "models.utils.config.BaseConfig"),
    (NamespaceStub, "argparse.Namespace"),
]

_GLOBAL_IN_MESSAGE = re.compile(r"GLOBAL ([\w.]+)|global '([\w.]+)'|Unsupported class ([\w.]+)")


# torch.save stores records uncompressed; a compressed one may inflate to at most
# this many times its size, and all records together to a bounded multiple of the file.
MAX_INFLATE_RATIO = 20
MAX_TOTAL_FACTOR = 4


def check_zip_records(path: Path) -> None:
    """Refuse a zip whose records would inflate far beyond the file (a zip bomb)."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            records = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        if not zipfile.is_zipfile(path):
            return  # legacy torch.save format: no records to check
        raise TlganError(f"{path}: corrupt zip archive ({short_reason(error)})") from None
    total = 0
    for record in records:
        total += record.file_size
        if (record.compress_type != zipfile.ZIP_STORED
                and record.file_size > MAX_INFLATE_RATIO * max(record.compress_size, 1024)):
            raise TlganError(f"{path}: zip record {record.filename[:60]!r} would inflate "
                             f"{record.compress_size} bytes to {record.file_size}; refused")
    if total > MAX_TOTAL_FACTOR * size + MIN_BUDGET:
        raise TlganError(f"{path}: its zip records declare {total} bytes, far more than the "
                         f"file's {size}; refused")


def torch_load_weights_only(path: Path) -> Any:
    """torch.load(weights_only=True) with the format stubs allowed; never unrestricted."""
    try:
        with torch.serialization.safe_globals(TORCH_SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        message = str(error)
        match = _GLOBAL_IN_MESSAGE.search(message)
        if match:
            name = next(g for g in match.groups() if g)
            raise RefusedGlobal(path, name if "." in name else f"builtins.{name}") from None
        raise TlganError(f"{path}: refused or corrupt torch file ({short_reason(error)})") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, KeyError, OSError,
            AttributeError, TypeError) as error:
        raise TlganError(f"{path}: corrupt torch checkpoint ({short_reason(error)})") from None


def short_reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."
