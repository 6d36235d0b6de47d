"""The CLI as users run it: outputs, reproducibility, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tlgan_tui.cli import SUBCOMMANDS
from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.export import read_snapshot


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_every_subcommand_has_help(run_cli) -> None:
    for module in SUBCOMMANDS:
        name = module.rsplit(".", 1)[1].replace("_", "-")
        with pytest.raises(SystemExit) as exit_info:
            run_cli(name, "--help")
        assert exit_info.value.code == 0


def test_render_writes_metadata_and_render_from_reproduces_it(run_cli, tmp_path: Path) -> None:
    first = tmp_path / "face.png"
    code, _out, err = run_cli("render", "--seed", "3", "--set", "male=+2", "--set", "Age=-1",
                             "--lock", "direction 1", "--size", "96", "-o", first)
    assert code == 0, err
    snap = read_snapshot(first)
    assert snap.size == 96 and snap.features[:2] == ["Male", "Age"]
    assert snap.state["offsets"][:2] == [2.0, -1.0] and snap.state["seed"] == 3
    assert snap.state["locked"] == [snap.features.index("Direction 1")]
    again = tmp_path / "again.png"
    assert run_cli("render", "--from", first, "-o", again)[0] == 0
    assert pixels(again).shape == (96, 96, 3)
    assert np.array_equal(pixels(first), pixels(again))
    assert first.read_bytes() == again.read_bytes()


def test_set_changes_the_face_and_the_measured_value(run_cli, tmp_path: Path) -> None:
    outputs = {}
    for value in ("-3", "0", "+3"):
        outputs[value] = tmp_path / f"male{value}.png"
        assert run_cli("render", "--seed", "21", "--set", f"Male={value}", "-o",
                       outputs[value])[0] == 0
    assert not np.array_equal(pixels(outputs["-3"]), pixels(outputs["+3"]))
    code, out, _ = run_cli("measure", "--json", outputs["-3"], outputs["+3"])
    assert code == 0
    male = [row["scores"]["Male"] for row in json.loads(out)]
    assert male[1] > male[0]


def test_seed_ranges_write_one_png_per_seed(run_cli, tmp_path: Path) -> None:
    out_dir = tmp_path / "many"
    code, out, _ = run_cli("render", "--seeds", "1-3,7", "-o", f"{out_dir}/")
    assert code == 0 and "4 faces" in out
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["seed-0001.png", "seed-0002.png", "seed-0003.png", "seed-0007.png"]
    assert read_snapshot(out_dir / "seed-0007.png").state["seed"] == 7
    solo = tmp_path / "solo.png"
    run_cli("render", "--seed", "7", "-o", solo)
    assert np.array_equal(pixels(solo), pixels(out_dir / "seed-0007.png"))


def test_sweep_writes_a_labelled_grid(run_cli, tmp_path: Path) -> None:
    grid = tmp_path / "grid.png"
    code, _out, err = run_cli("sweep", "--feature", "male", "--seeds", "1,2", "--steps",
                             "-2,0,2", "--lock", "Age", "--cell", "64", "-o", grid)
    assert code == 0, err
    image = Image.open(grid)
    assert image.width > 3 * 64 and image.height > 2 * 64
    assert "sweep" in image.text["tlgan"]


def test_fit_writes_axes_with_provenance_and_a_report(run_cli, tmp_path: Path) -> None:
    axes_path = tmp_path / "axes.safetensors"
    code, out, err = run_cli("fit", "--samples", "400", "--seed", "5", "--sefa", "2",
                             "--rescore-faces", "8", "-o", axes_path)
    assert code == 0, err
    for heading in ("Held-out metrics", "Cosine between axes", "Re-scoring"):
        assert heading in out
    axes = FeatureAxes.load(axes_path)
    from tlgan_tui.engine.extractors.face_features import FaceFeatures

    assert axes.names == [f.name for f in FaceFeatures.features] + ["Direction 1", "Direction 2"]
    assert axes.info["samples"] == 400 and axes.info["seed"] == 5
    assert axes.info["command"].startswith("tlgan fit --samples 400")
    assert len(axes.info["rescoring"]["table"]) == len(axes.names)


def test_measure_table_and_unreadable_image(run_cli, tmp_path: Path) -> None:
    face = tmp_path / "f.png"
    run_cli("render", "--seed", "1", "-o", face)
    code, out, _ = run_cli("measure", face)
    assert code == 0 and "Male" in out and "f.png" in out
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    code, _, err = run_cli("measure", face, junk)
    assert code == 2 and "junk.png" in err and "Traceback" not in err


def test_info_names_models_and_protocol(run_cli) -> None:
    code, out, _ = run_cli("info")
    assert code == 0
    for expected in ("DCGAN-64", "Male, Age", "terminal graphics", "torch"):
        assert expected in out


def write_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["render", "--set", "Smile=1", "-o", "{tmp}/x.png"], "unknown feature 'Smile'"),
    (["render", "--set", "Male", "-o", "{tmp}/x.png"], "malformed --set 'Male'"),
    (["render", "--set", "Male=lots", "-o", "{tmp}/x.png"], "is not a number"),
    (["render", "--lock", "nobody", "-o", "{tmp}/x.png"], "unknown feature 'nobody'"),
    (["render", "--generator", "{tmp}/missing.safetensors", "-o", "{tmp}/x.png"],
     "generator file not found"),
    (["render", "--generator", "{tmp}/random.bin", "-o", "{tmp}/x.png"],
     "not a generator file"),
    (["render", "--generator", "{tmp}/truncated.safetensors", "-o", "{tmp}/x.png"],
     "corrupt"),
    (["render", "--axes", "{tmp}/random.bin", "--set", "Male=1", "-o", "{tmp}/x.png"],
     "not a readable axes file"),
    (["render", "--axes", "{tmp}/other-axes.safetensors", "--set", "Male=1", "-o",
      "{tmp}/x.png"], "fitted for generator Other GAN"),
    (["render", "--from", "{tmp}/random.bin", "-o", "{tmp}/x.png"], "not a readable PNG"),
    (["render", "--seeds", "1-x", "-o", "{tmp}/d/"], "malformed seeds"),
    (["sweep", "--feature", "Smile", "-o", "{tmp}/g.png"], "unknown feature 'Smile'"),
    (["sweep", "--feature", "Male", "--steps", "a,b", "-o", "{tmp}/g.png"], "malformed steps"),
    (["fit", "--samples", "5", "-o", "{tmp}/a.safetensors"], "--samples must be"),
    (["measure", "{tmp}/nothing.png"], "image not found"),
])
def test_bad_input_is_one_line_exit_2(run_cli, tmp_path: Path, shipped_axes: FeatureAxes,
                                      args: list[str], message: str) -> None:
    from tlgan_tui.engine.paths import default_generator_path

    write_file(tmp_path / "random.bin", os.urandom(4096))
    write_file(tmp_path / "truncated.safetensors", default_generator_path().read_bytes()[:5000])
    other = FeatureAxes(shipped_axes.names, shipped_axes.kinds, shipped_axes.directions,
                        shipped_axes.sigmas,
                        {"generator": {"sha256": "cd" * 32, "name": "Other GAN"}})
    other.save(tmp_path / "other-axes.safetensors")
    code, _out, err = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("tlgan: error: ")
    assert not (tmp_path / "x.png").exists()


def test_console_script_exit_code_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tlgan_tui", "render", "--set", "Male=+3", "--generator",
         str(tmp_path / "nope.safetensors"), "-o", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
