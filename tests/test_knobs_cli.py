"""`tlgan teach` and `tlgan knobs`: labels in, knobs out, knobs shared, bad input refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.export import snapshot_metadata, write_new_png
from tlgan_tui.engine.generators.base import Generator, GeneratorInfo
from tlgan_tui.engine.knobs import KnobFile, store_path


def _labels(path: Path, generator: Generator, hidden: np.ndarray, seeds: range,
            header: bool = True) -> Path:
    rows = ["seed,label"] if header else []
    for seed in seeds:
        rows.append(f"{seed},{'y' if generator.latent_for_seed(seed) @ hidden > 0 else 'n'}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _hidden(generator: Generator) -> np.ndarray:
    from tlgan_tui.engine.directions import ganspace_directions

    hidden = np.array([1.0, -0.5, 0.3]) @ ganspace_directions(generator, 3)
    return hidden / np.linalg.norm(hidden)


def test_teach_from_a_csv_then_render_with_the_knob(tmp_path: Path, run_cli,
                                                    generator: Generator) -> None:
    hidden = _hidden(generator)
    labels = _labels(tmp_path / "hat.csv", generator, hidden, range(60))
    out = tmp_path / "mine.safetensors"
    code, stdout, err = run_cli("teach", "Hat", "--labels", labels, "-o", out)
    assert code == 0, err
    assert "Hat: cross-validated accuracy" in stdout
    accuracy = float(stdout.split("accuracy ")[1].split()[0])
    assert accuracy > 0.7
    knob = KnobFile.load(out).get("hat")
    assert knob.direction @ hidden > 0.8
    assert knob.latents.shape == (60, generator.latent_dim) and len(knob.labels) == 60
    # Every command takes it with --knobs; +2 on it moves the face along the hidden direction.
    code, _, err = run_cli("render", "--seed", "3", "--set", "Hat=+2", "--knobs", out,
                           "-o", tmp_path / "hat.png")
    assert code == 0, err
    code, _, err = run_cli("render", "--seed", "3", "--set", "Hat=+2", "-o", tmp_path / "x.png")
    assert code == 2 and "Hat" in err
    # Not written to the user's own knobs.
    assert not store_path(generator.info).exists()


def test_bad_labels_are_one_line_and_exit_2(tmp_path: Path, run_cli,
                                            generator: Generator) -> None:
    cases = {
        "malformed.csv": ("seed,label\n1,y\n2\n", "malformed.csv:3: expected 2 columns"),
        "badlabel.csv": ("1,y\n2,maybe\n", "badlabel.csv:2: label 'maybe' is not y/n"),
        "unknown.csv": ("1,y\n-4,n\n", "unknown.csv:2: unknown seed -4"),
        "word.csv": ("1,y\nfoo,n\n", "word.csv:2: 'foo' is neither a seed nor a .png"),
        "missing.csv": ("1,y\nnope.png,n\n", "missing.csv:2: snapshot not found"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        code, _, err = run_cli("teach", "Hat", "--labels", tmp_path / name)
        assert code == 2, name
        assert err.count("\n") == 1 and message in err, err
    few = _labels(tmp_path / "few.csv", generator, _hidden(generator), range(12))
    code, _, err = run_cli("teach", "Hat", "--labels", few)
    assert code == 2 and "at least 10 answers of each kind" in err


def test_snapshot_rows_and_a_snapshot_from_another_generator(tmp_path: Path, run_cli,
                                                             generator: Generator) -> None:
    info = generator.info
    other = GeneratorInfo(**{**info.__dict__, "sha256": "f" * 64, "ident": "other:ffff"})
    hidden = _hidden(generator)
    rows = ["png,label"]
    for seed in range(40):
        latent = generator.latent_for_seed(seed)
        state = EditState.fresh(latent, 0, seed)
        meta = snapshot_metadata(info, "axes:none", "", [], state, latent, 64)
        png = write_new_png(Image.new("RGB", (8, 8)), tmp_path / "snaps", f"s{seed}", meta)
        rows.append(f"snaps/{png.name},{1 if latent @ hidden > 0 else 0}")
    (tmp_path / "snaps.csv").write_text("\n".join(rows) + "\n")
    code, stdout, err = run_cli("teach", "Tilt", "--labels", tmp_path / "snaps.csv")
    assert code == 0, err
    assert "Tilt" in stdout and store_path(info).exists()  # no -o: the user's own knobs
    latent = generator.latent_for_seed(99)
    meta = snapshot_metadata(other, "axes:none", "", [], EditState.fresh(latent, 0, 99),
                             latent, 64)
    png = write_new_png(Image.new("RGB", (8, 8)), tmp_path / "snaps", "alien", meta)
    (tmp_path / "alien.csv").write_text(f"snaps/{png.name},y\n" + "\n".join(rows[1:]))
    code, _, err = run_cli("teach", "Tilt2", "--labels", tmp_path / "alien.csv")
    assert code == 2 and "was made with generator" in err and err.count("\n") == 1


def test_knobs_list_rename_delete_export_import(tmp_path: Path, run_cli,
                                                generator: Generator) -> None:
    hidden = _hidden(generator)
    labels = _labels(tmp_path / "l.csv", generator, hidden, range(50))
    assert run_cli("teach", "Hat", "--labels", labels)[0] == 0
    assert run_cli("teach", "Glasses", "--labels", labels)[0] == 0
    code, _, err = run_cli("teach", "hat", "--labels", labels)
    assert code == 2 and "already exists" in err
    code, _, err = run_cli("teach", "Male", "--labels", labels)  # a shipped feature
    assert code == 2 and "already exists" in err
    code, out, _ = run_cli("knobs", "list")
    assert "Hat" in out and "Glasses" in out and "labels" in out
    assert run_cli("knobs", "rename", "Hat", "Cap")[0] == 0
    code, _, err = run_cli("knobs", "rename", "Cap", "glasses")
    assert code == 2 and "already exists" in err
    shared = tmp_path / "shared.safetensors"
    code, out, _ = run_cli("knobs", "export", "Cap", "-o", shared)
    assert code == 0 and "1 knob" in out
    assert run_cli("knobs", "delete", "Cap")[0] == 0
    assert "Cap" not in run_cli("knobs", "list")[1]
    code, out, err = run_cli("knobs", "import", shared)
    assert code == 0 and "Cap" in out, err
    code, _, err = run_cli("knobs", "import", shared)  # twice: the name exists now
    assert code == 2 and "already exists" in err
    cap = KnobFile.load(store_path(generator.info)).get("Cap")
    assert len(cap.labels) == 50 and cap.direction @ hidden > 0.7
    code, out, _ = run_cli("knobs", "refit", "cap")
    assert code == 0 and "cross-validated accuracy" in out
    code, out, _ = run_cli("render", "--seed", "1", "--set", "Cap=1", "-o", tmp_path / "c.png")
    assert code == 0  # the user's own knobs load without --knobs


def test_knob_files_for_another_generator_or_corrupt_are_refused(
        tmp_path: Path, run_cli, generator: Generator) -> None:
    other = GeneratorInfo(**{**generator.info.__dict__, "sha256": "e" * 64,
                             "ident": "other:eeee", "name": "Other GAN"})
    from tlgan_tui.engine.knobs import Knob, knob_meta

    alien = KnobFile.empty(other)
    alien.add(Knob("Hat", np.eye(generator.latent_dim)[0], 1.0,
                   np.zeros((0, generator.latent_dim), np.float32), np.zeros(0, np.int8),
                   knob_meta("labels", 0.9, 10, 10)))
    alien.save(tmp_path / "alien.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}junk")
    for name, message in (("alien.safetensors", "holds knobs for generator Other GAN"),
                          ("junk.safetensors", "not a")):
        code, _, err = run_cli("render", "--seed", "1", "--knobs", tmp_path / name,
                               "-o", tmp_path / "x.png")
        assert code == 2 and message in err and err.count("\n") == 1, err
        code, _, err = run_cli("knobs", "import", tmp_path / name)
        assert code == 2 and message in err, err
    assert not (tmp_path / "x.png").exists()
    assert not store_path(generator.info).exists()  # nothing was imported
