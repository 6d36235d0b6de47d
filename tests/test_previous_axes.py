"""Work made with axes shipped before a refit keeps opening, with those axes."""

from __future__ import annotations

from pathlib import Path

from tlgan_tui.cli import build_parser
from tlgan_tui.cli.edit import build_config
from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.export import read_snapshot
from tlgan_tui.engine.paths import default_axes_path, previous_axes_paths, shipped_generator


def previous_dcgan_axes() -> FeatureAxes:
    digiface = shipped_generator("digiface")
    assert digiface is not None
    current = FeatureAxes.load(digiface.axes_path)
    for path in previous_axes_paths():
        axes = FeatureAxes.load(path)
        if axes.info["generator"]["sha256"] == current.info["generator"]["sha256"]:
            assert axes.sha256 != current.sha256 and axes.names != current.names
            return axes
    raise AssertionError("no earlier DCGAN axes are shipped")


def old_snapshot(run_cli, tmp_path: Path) -> tuple[Path, FeatureAxes]:
    old = previous_dcgan_axes()
    path = tmp_path / "made-last-month.png"
    code, _, err = run_cli("render", "--generator", "digiface", "--axes", _path_of(old),
                           "--seed", "5", "--set", f"{old.names[0]}=1.5", "-o", path)
    assert code == 0, err
    return path, old


def _path_of(axes: FeatureAxes) -> Path:
    return next(p for p in previous_axes_paths() if FeatureAxes.load(p).sha256 == axes.sha256)


def test_render_from_an_old_snapshot_edits_it_with_its_own_axes(run_cli, tmp_path: Path) -> None:
    snapshot, old = old_snapshot(run_cli, tmp_path)
    again = tmp_path / "again.png"
    code, _, err = run_cli("render", "--from", snapshot, "--set", f"{old.names[1]}=-1",
                           "-o", again)
    assert code == 0, err
    made = read_snapshot(again)
    assert made.axes["sha256"] == old.sha256
    assert made.state["offsets"][:2] == [1.5, -1.0]  # the old edit kept, the new one added


def test_the_editor_reopens_an_old_snapshot_with_its_offsets(run_cli, tmp_path: Path) -> None:
    snapshot, old = old_snapshot(run_cli, tmp_path)
    args = build_parser().parse_args([
        "edit", "--device", "cpu", "--from", str(snapshot), "--pca", "0", "--renderer",
        "halfcell", "--session", str(tmp_path / "session.json"), "--out-dir",
        str(tmp_path / "out")])
    config = build_config(args)
    assert config.axes.sha256 == old.sha256 != FeatureAxes.load(default_axes_path()).sha256
    assert config.history.current.offsets[0] == 1.5
    assert not [text for text, level in config.notices if "offsets at zero" in text]
