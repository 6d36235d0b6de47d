"""`tlgan render --lock` and `tlgan sweep --lock` hold what the editor's locks hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tlgan_tui.engine.export import read_snapshot
from tlgan_tui.engine.extractors.base import ExtractorSet

SEEDS = "1-6"


def measured(extractors: ExtractorSet, paths: list[Path], feature: str) -> np.ndarray:
    faces = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    return extractors.score(faces)[:, extractors.index(feature)]


def test_render_lock_holds_the_measured_value(run_cli, tmp_path: Path,
                                              extractors: ExtractorSet) -> None:
    outputs = {}
    for name, extra in (("start", []), ("measured", ["--lock", "Age"]),
                        ("linear", ["--lock", "Age", "--linear-locks"])):
        edit = [] if name == "start" else ["--set", "Smiling=3", *extra]
        code, _, err = run_cli("render", "--seeds", SEEDS, *edit, "-o", tmp_path / name)
        assert code == 0, err
        outputs[name] = sorted((tmp_path / name).glob("*.png"))
    ages = {name: measured(extractors, paths, "Age") for name, paths in outputs.items()}
    drift = {name: np.nanmean(np.abs(ages[name] - ages["start"]))
             for name in ("measured", "linear")}
    assert drift["measured"] < 0.5 * drift["linear"], drift

    age = read_snapshot(outputs["measured"][0]).features.index("Age")
    corrected = [p for p in outputs["measured"] if read_snapshot(p).state["offsets"][age] != 0]
    assert corrected  # the correction is in the file...
    again = tmp_path / "again.png"
    assert run_cli("render", "--from", corrected[0], "-o", again)[0] == 0
    assert again.read_bytes() == corrected[0].read_bytes()  # ...so it reproduces
    assert all(read_snapshot(p).state["offsets"][age] == 0 for p in outputs["linear"])


def test_sweep_lock_corrects_each_cell(run_cli, tmp_path: Path) -> None:
    grids = {}
    for name, extra in (("measured", []), ("linear", ["--linear-locks"])):
        grids[name] = tmp_path / f"{name}.png"
        code, _, err = run_cli("sweep", "--feature", "Smiling", "--seeds", "2",
                               "--steps", "-3,0,3", "--lock", "Age", *extra,
                               "--cell", "64", "-o", grids[name])
        assert code == 0, err
    measured_grid = np.asarray(Image.open(grids["measured"]).convert("RGB"), dtype=int)
    linear_grid = np.asarray(Image.open(grids["linear"]).convert("RGB"), dtype=int)
    assert measured_grid.shape == linear_grid.shape
    assert np.abs(measured_grid - linear_grid).max() > 0  # the moved cells differ
