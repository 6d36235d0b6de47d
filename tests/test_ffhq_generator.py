"""The shipped FFHQ MobileStyleGAN against OpenVINO's output of the original IR.

tests/fixtures/ffhq/references.npz was recorded once with
`scripts/convert_ffhq_generator.py WHEEL --record-references tests/fixtures/ffhq`
(openvino, f32): for seeds 0-7 at psi 0.7, the mapping output w, the
truncated latent fed to the synthesis IR, four 128-px crops of the 1024-px
image at full resolution (hair, both eyes, mouth) and the whole image
box-downscaled to 128 px. Only this file is needed here, not openvino.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.generators.loading import load_generator
from tlgan_tui.engine.paths import shipped_generator

REFERENCES = Path(__file__).parent / "fixtures" / "ffhq" / "references.npz"


@pytest.fixture(scope="module")
def ffhq() -> Generator:
    shipped = shipped_generator("ffhq")
    assert shipped is not None
    return load_generator(shipped.weights_path, torch.device("cpu"), psi=0.7)


@pytest.fixture(scope="module")
def references() -> dict[str, np.ndarray]:
    with np.load(REFERENCES) as data:
        return {key: data[key] for key in data.files}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_mapping_matches_openvino(ffhq: Generator, references: dict[str, np.ndarray]) -> None:
    for seed, expected in zip(references["seeds"], references["w"], strict=True):
        z = ffhq.sample_z(1, np.random.default_rng(int(seed)))
        w = ffhq.map_z(z)[0]  # type: ignore[attr-defined]
        assert np.abs(w - expected).max() < 1e-4
    # The seed -> latent path the app and CLI use gives the latents the IR was fed.
    assert np.abs(ffhq.latent_for_seed(3) - references["latents"][3]).max() < 1e-4


def _check_image(ffhq: Generator, references: dict[str, np.ndarray], index: int) -> None:
    image = ffhq.synthesize(references["latents"][index][None])[0]
    assert image.shape == (1024, 1024, 3)
    crops = np.stack([image[top:top + 128, left:left + 128]
                      for top, left in references["crop_origins"]])
    assert psnr(crops, references["crops"][index]) >= 40.0
    thumb = image.reshape(128, 8, 128, 8, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(thumb - references["thumbs"][index]).max() <= 2.0


def test_image_matches_openvino_at_1024(ffhq: Generator,
                                        references: dict[str, np.ndarray]) -> None:
    _check_image(ffhq, references, 0)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(1, 8))
def test_every_reference_seed_matches_openvino(ffhq: Generator,
                                               references: dict[str, np.ndarray],
                                               index: int) -> None:
    _check_image(ffhq, references, index)


def test_same_seed_same_pixels(ffhq: Generator) -> None:
    latent = ffhq.latent_for_seed(42)
    first = ffhq.synthesize(latent[None])
    again = load_generator(shipped_generator("ffhq").weights_path,  # type: ignore[union-attr]
                           torch.device("cpu")).synthesize(ffhq.latent_for_seed(42)[None])
    assert np.array_equal(first, again)


def test_previews_are_the_same_face_smaller(ffhq: Generator) -> None:
    assert ffhq.preview_sizes == (128, 256, 512, 1024)
    latents = np.stack([ffhq.latent_for_seed(7), ffhq.latent_for_seed(8)])
    full = ffhq.synthesize(latents).astype(np.float64)
    small = full.reshape(2, 256, 4, 256, 4, 3).mean(axis=(2, 4))
    preview = ffhq.synthesize(latents, size=256)
    assert preview.shape == (2, 256, 256, 3)
    for index in range(2):
        assert psnr(preview[index], small[index]) > 20.0
        # No visible colour jump (measured: the 256-px preview is 0.5-6 levels darker).
        assert np.abs(preview[index].mean(axis=(0, 1)) - small[index].mean(axis=(0, 1))).max() < 8
    # Another face is much further away than the preview is from its own face.
    assert psnr(preview[0], small[1]) < psnr(preview[0], small[0]) - 5


def test_unavailable_preview_size_is_an_error(ffhq: Generator) -> None:
    from tlgan_tui.engine.errors import TlganError

    with pytest.raises(TlganError, match="128, 256, 512, 1024"):
        ffhq.synthesize(ffhq.latent_for_seed(0)[None], size=300)


def test_fp16_on_cpu_is_a_one_line_error(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from tlgan_tui.cli import main

    code = main(["render", "--generator", "ffhq", "--device", "cpu", "--precision", "fp16",
                 "--seed", "1", "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and "CUDA" in err and err.count("\n") == 1
