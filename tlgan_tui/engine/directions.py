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
