"""Issue 13, items 1-3 and the generator parts of 10-11: hostile generator files."""

from __future__ import annotations

import io
import json
import pickle
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import generators_fixtures as fx
import hostile
import numpy as np
import pytest
import torch

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.loading import load_generator
from tlgan_tui.engine.generators.safe_pickle import RestrictedUnpickler
from tlgan_tui.engine.paths import default_generator_path

CPU = torch.device("cpu")


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def one_line_error(run_cli, *args: object) -> str:
    code, _, err = run_cli(*args)
    assert code == 2, err
    assert err.startswith("tlgan: error: ") and err.count("\n") == 1, err
    return err


# -- 1: hang ---------------------------------------------------------------------------

def test_shared_submodules_do_not_hang(tmp_path: Path) -> None:
    path = hostile.shared_tree_pickle(tmp_path / "g.pkl", depth=40)
    assert path.stat().st_size < 4096
    with time_limit(10), pytest.raises(TlganError):
        load_generator(path, CPU)


def test_nested_too_deeply_names_the_file(tmp_path: Path) -> None:
    path = hostile.deep_chain_pickle(tmp_path / "deep.pkl", depth=100)
    with pytest.raises(TlganError, match=r"deep\.pkl.*nested too deeply"):
        load_generator(path, CPU)


# -- 2: memory ---------------------------------------------------------------------------

def test_pickle_bytearray_call_is_bounded_by_the_file() -> None:
    bomb = pickle.dumps(hostile._BigBytearray(4_000_000_000), protocol=4)
    assert len(bomb) < 100
    with pytest.raises(pickle.UnpicklingError, match="bytearray of 4000000000 bytes"):
        RestrictedUnpickler(io.BytesIO(bomb), "bomb.pkl").load()


def test_bytearray_call_refused_via_loader(tmp_path: Path) -> None:
    path = hostile.bytearray_bomb(tmp_path / "bomb.pkl")
    with pytest.raises(TlganError, match=r"bomb\.pkl.*bytearray"):
        load_generator(path, CPU)


def test_bytearray8_record_is_bounded_by_the_file(tmp_path: Path) -> None:
    path = hostile.bytearray8_bomb(tmp_path / "b8.pkl")
    with pytest.raises(TlganError, match="more than the file can hold"):
        load_generator(path, CPU)


def test_wide_dcgan_is_refused_before_it_is_built(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from tlgan_tui.engine.generators import dcgan

    built: list[int] = []
    original = dcgan.DCGANNetwork.__init__

    def spy(self: torch.nn.Module, z_dim: int = 100, channels: int = 64) -> None:
        if torch.empty(0).device.type != "meta":  # a network with real memory
            built.append(channels)
        original(self, z_dim, channels)

    monkeypatch.setattr(dcgan.DCGANNetwork, "__init__", spy)
    path = hostile.wide_dcgan(tmp_path / "wide.safetensors")
    assert path.stat().st_size < 600 * 1024
    with pytest.raises(TlganError, match="do not fit a DCGAN"):
        load_generator(path, CPU)
    assert 1024 not in built  # 2.9 GB of weights were allocated before the check


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = hostile.zip_bomb(tmp_path / "bomb.pt", inflated_mb=64)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(TlganError, match="inflate"):
        load_generator(path, CPU)


# -- 3: malformed configs and tensors ----------------------------------------------------

def _zoo_state(**changes: torch.Tensor) -> dict[str, torch.Tensor]:
    state = fx.ZooGNet(latent=8, depth0=8, depths=(8,)).state_dict()
    state.update(changes)
    return state


@pytest.mark.parametrize("case", ["1d_weight", "depth_text", "channels_empty", "latent_neg",
                                  "config_list", "tf_wrong_shape", "config_text_field"])
def test_malformed_generators_give_one_line(tmp_path: Path, run_cli, case: str) -> None:
    path = tmp_path / f"{case}.bin"
    if case == "1d_weight":
        hostile.gan_zoo_checkpoint(path, _zoo_state(**{"formatLayer.module.weight":
                                                       torch.zeros(5)}))
    elif case == "depth_text":
        hostile.gan_zoo_checkpoint(path, _zoo_state(), {"depthScale0": "eight"})
    elif case == "channels_empty":
        hostile.tlgan_safetensors(path, "pggan", {**hostile.PGGAN_CONFIG, "channels": []})
    elif case == "latent_neg":
        hostile.tlgan_safetensors(path, "pggan", {**hostile.PGGAN_CONFIG, "latent_dim": -1})
    elif case == "config_list":
        hostile.tlgan_safetensors(path, "stylegan2", [1, 2, 3])
    elif case == "config_text_field":
        hostile.tlgan_safetensors(path, "pggan", {**hostile.PGGAN_CONFIG, "alpha": "x"})
    else:
        variables = fx.make_tf_pggan_variables(latent=8, channels=(16, 8))
        variables = [(n, np.zeros(7, np.float32) if n == "4x4/Dense/weight" else v)
                     for n, v in variables]
        hostile.tf_pggan_pickle(path, variables)
    err = one_line_error(run_cli, "render", "--generator", path, "-o", tmp_path / "o.png")
    assert str(path) in err


# -- 11: NaN weights, claimed identities --------------------------------------------------

def test_nan_weights_are_refused(tmp_path: Path) -> None:
    tensors = hostile.pggan_tensors(fill=float("nan"))
    path = hostile.tlgan_safetensors(tmp_path / "nan.safetensors", "pggan",
                                     hostile.PGGAN_CONFIG, tensors)
    with pytest.raises(TlganError, match="NaN"):
        load_generator(path, CPU)


def test_identity_is_the_hash_of_the_loaded_file(tmp_path: Path) -> None:
    default = load_generator(None, CPU)
    path = hostile.tlgan_safetensors(tmp_path / "liar.safetensors", "pggan",
                                     hostile.PGGAN_CONFIG, hostile.pggan_tensors(),
                                     source_sha256=default.info.sha256,
                                     name="DCGAN-64 \x1b]0;owned\x07DigiFace-1M")
    liar = load_generator(path, CPU)
    assert liar.info.sha256 != default.info.sha256
    assert "\x1b" not in liar.info.name and "\x07" not in liar.info.name
    assert json.loads(json.dumps(liar.info.name))
    assert default_generator_path().is_file()


def test_shape_mismatch_is_one_line(tmp_path: Path) -> None:
    tensors = hostile.pggan_tensors()
    tensors["dense.weight"] = torch.zeros(64, 5)
    path = hostile.tlgan_safetensors(tmp_path / "shape.safetensors", "pggan",
                                     hostile.PGGAN_CONFIG, tensors)
    with pytest.raises(TlganError) as info:
        load_generator(path, CPU)
    assert "dense.weight" in str(info.value) and "\n" not in str(info.value)
