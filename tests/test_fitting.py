"""Axis fitting (regression, SVM, SeFa), the axes file, and the real default model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.base import ExtractorSet, Feature
from tlgan_tui.engine.fitting import fit_axes, fit_axis, sefa_directions
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.sampling import Pairs, sample_pairs

DIM = 32


def synthetic_pairs(n: int = 3000, seed: int = 0) -> tuple[Pairs, np.ndarray, np.ndarray]:
    """Latents whose probability feature depends on `true_p` and continuous on `true_c`."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, DIM)).astype(np.float32)
    true_p = rng.standard_normal(DIM)
    true_p /= np.linalg.norm(true_p)
    true_c = rng.standard_normal(DIM)
    true_c /= np.linalg.norm(true_c)
    prob = 1 / (1 + np.exp(-(2.0 * z @ true_p + 0.3 * rng.standard_normal(n))))
    cont = 40 + 10 * (z @ true_c) + rng.standard_normal(n)
    return Pairs(z, np.stack([prob, cont], axis=1)), true_p, true_c


FEATURES = (Feature("P", "probability"), Feature("C", "continuous", "years"))


@pytest.mark.parametrize("method", ["regression", "svm"])
def test_fitting_recovers_planted_directions(method: str) -> None:
    pairs, true_p, true_c = synthetic_pairs()
    p = fit_axis(pairs, 0, FEATURES[0], method, svm_fraction=0.1)
    c = fit_axis(pairs, 1, FEATURES[1], method, svm_fraction=0.1)
    assert p.direction @ true_p > 0.9  # right direction *and* sign
    assert c.direction @ true_c > 0.9
    assert np.linalg.norm(p.direction) == pytest.approx(1.0)
    if method == "regression":
        assert p.metric_name == "r2" and p.metric > 0.5 and c.metric > 0.9
    else:
        assert p.metric_name == "accuracy" and p.metric > 0.9


def test_unscored_samples_are_excluded_not_zeroed() -> None:
    pairs, true_p, _ = synthetic_pairs()
    pairs.scores[:1000, 0] = np.nan
    # If NaN rows were scored as 0 they would drag the axis towards -z of those rows.
    pairs.latents[:1000] = np.abs(pairs.latents[:1000]) * np.sign(true_p)
    fit = fit_axis(pairs, 0, FEATURES[0], "regression")
    assert fit.n_failed == 1000 and fit.n_train + fit.n_test == 2000
    assert fit.direction @ true_p > 0.9


def test_too_few_scored_samples_is_a_clear_error() -> None:
    pairs, _, _ = synthetic_pairs(200)
    pairs.scores[:195, 0] = np.nan
    with pytest.raises(TlganError, match="only 5 of 200 samples"):
        fit_axis(pairs, 0, FEATURES[0])


def test_sefa_finds_the_dominant_input_directions() -> None:
    rng = np.random.default_rng(1)
    basis, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    strengths = np.linspace(5, 0.1, DIM)
    weight = rng.standard_normal((200, DIM)) @ np.diag(strengths) @ basis.T
    directions, eigenvalues = sefa_directions(weight, 3)
    assert directions.shape == (3, DIM)
    assert np.all(np.diff(eigenvalues) <= 0)
    assert np.allclose(directions @ directions.T, np.eye(3), atol=1e-8)


def test_axes_file_round_trip_and_generator_check(tmp_path: Path, generator: Generator) -> None:
    pairs, _, _ = synthetic_pairs()
    info = {"generator": {"sha256": "ab" * 32, "name": "Other GAN", "ident": "other:abab"}}
    axes, result = fit_axes(pairs, FEATURES, np.random.default_rng(0).standard_normal((64, DIM)),
                            sefa_k=2, info=info)
    assert axes.names == ["P", "C", "Direction 1", "Direction 2"]
    assert axes.kinds == ["probability", "continuous", "direction", "direction"]
    assert np.allclose(axes.sigmas, 1.0, atol=0.1)  # z ~ N(0, I): 1 sigma ~ 1 unit
    path = tmp_path / "a.safetensors"
    axes.save(path)
    loaded = FeatureAxes.load(path)
    assert loaded.names == axes.names and np.array_equal(loaded.directions, axes.directions)
    assert loaded.info["metrics"]["P"]["r2"] == pytest.approx(result.fits[0].metric, abs=1e-4)
    with pytest.raises(TlganError, match="fitted for generator Other GAN"):
        loaded.check_generator(generator.info, "a.safetensors")


def test_shipped_axes_fit_the_default_generator(shipped_axes: FeatureAxes,
                                                generator: Generator) -> None:
    shipped_axes.check_generator(generator.info)
    assert shipped_axes.names[:2] == ["Male", "Age"]
    assert shipped_axes.info["samples"] == 30000
    assert shipped_axes.info["command"].startswith("tlgan fit ")
    assert shipped_axes.info["metrics"]["Male"]["r2"] > 0.1


def test_real_fit_on_a_small_sample_moves_the_measured_feature(
        generator: Generator, extractors: ExtractorSet) -> None:
    pairs = sample_pairs(generator, extractors, 1500, seed=11, batch_size=250)
    assert pairs.scores.shape == (1500, len(extractors.names))
    assert pairs.valid_rows(extractors.index("Male")).mean() > 0.85
    axes, _ = fit_axes(pairs, extractors.features, generator.sefa_weight().numpy(), sefa_k=3)
    starts = generator.sample(48, 99)
    male = axes.directions[0] * axes.sigmas[0]
    plus = extractors.score(generator.synthesize(starts + 3 * male))[:, 0]
    minus = extractors.score(generator.synthesize(starts - 3 * male))[:, 0]
    # Compare where the face is found at both ends (extreme edits can lose it).
    both = np.isfinite(plus) & np.isfinite(minus)
    assert both.mean() >= 0.7
    assert (plus[both] > minus[both]).mean() >= 0.8


def test_scoring_in_worker_processes_gives_the_same_pairs(
        generator: Generator, extractors: ExtractorSet) -> None:
    from tlgan_tui.engine.extractors.parallel import ParallelScorer

    serial = sample_pairs(generator, extractors, 96, seed=4, batch_size=32)
    with ParallelScorer(1) as scorer:
        parallel = sample_pairs(generator, extractors, 96, seed=4, batch_size=32, scorer=scorer)
    assert np.array_equal(serial.latents, parallel.latents)
    assert np.allclose(serial.scores, parallel.scores, atol=1e-5, equal_nan=True)


def _random_celeba_extractor(path: Path) -> Path:
    import torch
    from safetensors.torch import save_file

    from tlgan_tui.engine.extractors.celeba import AttributeNet, build_metadata

    torch.manual_seed(0)
    net = AttributeNet(width=0.25)
    meta = build_metadata(input_size=32, width=0.25, mean=(0.5,) * 3, std=(0.25,) * 3,
                          metrics={"test_mean_accuracy": 0.5})
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path), meta)
    return path


def test_trained_extractors_score_beside_the_worker_processes(
        tmp_path: Path, generator: Generator) -> None:
    from tlgan_tui.engine.extractors.defaults import load_extractors
    from tlgan_tui.engine.extractors.parallel import ParallelScorer

    both = load_extractors([_random_celeba_extractor(tmp_path / "celeba.safetensors")])
    assert len(both.names) > 40 and both.names[:2] == ["Male", "Age"]
    serial = sample_pairs(generator, both, 64, seed=2, batch_size=32)
    with ParallelScorer(1) as scorer:
        parallel = sample_pairs(generator, both, 64, seed=2, batch_size=32, scorer=scorer)
    assert np.allclose(serial.scores, parallel.scores, atol=1e-5, equal_nan=True)


def test_fit_with_a_trained_extractor_adds_its_axes(tmp_path: Path, run_cli) -> None:
    extractor = _random_celeba_extractor(tmp_path / "celeba.safetensors")
    out = tmp_path / "axes.safetensors"
    code, _, err = run_cli("fit", "--samples", "200", "--sefa", "1", "--rescore-faces", "4",
                           "--extractor", extractor, "-o", out)
    assert code == 0, err
    axes = FeatureAxes.load(out)
    assert axes.names[:2] == ["Male", "Age"] and "Bangs" in axes.names
    assert axes.names[-1] == "Direction 1"
