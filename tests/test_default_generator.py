"""The embedded DCGAN-64: loads from the shipped file, deterministic per seed,
and matches an independent functional forward pass of the same weights."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from tlgan_tui.engine.generators.base import Generator, to_uint8
from tlgan_tui.engine.paths import default_generator_path


def functional_dcgan(weights: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    x = z.reshape(len(z), -1, 1, 1)
    for conv, bn, stride, padding in ((0, 1, 1, 0), (3, 4, 2, 1), (6, 7, 2, 1), (9, 10, 2, 1)):
        x = F.conv_transpose2d(x, weights[f"main.{conv}.weight"], stride=stride,
                               padding=padding)
        x = F.batch_norm(x, weights[f"main.{bn}.running_mean"],
                         weights[f"main.{bn}.running_var"], weights[f"main.{bn}.weight"],
                         weights[f"main.{bn}.bias"], training=False, eps=1e-5)
        x = F.relu(x)
    return torch.tanh(F.conv_transpose2d(x, weights["main.12.weight"], stride=2, padding=1))


def test_generator_describes_itself(generator: Generator) -> None:
    info = generator.info
    assert (info.latent_dim, info.latent_space, info.resolution) == (100, "z", 64)
    assert info.ident.startswith("dcgan64:") and len(info.sha256) == 64
    assert generator.psi is None


def test_same_seed_same_face_other_seed_other_face(generator: Generator) -> None:
    a = generator.synthesize(generator.latent_for_seed(7)[None])
    b = generator.synthesize(generator.latent_for_seed(7)[None])
    c = generator.synthesize(generator.latent_for_seed(8)[None])
    assert a.shape == (1, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 10


def test_seed_latent_is_standard_normal(generator: Generator) -> None:
    z = generator.sample(4000, 5)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert np.array_equal(generator.latent_for_seed(5), generator.sample(1, 5)[0])


def test_output_matches_an_independent_forward_pass(generator: Generator) -> None:
    weights = load_file(str(default_generator_path()))
    z = generator.sample(6, 42)
    expected = to_uint8(functional_dcgan(weights, torch.from_numpy(z)))
    got = generator.synthesize(z)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_batch_size_does_not_change_pixels(generator: Generator) -> None:
    z = generator.sample(10, 3)
    assert np.abs(generator.synthesize(z, batch_size=3).astype(int)
                  - generator.synthesize(z, batch_size=10).astype(int)).max() <= 1


def test_faces_have_varied_content(faces: np.ndarray) -> None:
    # Not a blank or collapsed generator: images differ and use the colour range.
    assert faces.std(axis=0).mean() > 20
    assert faces.min() < 30 and faces.max() > 220
