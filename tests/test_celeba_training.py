"""`tlgan train-extractor` on a synthetic CelebA: it learns what is in the pictures,
nothing else; resumes exactly; skips and counts unreadable images."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from tlgan_tui.cli import main
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.celeba import CELEBA_ATTRIBUTES, FLIPPED
from tlgan_tui.engine.training.celeba_data import IMAGE_DIR
from tlgan_tui.engine.training.synthetic import PLANTED, draw_face, write_synthetic_celeba
from tlgan_tui.engine.training.train import (
    TrainConfig,
    TrainingReporter,
    checkpoint_path_for,
    train_extractor,
)

# Small and fast: 400 drawn faces (260 train / 40 val / 100 test), 32 px input.
FAST = ["--image-size", "32", "--batch-size", "16", "--width", "0.5", "--lr", "0.005",
        "--workers", "0"]
TINY = dict(image_size=32, batch_size=16, width=0.25, lr=0.005, workers=0)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # Tiny convolutions run several times faster on one thread than on contended cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def celeba(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("celeba")
    write_synthetic_celeba(root, n=400, width=40, seed=0)
    return root


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(celeba: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("trained")
    extractor, metrics = out / "celeba40.safetensors", out / "metrics.json"
    code, stdout, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o", str(extractor),
                                 "--epochs", "16", *FAST, "--metrics-json", str(metrics)])
    assert code == 0, stderr
    return {"dir": out, "extractor": extractor, "stdout": stdout, "stderr": stderr,
            "metrics": json.loads(metrics.read_text())["metrics"]}


def test_planted_attributes_are_learned_and_the_others_stay_at_chance(
        trained: dict[str, Any]) -> None:
    accuracy = trained["metrics"]["test_accuracy"]
    assert list(accuracy) == list(CELEBA_ATTRIBUTES)
    for name in PLANTED:
        assert accuracy[name] >= 0.90, (name, accuracy[name])
    others = [accuracy[n] for n in CELEBA_ATTRIBUTES if n not in PLANTED]
    assert 0.42 <= float(np.mean(others)) <= 0.58, others
    assert all(0.25 <= a <= 0.75 for a in others), others
    assert trained["metrics"]["test_images"] == 100
    assert trained["metrics"]["epochs"] == 16
    assert [h["epoch"] for h in trained["metrics"]["history"]] == list(range(1, 17))
    assert trained["metrics"]["skipped_images"] == {"train": 0, "val": 0, "test": 0}


def test_the_command_prints_per_attribute_and_mean_accuracy(trained: dict[str, Any]) -> None:
    stdout, stderr = trained["stdout"], trained["stderr"]
    mean = trained["metrics"]["test_mean_accuracy"]
    assert f"mean test accuracy: {mean:.2%} over 100 test images (16 epochs)" in stdout
    for name in CELEBA_ATTRIBUTES:
        assert name in stdout
    assert "epoch 16/16: loss" in stderr and "images/s" in stderr
    assert "260 train, 40 val, 100 test images; device cpu, 0 decoding worker(s)" in stderr
    # Written atomically: no temporary files left beside the outputs.
    assert sorted(p.name for p in trained["dir"].iterdir()) == [
        "celeba40.checkpoint.safetensors", "celeba40.safetensors", "metrics.json"]


def test_the_file_is_a_safetensors_extractor_with_its_metadata(trained: dict[str, Any]) -> None:
    with safe_open(str(trained["extractor"]), framework="pt") as handle:
        meta = handle.metadata()
    assert meta["format"] == "tlgan-extractor" and meta["kind"] == "celeba-attributes"
    assert json.loads(meta["attributes"]) == list(CELEBA_ATTRIBUTES)
    assert meta["input_size"] == "32"
    assert set(json.loads(meta["normalization"])) >= {"mean", "std"}
    assert json.loads(meta["metrics"])["test_accuracy"] == trained["metrics"]["test_accuracy"]
    assert json.loads(meta["training"])["data"] == {"images": 400, "train": 260, "val": 40,
                                                    "test": 100}


def test_the_extractor_scores_generator_sized_square_faces(trained: dict[str, Any]) -> None:
    from tlgan_tui.engine.extractors.defaults import load_extractor_file

    extractor = load_extractor_file(trained["extractor"])
    names = [f.name for f in extractor.features]
    renamed = {"Male": "CelebA_Male", "Smiling": "CelebA_Smiling"}
    assert names[:40] == [renamed.get(n, n) for n in CELEBA_ATTRIBUTES]
    assert names[40:] == ["Beard", "Skin_Tone", "Old"]
    assert all(f.kind == "probability" for f in extractor.features)
    assert extractor.ident.startswith("celeba40-")
    # Fresh faces drawn at 64 px and cut square, as a generator would hand them over.
    rng = np.random.default_rng(99)
    truth = rng.random((60, len(PLANTED))) < 0.5
    faces = []
    for row in truth:
        face = draw_face(dict(zip(PLANTED, map(bool, row), strict=True)), 64, rng)
        top = (face.shape[0] - 64) // 2
        faces.append(face[top:top + 64])
    scores = extractor.score(np.stack(faces))
    assert scores.shape == (60, 43) and scores.dtype == np.float64
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    for k, name in enumerate(PLANTED):
        predicted = scores[:, names.index(name)] > 0.5
        assert (predicted == truth[:, k]).mean() >= 0.85, name
    for flipped, source in FLIPPED.items():
        np.testing.assert_allclose(scores[:, names.index(flipped)],
                                   1 - scores[:, names.index(source)])
    # Any square size, batched, and an empty batch.
    big = np.repeat(np.repeat(np.stack(faces[:3]), 4, axis=1), 4, axis=2)  # 256 px
    np.testing.assert_allclose(extractor.score(big), scores[:3], atol=0.15)
    assert extractor.score(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0, 43)
    with pytest.raises(TlganError, match="expected RGB images"):
        extractor.score(np.zeros((2, 64, 64), np.uint8))


def test_with_the_default_extractors_the_knobs_come_first(trained: dict[str, Any]) -> None:
    from tlgan_tui.engine.extractors.defaults import load_extractors
    from tlgan_tui.engine.features import ordered_feature_names

    defaults = load_extractors().names
    extractors = load_extractors([trained["extractor"]])
    assert extractors.names[:2] == ["Male", "Age"]
    assert extractors.names == [*defaults, *extractors.names[len(defaults):]]
    assert len(extractors.names) == len(defaults) + 43
    ordered = ordered_feature_names(extractors.names)
    assert ordered[:4] == ["Male", "Age", "Skin_Tone", "Bangs"]
    assert ordered[12] == "Beard" and "Old" in ordered[21:]
    images = np.zeros((2, 64, 64, 3), np.uint8)
    assert extractors.score(images).shape == (2, len(defaults) + 43)


def test_resume_continues_after_the_last_epoch_exactly(celeba: Path, tmp_path: Path) -> None:
    class StopAfterEpoch2(TrainingReporter):
        def message(self, text: str) -> None:
            if text.startswith("epoch 2/3"):
                raise KeyboardInterrupt  # the user presses Ctrl-C during epoch 3

    straight = tmp_path / "straight.safetensors"
    train_extractor(TrainConfig(celeba, straight, epochs=3, **TINY))
    resumed = tmp_path / "resumed.safetensors"
    with pytest.raises(KeyboardInterrupt):
        train_extractor(TrainConfig(celeba, resumed, epochs=3, **TINY), StopAfterEpoch2())
    assert not resumed.exists() and checkpoint_path_for(resumed).exists()

    code, _, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o", str(resumed),
                            "--epochs", "3", "--resume", "--image-size", "32", "--batch-size",
                            "16", "--width", "0.25", "--lr", "0.005", "--workers", "0"])
    assert code == 0, stderr
    assert "resuming after epoch 2 of 3" in stderr
    assert "epoch 3/3: loss" in stderr
    assert "epoch 1/3:" not in stderr and "epoch 2/3:" not in stderr
    with safe_open(str(resumed), framework="pt") as handle:
        history = json.loads(handle.metadata()["metrics"])["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    # Seeded per epoch: the resumed run ends with the very weights of an uninterrupted one.
    a, b = load_file(str(straight)), load_file(str(resumed))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)

    # Resuming a finished run trains nothing and evaluates again.
    code, _, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o", str(resumed),
                            "--epochs", "3", "--resume", "--image-size", "32", "--batch-size",
                            "16", "--width", "0.25", "--workers", "0"])
    assert code == 0 and "nothing left to train" in stderr and "epoch 3/3:" not in stderr


def test_resume_refuses_a_missing_or_mismatched_checkpoint(celeba: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.safetensors"
    code, _, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o", str(out),
                            "--resume", *FAST])
    assert code == 2 and "--resume: no checkpoint at" in stderr
    train_extractor(TrainConfig(celeba, out, epochs=1, **TINY))
    code, _, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o", str(out),
                            "--resume", "--epochs", "2", "--image-size", "48",
                            "--batch-size", "16", "--width", "0.25", "--workers", "0"])
    assert code == 2
    assert "the checkpoint was trained with --image-size 32, not 48" in stderr
    # More epochs than first planned: allowed, and the stretched schedule is announced.
    code, _, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o", str(out),
                            "--resume", "--epochs", "2", "--image-size", "32",
                            "--batch-size", "16", "--width", "0.25", "--workers", "0"])
    assert code == 0, stderr
    assert "resuming after epoch 1 of 2" in stderr
    assert "planned 1 epochs; the learning-rate schedule now spans 2" in stderr


def _damage(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / IMAGE_DIR / name
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])  # header intact, scan data cut short


def test_unreadable_images_met_while_training_are_skipped_and_counted(
        celeba: Path, tmp_path: Path) -> None:
    root = tmp_path / "celeba"
    shutil.copytree(celeba, root)
    _damage(root, ["000003.jpg", "000010.jpg", "000390.jpg"])  # two train, one test image

    class DeleteMidRun(TrainingReporter):
        def __init__(self) -> None:
            self.lines: list[str] = []

        def phase(self, description: str, total: int) -> None:
            if description.startswith("epoch 1"):  # after the up-front check
                (root / IMAGE_DIR / "000020.jpg").unlink()

        def message(self, text: str) -> None:
            self.lines.append(text)

    reporter = DeleteMidRun()
    metrics = train_extractor(TrainConfig(root, tmp_path / "x.safetensors", epochs=1, **TINY),
                              reporter)
    assert metrics["skipped_images"] == {"train": 3, "val": 0, "test": 1}
    examples = metrics["skipped_examples"]
    assert "000020.jpg: missing" in examples
    assert any(e.startswith("000003.jpg") and "truncated" in e for e in examples)
    assert metrics["test_images"] == 99
    # 16 full batches of 16 (the last partial batch is dropped), less the unreadable ones.
    assert 253 <= metrics["history"][0]["train_images"] <= 256
    assert any("skipping unreadable image 000020.jpg: missing" in line
               for line in reporter.lines)
    assert any("skipped 4 unreadable image(s): train 3, val 0, test 1" in line
               for line in reporter.lines)


def test_the_command_reports_skipped_images_using_worker_processes(
        celeba: Path, tmp_path: Path) -> None:
    root = tmp_path / "celeba"
    shutil.copytree(celeba, root)
    _damage(root, ["000001.jpg"])
    code, stdout, stderr = _run(["train-extractor", "--celeba", str(root), "-o",
                                 str(tmp_path / "x.safetensors"), "--epochs", "1",
                                 "--image-size", "32", "--batch-size", "20", "--width", "0.25",
                                 "--workers", "1"])
    assert code == 0, stderr
    assert "skipping unreadable image 000001.jpg" in stderr
    assert "skipped unreadable images: train 1, val 0, test 0" in stdout


def test_too_many_unreadable_images_stop_the_run(celeba: Path, tmp_path: Path) -> None:
    root = tmp_path / "celeba"
    shutil.copytree(celeba, root)
    _damage(root, [f"{i:06d}.jpg" for i in range(1, 41)])  # 40 of 260 train images
    code, _, stderr = _run(["train-extractor", "--celeba", str(root), "-o",
                            str(tmp_path / "x.safetensors"), "--epochs", "1", *FAST])
    assert code == 2
    assert "of the 260 train images are unreadable (more than 5%)" in stderr
    assert not (tmp_path / "x.safetensors").exists()


def test_bad_options_are_refused_before_any_work(celeba: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "x.safetensors")
    for argv, message in [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--image-size", "16"], "--image-size must be within 32..512"),
        (["--batch-size", "1"], "--batch-size must be at least 2"),
        (["--workers", "-1"], "--workers cannot be negative"),
    ]:
        code, _, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o", out, *argv])
        assert code == 2 and message in stderr, stderr
    code, _, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o",
                            str(tmp_path / "no" / "dir" / "x.safetensors")])
    assert code == 2 and "does not exist" in stderr


def test_help_describes_the_command() -> None:
    code, stdout, _ = _run_help()
    assert code == 0
    for option in ("--celeba", "--epochs", "--image-size", "--batch-size", "--device",
                   "--workers", "--metrics-json", "--resume"):
        assert option in stdout


def _run_help() -> tuple[int, str, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        main(["train-extractor", "--help"])
    return int(exit_info.value.code or 0), out.getvalue(), ""


def test_ctrl_c_points_at_the_checkpoint(celeba: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tlgan_tui.engine.training import train as train_module

    original = train_module._Trainer.train_epoch

    def interrupted_in_epoch_2(self: Any, epoch: int) -> dict[str, Any]:
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(train_module._Trainer, "train_epoch", interrupted_in_epoch_2)
    out = tmp_path / "x.safetensors"
    code, _, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o", str(out),
                            "--epochs", "3", "--image-size", "32", "--batch-size", "16",
                            "--width", "0.25", "--workers", "0"])
    assert code == 130
    assert f"the last finished epoch is saved in {checkpoint_path_for(out)}" in stderr
    assert "--resume continues from it" in stderr
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it(celeba: Path, tmp_path: Path) -> None:
    code, _, stderr = _run(["train-extractor", "--celeba", str(celeba), "-o",
                            str(tmp_path / "x.safetensors"), "--device", "cuda"])
    assert code == 2 and "CUDA is not available" in stderr


@pytest.mark.slow
def test_the_default_settings_learn_on_celeba_sized_images(tmp_path: Path) -> None:
    """128 px input, width 1, from 178x218 JPEGs: a few minutes on two CPU cores."""
    root = tmp_path / "celeba"
    write_synthetic_celeba(root, n=1024, width=178, split=(0.8, 0.1))
    metrics_file = tmp_path / "m.json"
    code, _, stderr = _run(["train-extractor", "--celeba", str(root), "-o",
                            str(tmp_path / "x.safetensors"), "--epochs", "8",
                            "--batch-size", "32", "--metrics-json", str(metrics_file)])
    assert code == 0, stderr
    accuracy = json.loads(metrics_file.read_text())["metrics"]["test_accuracy"]
    assert all(accuracy[name] >= 0.9 for name in PLANTED), accuracy
