"""Fitting feature axes from (latent, score) pairs, scikit-learn style.

- `regression` (TL-GAN): linear regression of arctanh(clip(2p - 1)) on the
  latent for probabilities (TL-GAN's tanh outputs, clipped to +/-3), of the
  standardized value for continuous features; the coefficient vector,
  L2-normalized, is the axis. Held-out metric: R^2.
- `svm` (InterFaceGAN): the top and bottom `fraction` of samples by score
  become positives and negatives of a linear SVM; its unit normal is the axis.
  Held-out metric: accuracy.
- SeFa (Shen & Zhou 2021): eigenvectors of A^T A, A the (column-normalized)
  weight of the first layer that reads the latent; no sampling, unnamed.

Every axis is oriented so that a positive offset raises its feature, and its
sigma is the spread of sampled latents along it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.base import Feature
from tlgan_tui.engine.sampling import Pairs

FitMethod = Literal["regression", "svm"]
TANH_CLIP = float(np.tanh(3.0))
MIN_ROWS = 20


@dataclass
class AxisFit:
    name: str
    kind: str
    direction: np.ndarray  # (d,) unit
    metric_name: str  # "r2" or "accuracy"
    metric: float  # on held-out samples
    n_train: int
    n_test: int
    n_failed: int  # samples the extractor could not score, excluded


def regression_target(values: np.ndarray, kind: str) -> np.ndarray:
    if kind == "probability":
        return np.arctanh(np.clip(2.0 * values - 1.0, -TANH_CLIP, TANH_CLIP))
    std = values.std()
    return (values - values.mean()) / (std if std > 0 else 1.0)


def _split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_fraction))
    return order[n_test:], order[:n_test]


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0:
        raise TlganError("a fitted axis came out degenerate (all-zero coefficients)")
    return v / norm


def fit_axis(pairs: Pairs, column: int, feature: Feature, method: FitMethod = "regression",
             seed: int = 0, test_fraction: float = 0.2, svm_fraction: float = 0.02) -> AxisFit:
    ok = pairs.valid_rows(column)
    x = pairs.latents[ok].astype(np.float64)
    y = pairs.scores[ok, column]
    n_failed = int((~ok).sum())
    if len(y) < MIN_ROWS:
        raise TlganError(
            f"only {len(y)} of {len(pairs)} samples could be scored for {feature.name}; "
            f"need at least {MIN_ROWS}"
        )
    if method == "regression":
        target = regression_target(y, feature.kind)
        train, test = _split(len(y), test_fraction, seed)
        model = LinearRegression().fit(x[train], target[train])
        metric = float(r2_score(target[test], model.predict(x[test])))
        direction = _unit(model.coef_)
        return AxisFit(feature.name, feature.kind, direction, "r2", metric, len(train),
                       len(test), n_failed)
    if method == "svm":
        n_side = max(MIN_ROWS // 2, round(len(y) * svm_fraction))
        if 2 * n_side > len(y):
            raise TlganError(f"too few samples for an SVM on {feature.name}")
        order = np.argsort(y, kind="stable")
        chosen = np.concatenate([order[:n_side], order[-n_side:]])
        labels = np.concatenate([np.zeros(n_side), np.ones(n_side)])
        train, test = _split(len(chosen), test_fraction, seed)
        svm = LinearSVC(C=1.0, max_iter=10_000, random_state=seed)
        svm.fit(x[chosen][train], labels[train])
        accuracy = float((svm.predict(x[chosen][test]) == labels[test]).mean())
        direction = _unit(svm.coef_[0])
        return AxisFit(feature.name, feature.kind, direction, "accuracy", accuracy,
                       len(train), len(test), n_failed)
    raise TlganError(f"unknown fitting method {method!r}; choose regression or svm")


def sefa_directions(weight: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k unit eigenvectors of A^T A (rows) and their eigenvalues, A = (out, d)."""
    a = np.asarray(weight, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=0, keepdims=True), 1e-12)
    eigenvalues, eigenvectors = np.linalg.eigh(a.T @ a)
    top = np.argsort(eigenvalues)[::-1][:k]
    directions = eigenvectors[:, top].T
    # eigh's sign is arbitrary: fix it so the largest component is positive, for stable files.
    signs = np.sign(directions[np.arange(len(top)), np.abs(directions).argmax(axis=1)])
    return directions * signs[:, None], eigenvalues[top]


def latent_spread(latents: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Standard deviation of the sampled latents along each direction."""
    return (np.asarray(latents, dtype=np.float64) @ np.asarray(directions, np.float64).T).std(0)


def cosine_matrix(directions: np.ndarray) -> np.ndarray:
    d = np.asarray(directions, dtype=np.float64)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    return d @ d.T


@dataclass
class FitResult:
    fits: list[AxisFit]
    sefa_eigenvalues: np.ndarray
    n_samples: int
    n_unscored: int  # samples at least one extractor could not score


def fit_axes(pairs: Pairs, features: tuple[Feature, ...], sefa_weight: np.ndarray | None,
             method: FitMethod = "regression", seed: int = 0, sefa_k: int = 5,
             svm_fraction: float = 0.02, info: dict | None = None) -> tuple[FeatureAxes, FitResult]:
    """One axis per feature, plus `sefa_k` SeFa directions, as a FeatureAxes.

    BLAS runs on one thread here: threaded sums round differently with the
    thread count, and the same pairs must give the same file bytes on any
    machine and under torchrun (whose ranks get one thread each).
    """
    with threadpool_limits(limits=1):
        return _fit_axes(pairs, features, sefa_weight, method, seed, sefa_k, svm_fraction,
                         info)


def _fit_axes(pairs: Pairs, features: tuple[Feature, ...], sefa_weight: np.ndarray | None,
              method: FitMethod, seed: int, sefa_k: int, svm_fraction: float,
              info: dict | None) -> tuple[FeatureAxes, FitResult]:
    fits = [fit_axis(pairs, i, f, method, seed, svm_fraction=svm_fraction)
            for i, f in enumerate(features)]
    directions = [fit.direction for fit in fits]
    names = [fit.name for fit in fits]
    kinds = [fit.kind for fit in fits]
    eigenvalues = np.zeros(0)
    if sefa_weight is not None and sefa_k > 0:
        sefa, eigenvalues = sefa_directions(sefa_weight, sefa_k)
        directions.extend(sefa)
        names.extend(f"Direction {i + 1}" for i in range(len(sefa)))
        kinds.extend("direction" for _ in range(len(sefa)))
    stacked = np.stack(directions)
    sigmas = latent_spread(pairs.latents, stacked)
    metrics = {fit.name: {fit.metric_name: round(fit.metric, 4), "train": fit.n_train,
                          "test": fit.n_test, "unscored": fit.n_failed} for fit in fits}
    full_info = dict(info or {}, method=method, samples=len(pairs), seed=seed, metrics=metrics,
                     sefa_eigenvalues=[round(float(v), 4) for v in eigenvalues])
    axes = FeatureAxes(names, kinds, stacked, sigmas, full_info)
    result = FitResult(fits, eigenvalues, len(pairs), int((~pairs.valid_rows()).sum()))
    return axes, result
