"""The restricted unpickler and what today's writers put in a pickle.

Pickle protocol 5 (`pickle.HIGHEST_PROTOCOL` now, the default from Python 3.14)
writes numpy arrays through `numpy(._)core.numeric._frombuffer`; protocol 2
from Python 3 writes bytes through `_codecs.encode` and b"" as `bytes()`. Each is
accepted only in its harmless form; hostile variants are refused before any
large allocation.
"""

from __future__ import annotations

import io
import pickle
import resource
import struct
from pathlib import Path

import numpy as np
import pytest

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.safe_pickle import RefusedGlobal, restricted_load

ARRAYS = {
    "f4": np.arange(12, dtype="<f4").reshape(3, 4),
    "f8_big_endian": np.arange(6, dtype=">f8"),
    "fortran": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
    "permuted": np.arange(24.0).reshape(2, 3, 4).transpose(1, 0, 2),
    "bool": np.array([True, False]),
    "int16_empty": np.zeros((0, 3), np.int16),
    "complex": np.array([1 + 2j], np.complex64),
    "scalar_array": np.array(3.5, np.float32),
}


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "x.pkl"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_objects_load_in_every_protocol(tmp_path: Path, protocol: int) -> None:
    obj = {**ARRAYS, "scalar": np.float32(2.5), "dtype": np.dtype("<i8"), "bytes": b"\x00ab",
           "empty_bytes": b""}
    data = pickle.dumps(obj, protocol=protocol)
    loaded = restricted_load(_write(tmp_path, data))
    expected = pickle.loads(data)  # numpy's own reading (our own bytes, so safe here)
    for key, value in ARRAYS.items():
        assert loaded[key].dtype == expected[key].dtype, key
        assert loaded[key].shape == value.shape, key
        np.testing.assert_array_equal(loaded[key], value)
    assert loaded["scalar"] == np.float32(2.5) and loaded["dtype"] == np.dtype("<i8")
    assert loaded["bytes"] == b"\x00ab" and loaded["empty_bytes"] == b""


def test_protocol_5_writes_frombuffer(tmp_path: Path) -> None:
    """The global this audit is about really is in such files (numpy 2: numpy._core)."""
    data = pickle.dumps(ARRAYS["f4"], protocol=5)
    assert b"_frombuffer" in data
    np.testing.assert_array_equal(restricted_load(_write(tmp_path, data)), ARRAYS["f4"])


def _call_frombuffer(module: str, payload: bytes, dtype: str, shape: tuple,
                     order: str = "C") -> bytes:
    """module._frombuffer(bytearray(payload), numpy.dtype(dtype), shape, order) as protocol 5."""
    out = io.BytesIO()

    def text(value: str) -> None:
        raw = value.encode()
        out.write(b"\x8c" + bytes([len(raw)]) + raw)

    out.write(b"\x80\x05")
    text(module)
    text("_frombuffer")
    out.write(b"\x93(")  # STACK_GLOBAL, MARK
    out.write(b"\x96" + struct.pack("<Q", len(payload)) + payload)  # BYTEARRAY8
    text("numpy")
    text("dtype")
    out.write(b"\x93")
    text(dtype)
    out.write(b"\x89\x88\x87R")  # numpy.dtype(dtype, False, True)
    out.write(b"(")
    for n in shape:
        out.write(b"\x8a" + bytes([8]) + n.to_bytes(8, "little", signed=True))  # LONG1
    out.write(b"t")  # TUPLE
    text(order)
    out.write(b"tR.")  # TUPLE (from MARK), REDUCE, STOP
    return out.getvalue()


@pytest.mark.parametrize("module", ["numpy.core.numeric", "numpy._core.numeric"])
def test_frombuffer_built_by_hand_loads(tmp_path: Path, module: str) -> None:
    """Both module names (numpy 1 and numpy 2 writers) resolve to the checked builder."""
    payload = np.arange(6, dtype="<f4").tobytes()
    array = restricted_load(_write(tmp_path, _call_frombuffer(module, payload, "f4", (2, 3))))
    np.testing.assert_array_equal(array, np.arange(6, dtype="<f4").reshape(2, 3))


@pytest.mark.parametrize(
    ("dtype", "shape", "payload_len", "message"),
    [
        ("O", (2,), 16, "numeric dtypes only"),  # object dtype: pointers from file bytes
        ("V8", (2,), 16, "numeric dtypes only"),  # structured/void
        ("f4", (2, 3), 20, "needs 24 bytes"),  # shape x itemsize != bytes
        ("f4", (2, 3), 28, "needs 24 bytes"),
        ("f4", (1 << 40, 1 << 40), 8, "needs"),  # huge declared shape: refused, not allocated
        ("f4", (-2, -1), 8, "non-negative"),
    ],
)
def test_frombuffer_hostile_forms_refused(tmp_path: Path, dtype: str, shape: tuple,
                                          payload_len: int, message: str) -> None:
    data = _call_frombuffer("numpy._core.numeric", b"\x01" * payload_len, dtype, shape)
    with pytest.raises(TlganError, match=message):
        restricted_load(_write(tmp_path, data))


def test_frombuffer_refuses_a_bad_order(tmp_path: Path) -> None:
    data = _call_frombuffer("numpy._core.numeric", b"\x00" * 8, "f4", (2,), order="A")
    with pytest.raises(TlganError, match="order"):
        restricted_load(_write(tmp_path, data))


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x05\x96" + struct.pack("<Q", 1 << 30) + b".",  # BYTEARRAY8 of 1 GiB, 12 bytes
        b"\x80\x05\x95" + struct.pack("<Q", 1 << 40) + b".",  # FRAME of 1 TiB
        b"\x80\x05\x8e" + struct.pack("<Q", 1 << 33) + b".",  # BINBYTES8
        b"\x80\x05\x8d" + struct.pack("<Q", 1 << 33) + b".",  # BINUNICODE8
        b"\x80\x04B" + struct.pack("<I", 0xFFFFFFF0) + b".",  # BINBYTES of 4 GiB
        # inside a frame: the frame is honest, the BYTEARRAY8 inside it is not
        b"\x80\x05\x95" + struct.pack("<Q", 10) + b"\x96" + struct.pack("<Q", 1 << 30) + b".",
    ],
)
def test_declared_lengths_bounded_by_the_file(tmp_path: Path, data: bytes) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(TlganError, match="remain"):
        restricted_load(_write(tmp_path, data))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024  # nothing near the declared size was allocated


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # bytes(n) would allocate n zero bytes: only bytes() is how pickle writes b""
        (b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00@\x85R.", "without arguments"),
        # _codecs.encode with another codec, or not from a str
        (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00base64\x86R.",
         "latin1"),
    ],
)
def test_protocol_2_helpers_only_in_their_harmless_form(tmp_path: Path, data: bytes,
                                                        message: str) -> None:
    with pytest.raises(TlganError, match=message):
        restricted_load(_write(tmp_path, data))


@pytest.mark.parametrize(
    "name",
    [
        "numpy._core.numeric.frombuffer",  # public frombuffer: not on the list
        "numpy.core.numeric.fromstring",
        "numpy._core.multiarray.fromfile",  # reads arbitrary files
        "numpy.frombuffer",
        "numpy.load",
        "pickle.loads",
        "builtins.getattr",
    ],
)
def test_neighbours_of_allowed_globals_stay_refused(tmp_path: Path, name: str) -> None:
    module, _, attr = name.rpartition(".")
    data = b"\x80\x02c" + module.encode() + b"\n" + attr.encode() + b"\n."
    with pytest.raises(RefusedGlobal, match=name.replace(".", r"\.")):
        restricted_load(_write(tmp_path, data))


# --- torch.save zips with protocol 4/5 pickles (torch's weights-only reader stops at FRAME) ---


def _torch_save(path: Path, obj: object, protocol: int = 5) -> Path:
    import torch

    torch.save(obj, path, pickle_protocol=protocol)
    return path


def _rewrite_zip(path: Path, replace: dict[str, bytes], compress: bool = False) -> None:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        records = {info.filename: archive.read(info) for info in archive.infolist()}
    for suffix, data in replace.items():
        name = next(n for n in records if n.endswith(suffix))
        records[name] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) \
            as archive:
        for name, data in records.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("protocol", [4, 5])
def test_torch_zip_of_new_protocols_loads(tmp_path: Path, protocol: int) -> None:
    import argparse
    from collections import OrderedDict

    import torch

    from tlgan_tui.engine.generators import torch_zip

    state = OrderedDict(w=torch.arange(6.0).reshape(2, 3),
                        b=torch.tensor([1, 2], dtype=torch.int64),
                        h=torch.ones(3, dtype=torch.float16))
    path = _torch_save(tmp_path / "x.pt", {"g_ema": state, "args": argparse.Namespace(size=32),
                                           "shared": state["w"][1]}, protocol)
    assert torch_zip.pickle_protocol(path) == protocol
    loaded = torch_zip.load_restricted(path)
    for key, value in state.items():
        assert loaded["g_ema"][key].dtype == value.dtype
        torch.testing.assert_close(loaded["g_ema"][key], value)
    torch.testing.assert_close(loaded["shared"], state["w"][1])
    assert loaded["args"].size == 32


def test_torch_zip_refuses_a_global_and_runs_nothing(tmp_path: Path) -> None:
    import os

    from tlgan_tui.engine.generators import torch_zip

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple:
            return (os.system, (f"touch {marker}",))

    path = _torch_save(tmp_path / "x.pt", {"w": Evil()})
    with pytest.raises(RefusedGlobal, match=r"(posix|os)\.system"):
        torch_zip.load_restricted(path)
    assert not marker.exists()


def test_torch_zip_storage_size_must_match(tmp_path: Path) -> None:
    import torch

    from tlgan_tui.engine.generators import torch_zip

    path = _torch_save(tmp_path / "x.pt", {"w": torch.zeros(4)})
    _rewrite_zip(path, {"data/0": b"\x00" * 12})  # 4 float32 need 16 bytes
    with pytest.raises(TlganError, match="needs 16 bytes"):
        torch_zip.load_restricted(path)


def test_torch_zip_compressed_records_refused(tmp_path: Path) -> None:
    """torch writes stored records; a deflated one could declare any size (zip bomb)."""
    import torch

    from tlgan_tui.engine.generators import torch_zip

    path = _torch_save(tmp_path / "x.pt", {"w": torch.zeros(4)})
    _rewrite_zip(path, {}, compress=True)
    with pytest.raises(TlganError, match="not a plain stored record"):
        torch_zip.load_restricted(path)


def test_torch_zip_hostile_persistent_id_refused(tmp_path: Path) -> None:
    from tlgan_tui.engine.generators import torch_zip

    path = _torch_save(tmp_path / "x.pt", {"w": 1})
    # data.pkl asking for a persistent id that is not a storage record
    _rewrite_zip(path, {"data.pkl": b"\x80\x05\x8c\x04../x\x94Q."})
    with pytest.raises(TlganError, match="persistent id"):
        torch_zip.load_restricted(path)
