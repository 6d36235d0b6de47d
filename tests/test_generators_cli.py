"""`tlgan render --generator FILE` with each third-party format, through the public CLI."""

from __future__ import annotations

from pathlib import Path

import generators_fixtures as fx
import numpy as np
import pytest
import torch
from PIL import Image

from tlgan_tui.cli import main
from tlgan_tui.engine.generators.base import to_uint8


def _render(generator: Path, out: Path, seed: int, *extra: str) -> np.ndarray:
    code = main(["render", "--generator", str(generator), "--seed", str(seed),
                 "--device", "cpu", "-o", str(out), *extra])
    assert code == 0
    return np.asarray(Image.open(out).convert("RGB"))


def _close(a: np.ndarray, b: np.ndarray) -> None:
    # Off by one at most where float rounding straddles a .5 boundary.
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def _seed_z(seed: int, dim: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((1, dim), dtype=np.float32)


@pytest.mark.parametrize("psi", [0.7, 0.4])
def test_render_stylegan2_ada_pickle(tmp_path: Path, psi: float) -> None:
    net = fx.make_ada_generator(resolution=32, seed=6)
    path = tmp_path / "stylegan2-ffhq-config-f.pkl"
    fx.write_ada_pickle(path, net)
    extra = [] if psi == 0.7 else ["--psi", str(psi)]
    image = _render(path, tmp_path / "out.png", 5, *extra)
    w = fx.ref_w(net, _seed_z(5, 32), psi)
    with torch.no_grad():
        expected = to_uint8(fx.ref_synthesis(net, torch.from_numpy(w)))[0]
    _close(image, expected)
    # Second start: from the safetensors cache, same pixels.
    again = _render(path, tmp_path / "again.png", 5, *extra)
    np.testing.assert_array_equal(again, image)
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 1


def test_render_rosinality_checkpoint(tmp_path: Path) -> None:
    net = fx.make_ada_generator(resolution=32, seed=7)
    path = tmp_path / "550000.pt"
    fx.write_rosinality_checkpoint(path, net)
    image = _render(path, tmp_path / "out.png", 2)
    with torch.no_grad():
        expected = to_uint8(fx.ref_synthesis(
            net, torch.from_numpy(fx.ref_w(net, _seed_z(2, 32), 0.7))))[0]
    _close(image, expected)


def test_render_gan_zoo_pgan(tmp_path: Path) -> None:
    avg = fx.ZooGNet(alpha=0.5, seed=3)
    path = tmp_path / "celebaHQ_s6.pth"
    fx.write_gan_zoo_checkpoint(path, avg, fx.ZooGNet(seed=4))
    image = _render(path, tmp_path / "out.png", 11)
    with torch.no_grad():
        expected = to_uint8(avg(torch.from_numpy(_seed_z(11, 16))))[0]
    _close(image, expected)


def test_render_tf_pggan_pickle(tmp_path: Path) -> None:
    variables = fx.make_tf_pggan_variables(seed=1)
    path = tmp_path / "karras2018iclr-celebahq-1024x1024.pkl"
    fx.write_tf_pggan_pickle(path, variables)
    image = _render(path, tmp_path / "out.png", 3)
    expected = to_uint8(fx.ref_tf_pggan(variables, _seed_z(3, 16)))[0]
    _close(image, expected)


def test_render_fp16_on_cpu_is_a_one_line_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.pkl"
    fx.write_ada_pickle(path, fx.make_ada_generator(seed=1))
    code = main(["render", "--generator", str(path), "--device", "cpu", "--precision", "fp16",
                 "--seed", "1", "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and "CUDA" in err and err.count("\n") == 1


def test_render_unknown_file_lists_formats(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x00" * 200)
    code = main(["render", "--generator", str(path), "--seed", "1",
                 "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and "StyleGAN2-ADA" in err and "pg-GAN" in err


def test_render_from_snapshot_in_w(tmp_path: Path) -> None:
    path = tmp_path / "g.pkl"
    fx.write_ada_pickle(path, fx.make_ada_generator(seed=8))
    first = _render(path, tmp_path / "a.png", 4, "--psi", "0.5")
    code = main(["render", "--generator", str(path), "--device", "cpu",
                 "--from", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png")])
    assert code == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png").convert("RGB")),
                                  first)
