"""Hostile generator files are refused and run nothing; torch.load is weights-only."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import generators_fixtures as fx
import numpy as np
import pytest
import torch

from tlgan_tui.cli import main
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.loading import load_generator
from tlgan_tui.engine.generators.safe_pickle import RefusedGlobal

CPU = torch.device("cpu")



def _no_trace(marker: Path, cache_dir: Path) -> None:
    assert not marker.exists(), "code from the file ran"
    assert not cache_dir.exists() or not any(cache_dir.iterdir()), "a refused file left files"


class SystemCall:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


class EvalCall:
    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self) -> tuple[Any, ...]:
        return (builtins.eval, (self.source,))


def test_pickle_reducing_to_os_system_is_refused(tmp_path: Path, cache_in_tmp: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "stylegan2-ffhq.pkl"
    path.write_bytes(pickle.dumps({"G_ema": SystemCall(f"touch {marker}")}, protocol=4))
    with pytest.raises(RefusedGlobal) as info:
        load_generator(path, CPU)
    assert info.value.global_name in ("posix.system", "os.system", "nt.system")
    assert "refused" in str(info.value) and "\n" not in str(info.value)
    _no_trace(marker, cache_in_tmp)


def test_pickle_importing_builtins_eval_is_refused(tmp_path: Path, cache_in_tmp: Path) -> None:
    marker = tmp_path / "pwned"
    source = f"open({str(marker)!r}, 'w').write('x')"
    path = tmp_path / "g.pkl"
    path.write_bytes(pickle.dumps(EvalCall(source), protocol=2))
    with pytest.raises(RefusedGlobal, match=r"builtins\.eval"):
        load_generator(path, CPU)
    # The same through the pickled TF-style tuple and a hand-written protocol-0 GLOBAL.
    raw = b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1)\x85R."
    path.write_bytes(raw)
    with pytest.raises(RefusedGlobal, match=r"builtins\.eval"):
        load_generator(path, CPU)
    _no_trace(marker, cache_in_tmp)


def test_zip_pt_with_hostile_data_pkl_is_refused(tmp_path: Path, cache_in_tmp: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "550000.pt"
    torch.save({"g_ema": SystemCall(f"touch {marker}"), "latent_avg": torch.zeros(4)}, path)
    with zipfile.ZipFile(path) as archive:
        assert any(name.endswith("data.pkl") for name in archive.namelist())
    with pytest.raises(RefusedGlobal, match="system"):
        load_generator(path, CPU)
    _no_trace(marker, cache_in_tmp)
    # Legacy (non-zip) torch.save files go through the same weights-only loader.
    legacy = tmp_path / "legacy.pth"
    torch.save({"avgG": EvalCall("1")}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(RefusedGlobal, match="eval"):
        load_generator(legacy, CPU)


def test_persistence_pickle_module_src_never_runs(tmp_path: Path, cache_in_tmp: Path) -> None:
    marker = tmp_path / "module_src_ran"
    net = fx.make_ada_generator(seed=2, module_src=f"open({str(marker)!r}, 'w').write('x')\n")
    path = tmp_path / "g.pkl"
    fx.write_ada_pickle(path, net)
    assert str(marker).encode() in path.read_bytes()
    gen = load_generator(path, CPU)  # the weights load; the source is data, never run
    assert not marker.exists()
    w = gen.sample(1, 0)
    with torch.no_grad():
        torch.testing.assert_close(gen.synthesis(torch.from_numpy(w)),
                                   fx.ref_synthesis(net, torch.from_numpy(w)),
                                   atol=1e-4, rtol=1e-3)
    # The conversion cache holds no trace of the source code.
    cached = next(cache_in_tmp.glob("*.safetensors")).read_bytes()
    assert b"module_src_ran" not in cached


def test_tf_build_module_src_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "build_module_src_ran"
    variables = fx.make_tf_pggan_variables()
    path = tmp_path / "g.pkl"
    fx.write_tf_pggan_pickle(path, variables,
                             build_module_src=f"open({str(marker)!r}, 'w').write('x')\n")
    load_generator(path, CPU)
    assert not marker.exists()


def test_persistence_pickle_with_hostile_global_inside_state(tmp_path: Path,
                                                             cache_in_tmp: Path) -> None:
    marker = tmp_path / "pwned"
    net = fx.make_ada_generator(seed=2)
    net.synthesis.b4.conv1.evil = SystemCall(f"touch {marker}")
    path = tmp_path / "g.pkl"
    fx.write_ada_pickle(path, net)
    with pytest.raises(RefusedGlobal, match="system"):
        load_generator(path, CPU)
    _no_trace(marker, cache_in_tmp)


def test_numpy_object_array_cannot_smuggle_globals(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    array = np.empty(1, dtype=object)
    array[0] = SystemCall(f"touch {marker}")
    path = tmp_path / "g.pkl"
    path.write_bytes(pickle.dumps({"x": array}, protocol=3))
    with pytest.raises(RefusedGlobal, match="system"):
        load_generator(path, CPU)
    assert not marker.exists()


def test_torch_load_only_ever_weights_only(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    real_load = torch.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    net = fx.make_ada_generator(seed=1)
    fx.write_ada_pickle(tmp_path / "a.pkl", net)
    fx.write_rosinality_checkpoint(tmp_path / "r.pt", net)
    fx.write_gan_zoo_checkpoint(tmp_path / "z.pth", fx.ZooGNet(), fx.ZooGNet(seed=1))
    for name in ("a.pkl", "r.pt", "z.pth"):
        load_generator(tmp_path / name, CPU, use_cache=False)
    assert calls, "expected torch.load to be used for zip checkpoints and storages"
    assert all(call.get("weights_only") is True for call in calls)


def test_no_unrestricted_fallback_in_the_source() -> None:
    """The loaders never mention an unrestricted load."""
    package = Path(__file__).resolve().parent.parent / "tlgan_tui" / "engine" / "generators"
    for source in package.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert "weights_only=False" not in text, source
        assert "pickle.load(" not in text and "pickle.loads(" not in text, source


def test_cli_reports_refused_file_in_one_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(SystemCall(f"touch {marker}"), protocol=4))
    code = main(["render", "--generator", str(path), "--seed", "1",
                 "-o", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "refused" in err and "system" in err
    assert not marker.exists() and not (tmp_path / "out.png").exists()


def test_refused_global_is_a_tlgan_error() -> None:
    error = RefusedGlobal("x.pkl", "subprocess.Popen")
    assert isinstance(error, TlganError) and "subprocess.Popen" in str(error)
    stream = io.BytesIO(b"\x80\x02csubprocess\nPopen\n.")
    from tlgan_tui.engine.generators.safe_pickle import RestrictedUnpickler

    with pytest.raises(RefusedGlobal, match=r"subprocess\.Popen"):
        RestrictedUnpickler(stream, "mem").load()


def test_build_cannot_patch_allowlisted_classes(tmp_path: Path) -> None:
    from tlgan_tui.engine.generators.safe_pickle import TFNetworkStub

    before = TFNetworkStub.__dict__.get("__setstate__")
    # GLOBAL tfutil.Network; BUILD (None, {'__setstate__': builtins.set}) on the class itself
    raw = (b"\x80\x02ctfutil\nNetwork\nN}X\x0c\x00\x00\x00__setstate__cbuiltins\nset\n"
           b"s\x86b.")
    path = tmp_path / "patch.pkl"
    path.write_bytes(raw)
    with pytest.raises(TlganError, match="state"):
        load_generator(path, CPU)
    assert TFNetworkStub.__dict__.get("__setstate__") is before
