"""Glue between a generator, the teaching maths and the knob file."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tlgan_tui.engine.directions import ganspace_directions
from tlgan_tui.engine.fitting import latent_spread
from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.knobs import Knob, knob_meta
from tlgan_tui.engine.teaching import (
    PRIOR_DIMS,
    PRIOR_WEIGHT,
    KnobFit,
    SampleFn,
    fit_knob,
    prior_matrix,
)

SIGMA_SAMPLES = 2000
SIGMA_SEED = 1


def generator_prior(generator: Generator, dims: int = PRIOR_DIMS) -> np.ndarray:
    """The teaching prior of this generator: its top principal directions weighted fully."""
    return prior_matrix(ganspace_directions(generator, dims), generator.latent_dim)


def sampler(generator: Generator) -> SampleFn:
    """Seeds -> the latents of those faces (what `latent_for_seed` gives, batched)."""

    def sample(seeds: np.ndarray) -> np.ndarray:
        return np.stack([generator.latent_for_seed(int(s)) for s in seeds]).astype(np.float32)

    return sample


def spread(generator: Generator, direction: np.ndarray) -> float:
    latents = generator.sample(SIGMA_SAMPLES, SIGMA_SEED)
    return float(latent_spread(latents, np.asarray(direction)[None])[0])


def knob_from_fit(name: str, fit: KnobFit, latents: np.ndarray, labels: Sequence[int],
                  sigma: float, source: str = "answers") -> Knob:
    return Knob(name, fit.direction, sigma, np.asarray(latents, np.float32),
                np.asarray(labels, np.int8),
                knob_meta(source, fit.cv_accuracy, fit.n_yes, fit.n_no,
                          prior_dims=PRIOR_DIMS, prior_weight=PRIOR_WEIGHT))


def refit(knob: Knob, generator: Generator, prior: np.ndarray) -> tuple[Knob, KnobFit]:
    """The knob fitted again from its own answers (TlganError if too few)."""
    fit = fit_knob(knob.latents, knob.labels, prior)
    return knob_from_fit(knob.name, fit, knob.latents, knob.labels,
                         spread(generator, fit.direction),
                         str(knob.meta.get("source", "answers"))), fit
