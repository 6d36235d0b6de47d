"""`tlgan fit` and `tlgan train-extractor` under torchrun (gloo, CPU processes):
the same axes file bytes as one process, the same learning, resumable across rank counts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.distributed import Ranks, owned_batches, round_progress
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.safetensors_header import safetensors_bytes
from tlgan_tui.engine.sampling import join_parts, sample_pairs

REPO = Path(__file__).resolve().parents[1]
# The suite pins the DCGAN as its default; torchrun's processes must be told.
FIT = ["fit", "--generator", "digiface", "--samples", "200", "--batch-size", "32", "--sefa", "1",
       "--rescore-faces", "4", "-o", "axes.safetensors"]


def torchrun(ranks: int, argv: list[str], cwd: Path, timeout: float = 300
             ) -> subprocess.CompletedProcess[str]:
    """`torchrun --nproc-per-node RANKS -m tlgan_tui ARGV` on this checkout's code."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", str(ranks), "-m", "tlgan_tui", *argv]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """torchrun gives every rank one thread; the single process compared gets the same."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_every_batch_has_one_owner_and_progress_counts_all_ranks() -> None:
    for world in (1, 2, 3):
        owned = [owned_batches(200, 32, Ranks(r, world)) for r in range(world)]
        starts = sorted(start for batches in owned for start, _ in batches)
        assert starts == list(range(0, 200, 32))
        shown: list[int] = []
        callback = round_progress(shown.append, 200, 32, Ranks(0, world))
        for _ in owned[0]:
            callback(32)
        assert sum(shown) == 200 and len(shown) == len(owned[0])


def test_the_parts_of_the_seed_stream_join_into_the_one_process_pairs(
        generator: Generator, extractors: ExtractorSet) -> None:
    whole = sample_pairs(generator, extractors, 50, seed=5, batch_size=8)
    parts = [sample_pairs(generator, extractors, 50, seed=5, batch_size=8, part=p, parts=3)
             for p in range(3)]
    assert [len(p) for p in parts] == [18, 16, 16]  # batches 0,3,6 (2 rows) | 1,4 | 2,5
    joined = join_parts(parts, 50, 8)
    assert np.array_equal(joined.latents, whole.latents)
    assert np.array_equal(joined.scores, whole.scores, equal_nan=True)


def test_the_same_axes_are_the_same_bytes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    directions, sigmas = rng.standard_normal((3, 8)), rng.random(3)
    a = FeatureAxes(["A", "B", "C"], ["probability"] * 3, directions, sigmas,
                    {"seed": 1, "method": "regression"})
    b = FeatureAxes(["A", "B", "C"], ["probability"] * 3, directions, sigmas,
                    {"seed": 1, "method": "regression"})
    a.save(tmp_path / "a.safetensors")
    b.save(tmp_path / "b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    # Metadata keys are written sorted whatever order they come in.
    assert safetensors_bytes({}, {"b": "1", "a": "2"}) == safetensors_bytes({}, {"a": "2",
                                                                                 "b": "1"})


def _fit_in_process(directory: Path, run_cli, argv: list[str]) -> bytes:
    directory.mkdir()
    cwd = Path.cwd()
    os.chdir(directory)
    try:
        code, _, err = run_cli(*argv)
    finally:
        os.chdir(cwd)
    assert code == 0, err
    return (directory / "axes.safetensors").read_bytes()


def test_fit_on_two_ranks_writes_the_bytes_of_one_process(
        tmp_path: Path, run_cli, one_thread: None) -> None:
    alone = _fit_in_process(tmp_path / "one", run_cli, FIT)
    (tmp_path / "two").mkdir()
    result = torchrun(2, FIT, tmp_path / "two")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "two" / "axes.safetensors").read_bytes() == alone
    # Only rank 0 reports and writes.
    assert result.stdout.count("wrote axes.safetensors") == 1
    assert "2 ranks sampled 200 faces together" in result.stdout
    assert "Held-out metrics" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("method", ["regression", "svm"])
def test_fit_on_three_ranks_writes_the_bytes_of_one_process(
        tmp_path: Path, run_cli, one_thread: None, method: str) -> None:
    argv = [*FIT, "--samples", "300", "--method", "svm", "--svm-fraction", "0.1"] \
        if method == "svm" else [*FIT, "--samples", "300"]
    alone = _fit_in_process(tmp_path / "one", run_cli, argv)
    (tmp_path / "three").mkdir()
    result = torchrun(3, argv, tmp_path / "three")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "three" / "axes.safetensors").read_bytes() == alone


# -- train-extractor: a synthetic CelebA of 400 drawn faces (260 train / 40 val / 100 test)

TRAIN = ["--image-size", "32", "--batch-size", "32", "--width", "0.5", "--lr", "0.005",
         "--workers", "0"]


@pytest.fixture(scope="module")
def celeba(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tlgan_tui.engine.training.synthetic import write_synthetic_celeba

    root = tmp_path_factory.mktemp("celeba")
    write_synthetic_celeba(root, n=400, width=40, seed=0)
    return root


def _metrics(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


def test_two_ranks_train_and_one_process_resumes_their_checkpoint(
        celeba: Path, tmp_path: Path, run_cli, one_thread: None) -> None:
    from tlgan_tui.engine.training.train import checkpoint_path_for

    out = tmp_path / "celeba40.safetensors"
    result = torchrun(2, ["train-extractor", "--celeba", str(celeba), "-o", str(out),
                          "--epochs", "2", *TRAIN, "--metrics-json", str(tmp_path / "m.json")],
                      tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 ranks, 16 images each per step" in result.stderr
    assert result.stdout.count(f"wrote {out}") == 1  # rank 0 writes, the other is silent
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "celeba40.checkpoint.safetensors", "celeba40.safetensors", "m.json"]
    two = _metrics(tmp_path / "m.json")
    assert two["training"]["ranks"] == 2
    # The numbers mean what they mean for one process: every image counted once.
    assert two["metrics"]["test_images"] == 100
    assert [h["train_images"] for h in two["metrics"]["history"]] == [256, 256]  # 8 x 32

    code, _, err = run_cli("train-extractor", "--celeba", celeba, "-o", out, "--epochs", "3",
                           "--resume", *TRAIN, "--metrics-json", tmp_path / "m.json")
    assert code == 0, err
    assert "resuming after epoch 2 of 3" in err and "epoch 3/3: loss" in err
    resumed = _metrics(tmp_path / "m.json")
    assert "ranks" not in resumed["training"]
    assert resumed["metrics"]["history"][:2] == two["metrics"]["history"]
    assert [h["epoch"] for h in resumed["metrics"]["history"]] == [1, 2, 3]
    assert checkpoint_path_for(out).exists()


def test_the_global_batch_must_divide_among_the_ranks(
        celeba: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    code, _, err = run_cli("train-extractor", "--celeba", celeba, "-o",
                           tmp_path / "x.safetensors", "--batch-size", "32")
    assert code == 2
    assert "--batch-size 32 is the batch of all 3 ranks together" in err


@pytest.mark.slow
def test_two_ranks_learn_the_planted_attributes_as_well_as_one_process(
        celeba: Path, tmp_path: Path, run_cli, one_thread: None) -> None:
    from tlgan_tui.engine.extractors.celeba import CELEBA_ATTRIBUTES
    from tlgan_tui.engine.training.synthetic import PLANTED

    accuracy = {}
    code, _, err = run_cli("train-extractor", "--celeba", celeba, "-o", tmp_path / "one.st",
                           "--epochs", "16", *TRAIN, "--metrics-json", tmp_path / "one.json")
    assert code == 0, err
    accuracy[1] = _metrics(tmp_path / "one.json")["metrics"]["test_accuracy"]
    result = torchrun(2, ["train-extractor", "--celeba", str(celeba), "-o",
                          str(tmp_path / "two.st"), "--epochs", "16", *TRAIN,
                          "--metrics-json", str(tmp_path / "two.json")], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    accuracy[2] = _metrics(tmp_path / "two.json")["metrics"]["test_accuracy"]
    for ranks in (1, 2):
        for name in PLANTED:
            assert accuracy[ranks][name] >= 0.90, (ranks, name, accuracy[ranks][name])
        others = [accuracy[ranks][n] for n in CELEBA_ATTRIBUTES if n not in PLANTED]
        assert 0.42 <= float(np.mean(others)) <= 0.58, (ranks, others)
