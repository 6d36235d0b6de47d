"""The default extractor (face-api's nets + landmark measures) on generated faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.extractors.defaults import load_extractors
from tlgan_tui.engine.extractors.measures import MEASURE_FEATURES

NETS = ["Male", "Age", "Neutral", "Smiling", "Sad", "Angry", "Fearful", "Disgusted", "Surprised"]


def _scored(scores: np.ndarray) -> np.ndarray:
    """Faces the nets scored; colour regions outside the frame may still be NaN."""
    return np.isfinite(scores[:, :len(NETS)]).all(axis=1)


def test_features_are_named_as_tlgan(extractors: ExtractorSet) -> None:
    assert extractors.names == NETS + [f.name for f in MEASURE_FEATURES]
    assert len(extractors.names) >= 16
    kinds = {f.name: f.kind for f in extractors.features}
    assert kinds["Male"] == kinds["Smiling"] == "probability" and kinds["Age"] == "continuous"
    assert extractors.index("male") == 0 and extractors.index("AGE") == 1
    with pytest.raises(TlganError, match="unknown feature 'Smile'"):
        extractors.index("Smile")


def test_scores_on_generated_faces_are_plausible(extractors: ExtractorSet,
                                                 faces: np.ndarray) -> None:
    scores = extractors.score(faces)
    assert scores.shape == (len(faces), len(extractors.names))
    ok = _scored(scores)
    assert ok.mean() >= 0.85
    # A face the nets cannot score is NaN in every column, never 0.
    assert np.isnan(scores[~ok]).all()
    geometry = [extractors.index(n) for n in ("Mouth_Opening", "Yaw", "Face_Width")]
    assert np.isfinite(scores[np.ix_(ok, geometry)]).all()
    male, age = scores[ok, 0], scores[ok, 1]
    assert ((male >= 0) & (male <= 1)).all()
    assert (male > 0.5).sum() >= 4 and (male < 0.5).sum() >= 4
    assert ((age > 1) & (age < 90)).all() and age.std() > 3
    expressions = scores[ok, 2:9]
    np.testing.assert_allclose(expressions.sum(axis=1), 1, atol=1e-5)
    assert (expressions.argmax(axis=1) == NETS.index("Smiling") - 2).any()


def test_mirrored_face_gets_a_similar_score(extractors: ExtractorSet,
                                            faces: np.ndarray) -> None:
    scores = extractors.score(faces)
    mirrored = extractors.score(faces[:, :, ::-1].copy())
    both = _scored(scores) & _scored(mirrored)
    assert both.mean() >= 0.8
    assert (np.round(scores[both, 0]) == np.round(mirrored[both, 0])).mean() >= 0.8
    assert np.median(np.abs(scores[both, 1] - mirrored[both, 1])) < 8
    # Head yaw is measured: a mirror image turns the other way.
    yaw = extractors.index("Yaw")
    assert np.corrcoef(scores[both, yaw], mirrored[both, yaw])[0, 1] < -0.5


@pytest.mark.parametrize("mode", ["frame", "detect"])
def test_images_without_a_face_are_nan_not_zero(mode: str) -> None:
    extractors = load_extractors(mode=mode)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    flat = np.stack([np.full((64, 64, 3), v, dtype=np.uint8) for v in (0, 128, 255)])
    noise = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    scores = extractors.score(np.concatenate([flat, noise]))
    assert np.isnan(scores).all()
    wide = extractors.score(np.full((2, 120, 200, 3), 128, dtype=np.uint8))
    assert np.isnan(wide).all()


def test_batching_does_not_change_a_faces_scores(extractors: ExtractorSet,
                                                 faces: np.ndarray) -> None:
    together = extractors.score(faces[:8])
    alone = np.vstack([extractors.score(faces[i:i + 1]) for i in range(8)])
    np.testing.assert_allclose(together, alone, atol=1e-4, equal_nan=True)


def test_any_resolution_is_accepted(extractors: ExtractorSet, faces: np.ndarray) -> None:
    from PIL import Image

    big = np.stack([np.asarray(Image.fromarray(f).resize((256, 256), Image.BICUBIC))
                    for f in faces[:8]])
    small = extractors.score(faces[:8])
    large = extractors.score(big)
    both = _scored(small) & _scored(large)
    assert both.sum() >= 6
    assert (np.round(small[both, 0]) == np.round(large[both, 0])).mean() >= 0.75


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_the_nets_run_on_cuda_with_the_same_scores(faces: np.ndarray) -> None:
    cpu = load_extractors(device="cpu").score(faces[:8])
    gpu = load_extractors(device="cuda").score(faces[:8])
    np.testing.assert_allclose(gpu, cpu, atol=1e-3, equal_nan=True)


def test_the_old_age_and_gender_extractor_still_scores_for_comparison(faces: np.ndarray) -> None:
    from tlgan_tui.engine.extractors.age_gender import AgeGenderExtractor

    scores = AgeGenderExtractor("frame").score(faces[:8])
    assert scores.shape == (8, 2) and np.isfinite(scores).all()
    assert ((scores[:, 0] >= 0) & (scores[:, 0] <= 1)).all()
