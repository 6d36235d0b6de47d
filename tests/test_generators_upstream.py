"""Every checkpoint loader against files the upstream code itself wrote.

`tests/fixtures/upstream/` holds small checkpoints made by the original
projects' code (NVIDIA stylegan2-ada-pytorch, pytorch_GAN_zoo, rosinality
stylegan2-pytorch, NVIDIA progressive_growing_of_gans on TensorFlow) and that
code's own output images for fixed latents; `scripts/make_upstream_fixtures.py`
wrote them and `manifest.json` names the commits. Each file goes through the
normal `load_generator` and must reproduce the upstream images: PSNR >= 40 dB on
the [-1, 1] images (peak-to-peak 2) and a small max abs error before clamping.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tlgan_tui.engine.generators.base import Generator
from tlgan_tui.engine.generators.loading import load_generator
from tlgan_tui.engine.generators.pggan import PGGANGenerator
from tlgan_tui.engine.generators.safe_pickle import torch_load_weights_only
from tlgan_tui.engine.generators.stylegan2 import StyleGAN2Generator

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
CPU = torch.device("cpu")
MIN_PSNR_DB = 40.0


def psnr_db(ours: np.ndarray, reference: np.ndarray) -> float:
    """PSNR of images in [-1, 1] (both clamped, as the app shows them); peak-to-peak 2."""
    mse = float(np.mean((np.clip(ours, -1, 1) - np.clip(reference, -1, 1)) ** 2, dtype=np.float64))
    return float("inf") if mse == 0 else 10.0 * np.log10(4.0 / mse)


def run_ours(generator: Generator, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unclamped, clamped) images from the loaded generator for prior samples z."""
    latents = torch.from_numpy(generator.z_to_latent(z.astype(np.float32)))
    with torch.inference_mode():
        if isinstance(generator, StyleGAN2Generator):
            raw = generator.synthesis(latents)
        else:
            assert isinstance(generator, PGGANGenerator)
            raw = generator.net(latents)
        return raw.float().numpy(), generator.forward(latents).numpy()


# (checkpoint, outputs file, reference array, psi, generator class, max abs error allowed)
CASES = [
    ("ada.pkl", "ada.npz", "images_fp32", 0.7, StyleGAN2Generator, 1e-4),
    ("ada-p5.pkl", "ada.npz", "images_fp32", 0.7, StyleGAN2Generator, 1e-4),
    # The snapshot's two highest resolutions are fp16 layers: NVIDIA's fp16 path differs
    # from its own fp32 path by rounding; our fp32 forward is compared with it as well.
    ("ada.pkl", "ada.npz", "images_fp16", 0.7, StyleGAN2Generator, 2e-2),
    ("zoo.pth", "zoo.npz", "images", None, PGGANGenerator, 1e-4),
    ("zoo-p5.pth", "zoo.npz", "images", None, PGGANGenerator, 1e-4),
    # train.py checkpoints hold no latent_avg: compared untruncated (psi 1)
    ("rosinality-train.pt", "rosinality.npz", "images_train", 1.0, StyleGAN2Generator, 1e-4),
    ("rosinality-train-p5.pt", "rosinality.npz", "images_train", 1.0, StyleGAN2Generator,
     1e-4),
    ("rosinality-converted.pt", "rosinality.npz", "images_converted", 0.7, StyleGAN2Generator,
     1e-4),
    ("rosinality-converted-p5.pt", "rosinality.npz", "images_converted", 0.7,
     StyleGAN2Generator, 1e-4),
    ("tf-pggan.pkl", "tf-pggan.npz", "images", None, PGGANGenerator, 1e-3),
    ("tf-pggan-p5.pkl", "tf-pggan.npz", "images", None, PGGANGenerator, 1e-3),
]


@pytest.mark.parametrize(("checkpoint", "outputs", "key", "psi", "kind", "max_abs"), CASES,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_loader_reproduces_upstream_outputs(checkpoint: str, outputs: str, key: str,
                                            psi: float | None, kind: type, max_abs: float
                                            ) -> None:
    reference = np.load(FIXTURES / outputs)
    options = {} if psi is None else {"psi": psi}
    generator = load_generator(FIXTURES / checkpoint, CPU, precision="fp32", **options)
    assert isinstance(generator, kind)
    assert generator.resolution == 32
    raw, images = run_ours(generator, reference["z"])
    expected = reference[key]
    assert raw.shape == expected.shape == (3, 3, 32, 32)
    assert np.abs(expected).max() > 1.0  # the clamp matters somewhere
    assert np.abs(raw - expected).max() <= max_abs
    assert psnr_db(images, expected) >= MIN_PSNR_DB
    if psi is not None and key != "images_train":  # the truncation upstream was run with
        assert psi == pytest.approx(float(reference["psi"]))


def test_the_averaged_networks_are_the_ones_used() -> None:
    """The fixtures perturb G/netG and G_ema/avgG/Gs differently: a loader reading the
    training network instead of the average could not reach the PSNR above. Their weights
    must really differ for that to mean something."""
    import sys

    from tlgan_tui.engine.generators.loading import flatten_persistent
    from tlgan_tui.engine.generators.safe_pickle import restricted_load

    ada = restricted_load(FIXTURES / "ada.pkl")

    g, _ = flatten_persistent(ada["G"])
    g_ema, _ = flatten_persistent(ada["G_ema"])
    assert not torch.equal(g["synthesis.b32.conv1.weight"], g_ema["synthesis.b32.conv1.weight"])
    zoo = torch_load_weights_only(FIXTURES / "zoo.pth")
    assert not torch.equal(zoo["netG"]["formatLayer.module.weight"],
                           zoo["avgG"]["formatLayer.module.weight"])
    tf = restricted_load(FIXTURES / "tf-pggan.pkl")
    names = [network.__dict__["name"] for network in tf]
    assert names == ["G", "D", "Gs"]
    g_vars, gs_vars = (dict(network.__dict__["variables"]) for network in (tf[0], tf[2]))
    assert not np.array_equal(g_vars["4x4/Dense/weight"], gs_vars["4x4/Dense/weight"])
    assert "tfutil" not in sys.modules  # nothing of the upstream code was imported


def test_fixtures_are_what_they_claim() -> None:
    """Pickle protocols and layouts as the upstream code writes them, plus the -p5 copies."""
    for name in ("ada.pkl", "tf-pggan.pkl"):
        assert (FIXTURES / name).read_bytes()[:2] == b"\x80\x04"
    for name in ("ada-p5.pkl", "tf-pggan-p5.pkl"):
        assert (FIXTURES / name).read_bytes()[:2] == b"\x80\x05"
    for name in ("zoo", "rosinality-train", "rosinality-converted"):
        for suffix, protocol in (("", 2), ("-p5", 5)):
            path = next(FIXTURES.glob(f"{name}{suffix}.p*"))
            with zipfile.ZipFile(path) as archive:
                data = next(n for n in archive.namelist() if n.endswith("data.pkl"))
                assert archive.read(data)[:2] == bytes([0x80, protocol])
    # The TF pickle was written with numpy 1.x: its protocol 5 arrays name the old module.
    assert b"numpy.core.numeric" in (FIXTURES / "tf-pggan-p5.pkl").read_bytes()
    assert b"_frombuffer" in (FIXTURES / "tf-pggan-p5.pkl").read_bytes()
    train = torch_load_weights_only(FIXTURES / "rosinality-train.pt")
    assert set(train) == {"g", "d", "g_ema", "g_optim", "d_optim", "args", "ada_aug_p"}
    assert train["g_optim"]["state"]  # a real optimizer state, after one step
    converted = torch_load_weights_only(FIXTURES / "rosinality-converted.pt")
    assert set(converted) == {"g_ema", "latent_avg"}
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    assert set(manifest) == {"ada", "zoo", "rosinality", "tf-pggan"}
    for entry in manifest.values():
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"])


def test_conversion_cache_gives_the_same_images() -> None:
    """Second load of an upstream file comes from the safetensors cache, same pixels."""
    reference = np.load(FIXTURES / "tf-pggan.npz")
    first = load_generator(FIXTURES / "tf-pggan-p5.pkl", CPU)
    second = load_generator(FIXTURES / "tf-pggan-p5.pkl", CPU)
    np.testing.assert_array_equal(run_ours(first, reference["z"])[1],
                                  run_ours(second, reference["z"])[1])
