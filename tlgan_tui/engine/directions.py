"""Unlabelled directions: PCA of sampled latents (GANSpace, Härkönen et al. 2020).

For a w-space generator the principal components of sampled w are the
directions (GANSpace on StyleGAN). For a z-space generator z ~ N(0, I) is
isotropic, so PCA of z finds nothing; as GANSpace does for BigGAN, PCA runs on
the first layer's outputs A z and each component is mapped back to z by
linear regression of its coordinate on z (done in closed form, see below).
Unlike SeFa, A's columns are not normalized.
"""

from __future__ import annotations

import numpy as np

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.fitting import latent_spread
from tlgan_tui.engine.generators.base import Generator

PCA_SAMPLES = 10_000
PCA_SEED = 0


def pca_directions(samples: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k principal unit directions (k, d) of `samples` (n, d) and their variances."""
    from sklearn.decomposition import PCA

    x = np.asarray(samples, dtype=np.float64)
    k = min(k, x.shape[1], len(x))
    pca = PCA(n_components=k, svd_solver="full").fit(x)
    return _fix_signs(pca.components_), pca.explained_variance_


def _fix_signs(directions: np.ndarray) -> np.ndarray:
    """PCA's sign is arbitrary: make the largest component positive, for stable files."""
    rows = np.arange(len(directions))
    signs = np.sign(directions[rows, np.abs(directions).argmax(axis=1)])
    return directions * signs[:, None]


def ganspace_directions(generator: Generator, k: int, n: int = PCA_SAMPLES,
                        seed: int = PCA_SEED) -> np.ndarray:
    """Top-k GANSpace directions (k, latent_dim), unit rows, in the edit space."""
    if generator.info.latent_space != "z":
        return pca_directions(generator.sample(n, seed), k)[0]
    # z ~ N(0, I): the activations' covariance is A A^T, so their principal
    # components regressed back on z are A's top right singular vectors (exact,
    # no sampling of thousands-wide activations needed).
    weight = generator.sefa_weight().detach().float().cpu().numpy().astype(np.float64)
    _, _, vt = np.linalg.svd(weight, full_matrices=False)
    return _fix_signs(vt[: min(k, len(vt))])


GANSPACE = "pca"  # the FeatureAxes kind of a GANSpace direction
DUPLICATE_COSINE = 0.999


def with_ganspace(axes: FeatureAxes, generator: Generator, k: int) -> FeatureAxes:
    """`axes` plus k GANSpace directions named "PCA 1..k" (kind "pca").

    A direction the user already renamed into a knob (it is among the axes)
    is not shown twice.
    """
    if k <= 0:
        return axes
    directions = ganspace_directions(generator, k)
    existing = np.asarray(axes.directions, dtype=np.float64)
    keep = [i for i, d in enumerate(directions)
            if not len(existing) or np.abs(existing @ d).max() < DUPLICATE_COSINE]
    if not keep:
        return axes
    names = [f"PCA {i + 1}" for i in keep]
    taken = {n.lower() for n in axes.names}
    names = [n if n.lower() not in taken else f"{n} (GANSpace)" for n in names]
    sigmas = latent_spread(generator.sample(2000, 1), directions[keep])
    return FeatureAxes([*axes.names, *names], [*axes.kinds, *([GANSPACE] * len(keep))],
                       np.vstack([axes.directions, directions[keep]]),
                       np.concatenate([axes.sigmas, sigmas]), dict(axes.info), axes.sha256)
