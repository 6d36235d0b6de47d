"""Issue 13, items 4-12: every bad input gets one line, nothing hangs, no file is clobbered."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import hostile
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tlgan_tui.cli import main
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.session import CorruptSessionError, Session

ROOT = Path(__file__).resolve().parent.parent


def one_line(run_cli, *args: object) -> str:
    code, _, err = run_cli(*args)
    assert code == 2, err
    assert err.startswith("tlgan: error: ") and err.count("\n") == 1, err
    return err


def write_axes(path: Path, info: Any, names: list[str] | None = None) -> Path:
    names = names or ["Male", "Age"]
    info_text = info if isinstance(info, str) else json.dumps(
        {**info, "names": names, "kinds": ["probability"] * len(names)})
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((len(names), 100)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    save_file({"directions": torch.from_numpy(directions),
               "sigmas": torch.ones(len(names))}, str(path),
              metadata={"format": "tlgan-axes", "version": "1", "info": info_text})
    return path


@pytest.fixture()
def face(tmp_path: Path, run_cli) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "face.png"
    code, _, err = run_cli("render", "--seed", "3", "--set", "Male=1", "-o", path)
    assert code == 0, err
    from PIL import Image

    with Image.open(path) as image:
        return path, json.loads(image.text["tlgan"])


# -- 4: deeply nested JSON -----------------------------------------------------------------

def test_nested_json_everywhere(tmp_path: Path, run_cli) -> None:
    deep = hostile.nested_json()
    axes = write_axes(tmp_path / "axes.safetensors", deep)
    assert "malformed axes" in one_line(run_cli, "render", "--axes", axes, "--set", "Male=1",
                                        "-o", tmp_path / "a.png")
    png = hostile.png_with_chunk(tmp_path / "deep.png", deep)
    one_line(run_cli, "render", "--from", png, "-o", tmp_path / "b.png")
    gen = hostile.tlgan_safetensors(tmp_path / "g.safetensors", "pggan", deep)
    one_line(run_cli, "render", "--generator", gen, "-o", tmp_path / "c.png")
    with pytest.raises(CorruptSessionError, match="nested"):
        Session.from_json('{"format": "tlgan-session", "version": 1, "x": ' + deep + "}")
    from tlgan_tui.engine.extractors.celeba import AttributeNet, build_metadata

    ext = tmp_path / "ext.safetensors"
    metadata = build_metadata(input_size=32, width=0.25, mean=[0.5] * 3, std=[0.5] * 3)
    save_file({k: v.contiguous() for k, v in AttributeNet(width=0.25).state_dict().items()},
              str(ext), metadata={**metadata, "attributes": deep})
    one_line(run_cli, "measure", png, "--extractor", ext)


# -- 5: axes with wrong types, names with markup and escapes ---------------------------------

@pytest.mark.parametrize("info", ['"just a string"', {"generator": "dcgan"},
                                  {"generator": {"sha256": 12345}}])
def test_axes_with_wrong_json_types(tmp_path: Path, run_cli, info: Any) -> None:
    axes = write_axes(tmp_path / "axes.safetensors", info)
    one_line(run_cli, "render", "--axes", axes, "--set", "Male=1", "-o", tmp_path / "a.png")
    one_line(run_cli, "info", "--axes", axes)


def test_names_are_sanitised_and_escaped(tmp_path: Path, run_cli) -> None:
    axes = write_axes(tmp_path / "axes.safetensors", {},
                      names=["Male [/]", "Age\x1b]0;owned\x07\x1b[31m"])
    code, out, err = run_cli("info", "--axes", axes)
    assert code == 0, err
    assert "Male [/]" in out and "\x1b" not in out and "\x07" not in out


# -- 6: PNG metadata and sessions ---------------------------------------------------------

def _tampered(tmp_path: Path, meta: dict[str, Any], **changes: Any) -> Path:
    data = json.loads(json.dumps(meta))
    state = changes.pop("state", {})
    data.update(changes)
    data["state"].update(state)
    text = changes.pop("_raw", None) or json.dumps(data, allow_nan=True)
    return hostile.png_with_chunk(tmp_path / "bad.png", text)


@pytest.mark.parametrize("change", [
    {"latent": 5}, {"latent": "AAAAAAAAAAA="}, {"size": 100000}, {"size": -5},
    {"state": {"locked": [float("inf")]}}, {"state": {"seed": float("inf")}},
    {"state": {"offsets": [1e300, 0, 0, 0, 0, 0, 0]}},
    {"state": {"base_offsets": [0.0]}}, {"features": "Male"}, {"generator": 7},
])
def test_bad_snapshot_metadata(tmp_path: Path, run_cli, face: tuple[Path, dict], change: dict
                               ) -> None:
    bad = _tampered(tmp_path, face[1], **change)
    one_line(run_cli, "render", "--from", bad, "-o", tmp_path / "again.png")
    one_line(run_cli, "render", "--from", bad, "--set", "Age=1", "-o", tmp_path / "again.png")


def test_chunk_that_is_a_json_list(tmp_path: Path, run_cli) -> None:
    bad = hostile.png_with_chunk(tmp_path / "list.png", "[1, 2]")
    one_line(run_cli, "render", "--from", bad, "-o", tmp_path / "again.png")


def test_decompression_bomb_png(tmp_path: Path, run_cli) -> None:
    bomb = hostile.huge_png(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 2 << 20
    one_line(run_cli, "render", "--from", bomb, "-o", tmp_path / "a.png")
    one_line(run_cli, "measure", bomb)


def _session_text(tmp_path: Path) -> str:
    from tlgan_tui.engine.edit_state import EditState
    from tlgan_tui.engine.session import History

    state = EditState.fresh(np.zeros(4, np.float32), 2, seed=1)
    session = Session(History([state]), {"sha256": "x"}, {"names": ["A", "B"]})
    return session.to_json()


@pytest.mark.parametrize("old,new", [
    ('"locked":[]', '"locked":[Infinity]'), ('"seed":1', '"seed":Infinity'),
    ('"index":0', '"index":Infinity'), ('"selected":0', '"selected":Infinity'),
    ('"offsets":[0.0,0.0]', '"offsets":[1e300,0.0]'), ('"step":0.4', '"step":"x"'),
    ('"base_offsets":null', '"base_offsets":[0.0]'), ('"generator":{"sha256":"x"}',
                                                       '"generator":{"path":5}'),
])
def test_bad_sessions_are_corrupt(tmp_path: Path, old: str, new: str) -> None:
    text = _session_text(tmp_path)
    assert old in text
    with pytest.raises(CorruptSessionError):
        Session.from_json(text.replace(old, new))


def test_infinity_session_is_set_aside_on_resume(tmp_path: Path) -> None:
    from app_fixtures import parse_edit_args

    from tlgan_tui.app.renderers import resolve_renderer
    from tlgan_tui.cli.edit import build_config

    session = tmp_path / "session.json"
    session.write_text(_session_text(tmp_path).replace('"locked":[]', '"locked":[Infinity]'))
    config = build_config(parse_edit_args(tmp_path, "--resume"), resolve_renderer("halfcell"))
    assert not session.exists() or session.read_text().find("Infinity") < 0
    assert list(tmp_path.glob("session.json.corrupt-*"))
    assert any("could not resume" in message for message, _ in config.notices)


def test_offsets_are_bounded() -> None:
    from tlgan_tui.engine.edit_state import MAX_OFFSET, EditState

    state = EditState.fresh(np.zeros(4, np.float32), 1).set_offset(0, 1e300)
    assert state.offsets == (MAX_OFFSET,)


# -- 7: arguments -----------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["render", "--seed", "-1", "-o", "{tmp}/a.png"],
    ["render", "--seeds", "-5-5", "-o", "{tmp}/faces"],
    ["sweep", "--feature", "Male", "--seeds=-2", "-o", "{tmp}/s.png"],
    ["--seed", "-1"],
    ["fit", "--samples", "100", "--rescore-faces", "-1", "-o", "{tmp}/a.safetensors"],
    ["train-extractor", "--celeba", "{tmp}/celeba", "--lr", "nan", "--epochs", "1",
     "--image-size", "32", "-o", "{tmp}/e.safetensors"],
])
def test_bad_arguments_fail_before_work(tmp_path: Path, run_cli, args: list[str]) -> None:
    if "train-extractor" in args:
        from tlgan_tui.engine.training.synthetic import write_synthetic_celeba

        write_synthetic_celeba(tmp_path / "celeba", n=40, width=40, seed=0)
    one_line(run_cli, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.safetensors"))


# -- 8: outputs never replace non-regular files; -o needs --force ---------------------------

def test_outputs_refuse_fifos(tmp_path: Path, run_cli) -> None:
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    assert "FIFO" in one_line(run_cli, "render", "--seed", "1", "-o", fifo)
    assert "FIFO" in one_line(run_cli, "render", "--seed", "1", "--force", "-o", fifo)
    metrics = tmp_path / "metrics.json"
    os.mkfifo(metrics)
    one_line(run_cli, "train-extractor", "--celeba", tmp_path, "-o", tmp_path / "e.safetensors",
             "--metrics-json", metrics)
    assert fifo.is_fifo() and metrics.is_fifo()


def test_atomic_writer_refuses_fifo_and_dangling_link(tmp_path: Path) -> None:
    from tlgan_tui.engine.atomic_write import write_bytes_atomic
    from tlgan_tui.engine.session import write_text_atomic

    fifo = tmp_path / "session.json"
    os.mkfifo(fifo)
    with pytest.raises(TlganError, match="FIFO"):
        write_text_atomic(fifo, "{}")
    dangling = tmp_path / "link.png"
    dangling.symlink_to(tmp_path / "missing.png")
    with pytest.raises(TlganError, match="dangling"):
        write_bytes_atomic(dangling, b"x")
    assert fifo.is_fifo() and dangling.is_symlink()


def test_overwrite_needs_force_and_symlinks_are_written_through(tmp_path: Path,
                                                                  run_cli) -> None:
    real = tmp_path / "real.png"
    real.write_bytes(b"old")
    assert "--force" in one_line(run_cli, "render", "--seed", "1", "-o", real)
    assert real.read_bytes() == b"old"
    link = tmp_path / "link.png"
    link.symlink_to(real)
    code, _, err = run_cli("render", "--seed", "1", "--force", "-o", link)
    assert code == 0, err
    assert link.is_symlink() and real.read_bytes().startswith(b"\x89PNG")


# -- 9: the editor needs a terminal ---------------------------------------------------------

def test_editor_without_a_terminal(monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert "needs a terminal" in one_line(run_cli, "edit")


# -- 10: reasons ----------------------------------------------------------------------------

def test_directory_given_as_a_file(tmp_path: Path, run_cli) -> None:
    assert "is a directory" in one_line(run_cli, "render", "--generator", tmp_path,
                                        "-o", tmp_path / "a.png")
    assert "is a directory" in one_line(run_cli, "measure", tmp_path)


def test_out_dir_that_is_a_file(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    blocker = tmp_path / "snaps"
    blocker.write_text("x")
    from app_fixtures import parse_edit_args

    from tlgan_tui.app.renderers import resolve_renderer
    from tlgan_tui.cli.edit import build_config

    args = parse_edit_args(tmp_path)
    args.out_dir = blocker
    with pytest.raises(TlganError, match="is a file, not a directory"):
        build_config(args, resolve_renderer("halfcell"))


def test_write_errors_name_the_target(tmp_path: Path) -> None:
    from tlgan_tui.app.worker import _describe
    from tlgan_tui.engine.atomic_write import write_bytes_atomic

    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "out.png"
    with pytest.raises(TlganError) as info:
        write_bytes_atomic(target, b"x")
    assert str(target) in str(info.value) and ".tmp" not in str(info.value)
    assert not _describe(info.value).startswith("TlganError")


def test_measure_with_an_extractor_prints_no_warning(tmp_path: Path) -> None:
    script = (
        "import numpy as np, warnings\n"
        "from tlgan_tui.engine.extractors.celeba import AttributeNet, CelebaExtractor\n"
        "ex = CelebaExtractor(AttributeNet(width=0.25), input_size=32, mean=[.5]*3, "
        "std=[.5]*3, device='cpu')\n"
        "images = np.zeros((1, 32, 32, 3), np.uint8); images.setflags(write=False)\n"
        "ex.score(images)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr


# -- 11: contradictions -----------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["render", "--seed", "1", "-o", "{tmp}/out.jpg"],
    ["render", "--seed", "1", "--psi", "0.5", "-o", "{tmp}/a.png"],
    ["render", "--seed", "1", "--lock", "Male", "--set", "Male=1", "-o", "{tmp}/a.png"],
    ["render", "--seed", "1", "--set", "Male=1", "--set", "male=2", "-o", "{tmp}/a.png"],
    ["sweep", "--feature", "Age", "--lock", "Age", "-o", "{tmp}/s.png"],
])
def test_contradictions_are_refused(tmp_path: Path, run_cli, args: list[str]) -> None:
    one_line(run_cli, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.jpg"))


def test_flat_colour_is_not_a_face(extractors) -> None:
    flat = np.full((2, 64, 64, 3), 128, np.uint8)
    assert np.isnan(extractors.score(flat)).all()


def test_editor_from_a_png_made_with_other_axes(tmp_path: Path, face) -> None:
    from app_fixtures import parse_edit_args

    from tlgan_tui.app.renderers import resolve_renderer
    from tlgan_tui.cli.edit import build_config

    path, _ = face
    axes = write_axes(tmp_path / "other.safetensors", {}, names=["Male", "Age"])
    args = parse_edit_args(tmp_path, "--from", str(path))
    args.axes = axes
    with pytest.raises(TlganError, match="pass --axes"):
        build_config(args, resolve_renderer("halfcell"))


# -- 12: help and set-up ----------------------------------------------------------------------

def test_top_level_help_lists_editor_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for option in ("--seed", "--from", "--resume", "--out-dir"):
        assert option in out


def test_readme_set_up_installs_cpu_torch_first() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme[readme.index("## Set up"):readme.index("## A tour")]
    assert "--index-url https://download.pytorch.org/whl/cpu && pip install -e . && tlgan" \
        in setup
    assert "# fit, measure, info and the editor take --extractor" in readme
    assert "pip install -e . && tlgan`" in readme  # the plain variant for GPU machines
    tests_command = setup.split("Install and run the tests:")[1].split("\n\n")[1].strip()
    assert tests_command in (ROOT / ".ci" / "run").read_text()


def test_fit_says_what_it_does_after_sampling(tmp_path: Path, run_cli) -> None:
    existing = tmp_path / "axes.safetensors"
    existing.write_bytes(b"keep")
    assert "--force" in one_line(run_cli, "fit", "--samples", "100", "-o", existing)
    code, _, err = run_cli("fit", "--samples", "100", "--sefa", "1", "--rescore-faces", "2",
                           "--force", "-o", existing)
    assert code == 0, err
    from tlgan_tui.engine.extractors.defaults import load_extractors

    n_features = len(load_extractors().names)
    assert f"fitting {n_features} axes and 1 SeFa directions, then re-scoring 2 faces" in err


def test_measure_escapes_paths_for_rich(tmp_path: Path, run_cli, face) -> None:
    folder = tmp_path / "d["
    folder.mkdir()
    odd = folder / "x].png"
    odd.write_bytes(face[0].read_bytes())
    code, out, err = run_cli("measure", odd)
    assert code == 0, err
    assert "x].png" in out.replace("\n", "")


@pytest.mark.parametrize("args", [["render", "--seed", "x", "-o", "a.png"], ["render"],
                                  ["no-such-command"]])
def test_usage_errors_are_one_line(args: list[str], capsys: pytest.CaptureFixture[str]
                                   ) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "error:" in err, err
