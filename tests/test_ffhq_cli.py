"""FFHQ as the real default of the commands; DCGAN work made before still reopens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture()
def ffhq_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the test suite's small default for this test: the shipped default."""
    from tlgan_tui.engine import paths

    monkeypatch.setattr(paths, "DEFAULT_GENERATOR", "ffhq")


def test_render_defaults_to_ffhq_at_full_resolution(run_cli, tmp_path: Path,
                                                    ffhq_default: None) -> None:
    code, _, err = run_cli("render", "--seed", "3", "--size", "256", "-o", tmp_path / "a.png")
    assert code == 0, err
    small = Image.open(tmp_path / "a.png")
    assert small.size == (256, 256)
    code, _, err = run_cli("render", "--generator", "ffhq", "--seed", "3",
                           "-o", tmp_path / "b.png")
    assert code == 0, err
    full = Image.open(tmp_path / "b.png")
    assert full.size == (1024, 1024)
    # --size shrinks the full image; it is not a (blurrier) preview.
    shrunk = np.asarray(full.convert("RGB").resize((256, 256), Image.LANCZOS), dtype=float)
    assert np.abs(shrunk - np.asarray(small.convert("RGB"), dtype=float)).mean() < 2


def test_old_dcgan_snapshot_reopens_byte_identical(run_cli, tmp_path: Path,
                                                   ffhq_default: None) -> None:
    code, _, err = run_cli("render", "--generator", "digiface", "--seed", "7",
                           "-o", tmp_path / "old.png")
    assert code == 0, err
    # No --generator: the snapshot's sha256 picks the shipped DCGAN, not the FFHQ default.
    code, _, err = run_cli("render", "--from", tmp_path / "old.png", "-o", tmp_path / "new.png")
    assert code == 0, err
    assert (tmp_path / "new.png").read_bytes() == (tmp_path / "old.png").read_bytes()


def test_unknown_short_name_is_one_line(run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("render", "--generator", "celeba", "-o", tmp_path / "x.png")
    assert code == 2 and err.count("\n") == 1 and "celeba" in err


def test_info_lists_the_shipped_generators(run_cli, ffhq_default: None) -> None:
    code, out, err = run_cli("info", "--generator", "digiface")
    assert code == 0, err
    assert "ffhq" in out and "(default)" in out and "digiface" in out
    assert "1024 px" in out and "64 px" in out and "MIT" in out and "Apache-2.0" in out
    assert " ms" in out and " MB" in out


def test_dcgan_session_resumes_with_the_dcgan(tmp_path: Path, ffhq_default: None) -> None:
    from tests.app_fixtures import make_app

    app = make_app(tmp_path, "--generator", "digiface")
    app._save_session()
    app.writer.close()
    # No --generator now, and the default is FFHQ: the session's sha256 decides.
    again = make_app(tmp_path, "--resume")
    assert again.engine.generator.info.sha256 == app.engine.generator.info.sha256
    assert again.engine.generator.resolution == 64
    assert again.history.current.same_as(app.history.current)
