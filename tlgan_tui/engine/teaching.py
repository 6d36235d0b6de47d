"""Teaching a knob from yes/no answers: a class-balanced linear classifier.

One answer carries at most one bit, and a generic direction in a 100-512
dimensional latent needs far more than 60 bits, so the fit uses a prior: the
generator's top principal directions (`ganspace_directions`, 16 by default)
are weighted fully and the rest of the space at `PRIOR_WEIGHT`. It is an
anisotropic Gaussian prior on the coefficients, done by scaling the latents
with M = P + w (I - P) (P projects on the principal span) before a standard
L2-regularised logistic regression and mapping the coefficients back with M.

Active learning: next faces are drawn from a pool, most of them those nearest
the current boundary (uncertainty sampling), the rest at random (exploration,
so a wrong early boundary gets corrected).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tlgan_tui.engine.errors import TlganError

MIN_PER_CLASS = 10
GUIDE_PER_CLASS = 3  # answers of each kind before faces are chosen near the boundary
PRIOR_DIMS = 16
PRIOR_WEIGHT = 0.1
EXPLORE_FRACTION = 0.25
YES, NO = 1, 0

SampleFn = Callable[[np.ndarray], np.ndarray]  # seeds (n,) -> latents (n, d)


def prior_matrix(basis: np.ndarray | None, dim: int, weight: float = PRIOR_WEIGHT) -> np.ndarray:
    """M = P + weight (I - P), P the projection on the rows of `basis` (identity if none)."""
    if basis is None or len(basis) == 0:
        return np.eye(dim)
    q, _ = np.linalg.qr(np.asarray(basis, dtype=np.float64).T)  # orthonormal columns
    p = q @ q.T
    return p + weight * (np.eye(dim) - p)


@dataclass
class KnobFit:
    direction: np.ndarray  # (d,) unit, positive = more "yes"
    bias: float  # decision = (latent @ M) . coef + bias, in the scaled space
    coef: np.ndarray  # (d,) coefficients in the scaled space
    cv_accuracy: float  # cross-validated, class-balanced
    n_yes: int
    n_no: int


def fit_knob(latents: np.ndarray, labels: np.ndarray, prior: np.ndarray,
             c: float = 1.0, folds: int = 5, min_per_class: int = MIN_PER_CLASS) -> KnobFit:
    """Fit a direction from answers; TlganError when one kind has too few answers."""
    from threadpoolctl import threadpool_limits

    # Matrices this small gain nothing from BLAS threads, and on a busy 2-core
    # machine the threads' spinning made a refit 5x slower.
    with threadpool_limits(1):
        return _fit_knob(latents, labels, prior, c, folds, min_per_class)


def _fit_knob(latents: np.ndarray, labels: np.ndarray, prior: np.ndarray, c: float,
              folds: int, min_per_class: int) -> KnobFit:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels, dtype=np.int64)
    n_yes, n_no = int((labels == YES).sum()), int((labels == NO).sum())
    if min(n_yes, n_no) < min_per_class:
        raise TlganError(
            f"need at least {min_per_class} answers of each kind to fit a knob; have "
            f"{n_yes} yes and {n_no} no")
    scaled = np.asarray(latents, dtype=np.float64) @ prior
    # An L2-regularised linear model's weights lie in the span of its training
    # rows, so fitting on coordinates in that (<= n dimensional) span gives the
    # same solution, and 512-d fits cost what 60-d ones do.
    _, _, span = np.linalg.svd(scaled, full_matrices=False)
    x = scaled @ span.T

    def model() -> LogisticRegression:
        return LogisticRegression(C=c, class_weight="balanced", solver="liblinear")

    # A plain loop instead of cross_val_score: same folds and metric, a third of
    # the time (its validation and parallel machinery cost more than 5 small fits).
    scores: list[float] = []
    splits = StratifiedKFold(n_splits=max(2, min(folds, n_yes, n_no)), shuffle=True,
                             random_state=0)
    for train, test in (splits.split(x, labels) if folds >= 2 else ()):
        predicted = model().fit(x[train], labels[train]).predict(x[test])
        truth = labels[test]
        scores.append(np.mean([np.mean(predicted[truth == k] == k) for k in (YES, NO)]))
    fitted = model().fit(x, labels)
    coef = span.T @ fitted.coef_[0]
    direction = prior @ coef
    norm = float(np.linalg.norm(direction))
    if not np.isfinite(norm) or norm == 0:
        raise TlganError("the answers gave no direction (all coefficients zero)")
    accuracy = float(np.mean(scores)) if scores else float("nan")  # folds < 2: not measured
    return KnobFit(direction / norm, float(fitted.intercept_[0]), coef, accuracy, n_yes, n_no)


@dataclass
class Answers:
    """Latents shown and the answers given, in order (undo pops the last)."""

    latents: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)

    def add(self, latent: np.ndarray, label: int) -> None:
        self.latents.append(np.asarray(latent, dtype=np.float32))
        self.labels.append(int(label))

    def undo(self) -> tuple[np.ndarray, int] | None:
        if not self.labels:
            return None
        return self.latents.pop(), self.labels.pop()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def counts(self) -> tuple[int, int]:
        return self.labels.count(YES), self.labels.count(NO)

    def arrays(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.labels:
            return np.zeros((0, dim), np.float32), np.zeros(0, np.int8)
        return np.stack(self.latents).astype(np.float32), np.asarray(self.labels, np.int8)


class Teacher:
    """Answers + the latest fit + which faces to ask about next."""

    def __init__(self, dim: int, prior: np.ndarray, sample: SampleFn, seed: int = 0,
                 answers: Answers | None = None, pool_size: int = 512,
                 explore: float = EXPLORE_FRACTION, active: bool = True) -> None:
        self.dim = dim
        self.prior = prior
        self.sample = sample
        self.rng = np.random.default_rng(seed)
        self.answers = answers or Answers()
        self.pool_size = pool_size
        self.explore = explore
        self.active = active
        self.fit: KnobFit | None = None
        self.last_error: str | None = None

    def answer(self, latent: np.ndarray, label: int) -> KnobFit | None:
        self.answers.add(latent, label)
        return self.refit()

    def undo(self) -> tuple[np.ndarray, int] | None:
        undone = self.answers.undo()
        if undone is not None:
            self.refit()
        return undone

    def refit(self) -> KnobFit | None:
        """Refit when both kinds have enough answers; keeps the last fit otherwise."""
        n_yes, n_no = self.answers.counts
        if min(n_yes, n_no) < MIN_PER_CLASS:
            self.fit = None
            self.last_error = (f"{n_yes} yes, {n_no} no: need {MIN_PER_CLASS} of each "
                               "to fit")
            return None
        x, y = self.answers.arrays(self.dim)
        self.fit = fit_knob(x, y, self.prior)
        self.last_error = None
        return self.fit

    def _guide(self) -> KnobFit | None:
        """The fit that picks faces: the knob's, or before there is one a rough fit
        from a few answers of each kind (never shown, never saved)."""
        if not self.active:
            return None
        if self.fit is not None:
            return self.fit
        n_yes, n_no = self.answers.counts
        if min(n_yes, n_no) < GUIDE_PER_CLASS:
            return None
        x, y = self.answers.arrays(self.dim)
        try:
            return fit_knob(x, y, self.prior, folds=0, min_per_class=GUIDE_PER_CLASS)
        except TlganError:
            return None

    def next_faces(self, n: int) -> np.ndarray:
        """n latents to ask about: near the boundary once there is a fit, else random."""
        guide = self._guide()
        seeds = self.rng.integers(0, 2**31 - 1, size=max(n, self.pool_size if guide else n))
        pool = self.sample(seeds)
        if guide is None:
            return pool[:n]
        n_explore = round(n * self.explore)
        margin = np.abs((pool.astype(np.float64) @ self.prior) @ guide.coef + guide.bias)
        order = np.argsort(margin)
        near = order[: n - n_explore]
        rest = order[n - n_explore:]
        far = self.rng.choice(rest, size=n_explore, replace=False) if n_explore else rest[:0]
        chosen = np.concatenate([near, far])
        self.rng.shuffle(chosen)
        return pool[chosen]

