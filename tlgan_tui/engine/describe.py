"""A suggested description of an unlabelled direction, from re-scoring.

Moving faces +2 sigma along a direction and re-measuring every named feature
says what the direction does ("Age +4.1 y, Male -0.10"); the largest changes,
relative to each feature's spread over the faces, are named first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tlgan_tui.engine.extractors.base import Feature

SHOWN = 3


def describe_change(change: np.ndarray, base: np.ndarray, features: Sequence[Feature],
                    shown: int = SHOWN) -> str:
    """`change` (k,) mean change per feature, `base` (n, k) scores of the unmoved faces."""
    spread = np.nanstd(base, axis=0)
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
    strength = np.abs(np.nan_to_num(np.asarray(change, float))) / spread
    parts = []
    for j in np.argsort(-strength)[:shown]:
        value = float(change[j])
        if not np.isfinite(value):
            continue
        feature = features[j]
        if feature.kind == "probability":
            parts.append(f"{feature.name} {value:+.2f}")
        else:
            unit = f" {feature.unit[:1]}" if feature.unit else ""
            parts.append(f"{feature.name} {value:+.1f}{unit}")
    return ", ".join(parts)
