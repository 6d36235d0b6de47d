"""Third-party generator formats: each tiny checkpoint loads and matches an independent
forward pass; detection is by content; conversions are cached as safetensors."""

from __future__ import annotations

import shutil
from pathlib import Path

import generators_fixtures as fx
import numpy as np
import pytest
import torch

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators import cache, loading
from tlgan_tui.engine.generators.batching import auto_batch_size
from tlgan_tui.engine.generators.loading import load_generator, resolve_precision
from tlgan_tui.engine.generators.pggan import PGGANGenerator
from tlgan_tui.engine.generators.stylegan2 import StyleGAN2Generator
from tlgan_tui.engine.safetensors_header import safetensors_metadata

CPU = torch.device("cpu")



@pytest.fixture(scope="module")
def ada_net() -> fx.PModule:
    return fx.make_ada_generator(resolution=32, seed=3)


@pytest.fixture
def ada_file(tmp_path: Path, ada_net: fx.PModule) -> Path:
    path = tmp_path / "network-snapshot-000100.pkl"
    fx.write_ada_pickle(path, ada_net)
    return path


def _latents(generator: StyleGAN2Generator | PGGANGenerator, seed: int, n: int = 3) -> np.ndarray:
    return generator.sample(n, seed)


# --- StyleGAN2 --------------------------------------------------------------------------


def test_stylegan2_ada_pickle_matches_reference(ada_file: Path, ada_net: fx.PModule) -> None:
    gen = load_generator(ada_file, CPU)
    assert isinstance(gen, StyleGAN2Generator)
    assert gen.info.latent_space == "w" and gen.info.resolution == 32
    assert gen.info.ident.startswith("stylegan2-32:")
    assert gen.psi == pytest.approx(0.7)
    z = gen.sample_z(4, np.random.default_rng(7))
    w = gen.z_to_latent(z)
    np.testing.assert_allclose(w, fx.ref_w(ada_net, z, 0.7), atol=1e-5)
    with torch.no_grad():
        ref = fx.ref_synthesis(ada_net, torch.from_numpy(w))
        raw = gen.synthesis(torch.from_numpy(w))
        out = gen.forward(torch.from_numpy(w))
    assert ref.abs().max() > 1.0  # the clamp matters: outputs are not already in range
    torch.testing.assert_close(raw, ref, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(out, ref.clamp(-1, 1), atol=1e-4, rtol=1e-3)
    assert gen.config.conv_clamp == 256.0 and gen.config.mapping_layers == 2


def test_stylegan2_64px_and_conv_clamp_inferred(tmp_path: Path) -> None:
    net = fx.make_ada_generator(resolution=64, seed=5, conv_clamp=0.5)
    path = tmp_path / "g.pkl"
    fx.write_ada_pickle(path, net)
    gen = load_generator(path, CPU)
    assert gen.resolution == 64 and gen.config.conv_clamp == 0.5
    w = gen.sample(2, 11)
    with torch.no_grad():
        torch.testing.assert_close(gen.synthesis(torch.from_numpy(w)),
                                   fx.ref_synthesis(net, torch.from_numpy(w)),
                                   atol=1e-4, rtol=1e-3)


def test_rosinality_checkpoint_matches_reference(tmp_path: Path, ada_net: fx.PModule) -> None:
    path = tmp_path / "550000.pt"
    fx.write_rosinality_checkpoint(path, ada_net)
    gen = load_generator(path, CPU)
    assert isinstance(gen, StyleGAN2Generator) and gen.config.conv_clamp is None
    assert "rosinality" in gen.info.name
    z = gen.sample_z(3, np.random.default_rng(2))
    w = gen.z_to_latent(z)
    np.testing.assert_allclose(w, fx.ref_w(ada_net, z, 0.7), atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(gen.synthesis(torch.from_numpy(w)),
                                   fx.ref_synthesis(ada_net, torch.from_numpy(w)),
                                   atol=1e-4, rtol=1e-3)


def test_rosinality_without_latent_avg_estimates_it(tmp_path: Path,
                                                     ada_net: fx.PModule) -> None:
    path = tmp_path / "g.pt"
    fx.write_rosinality_checkpoint(path, ada_net, with_training_state=False)
    checkpoint = torch.load(path, weights_only=True)
    torch.save({"g_ema": checkpoint["g_ema"]}, path)
    gen = load_generator(path, CPU)
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((8192, 32), dtype=np.float32))
    with torch.no_grad():
        expected = fx.ref_mapping(ada_net, z).mean(0).numpy()
    np.testing.assert_allclose(gen.w_avg, expected, atol=1e-4)


def test_psi_truncates_towards_w_avg(ada_file: Path, ada_net: fx.PModule) -> None:
    gen = load_generator(ada_file, CPU, psi=1.0)
    assert gen.psi == 1.0
    z = gen.sample_z(2, np.random.default_rng(4))
    w_full = gen.z_to_latent(z)
    gen.set_psi(0.0)
    np.testing.assert_allclose(gen.z_to_latent(z), np.broadcast_to(gen.w_avg, w_full.shape),
                               atol=1e-6)
    gen.set_psi(0.5)
    np.testing.assert_allclose(gen.latent_for_seed(9), fx.ref_w(
        ada_net, gen.sample_z(1, np.random.default_rng(9)), 0.5)[0], atol=1e-5)
    for bad in (float("nan"), 5.0, -3.0):
        with pytest.raises(TlganError, match="psi"):
            gen.set_psi(bad)
    assert gen.psi == 0.5


def test_stylegan2_seed_is_deterministic_and_w_edit_space(ada_file: Path) -> None:
    gen = load_generator(ada_file, CPU)
    a = gen.latent_for_seed(42)
    b = load_generator(ada_file, CPU).latent_for_seed(42)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (gen.latent_dim,) and a.dtype == np.float32
    # An edit in W: moving w changes the image, the same w gives the same image (const noise).
    img1 = gen.synthesize(a[None])
    img2 = gen.synthesize(a[None])
    np.testing.assert_array_equal(img1, img2)
    moved = gen.synthesize((a + 2.0 * np.eye(gen.latent_dim, dtype=np.float32)[0])[None])
    assert np.abs(moved.astype(int) - img1.astype(int)).max() > 0


def test_stylegan2_sefa_weight_stacks_style_affines(ada_file: Path,
                                                    ada_net: fx.PModule) -> None:
    gen = load_generator(ada_file, CPU)
    weight = gen.sefa_weight()
    convs = [ada_net.synthesis.b4.conv1] + [
        getattr(getattr(ada_net.synthesis, f"b{r}"), c) for r in (8, 16, 32)
        for c in ("conv0", "conv1")]
    assert weight.shape == (sum(c.weight.shape[1] for c in convs), gen.latent_dim)
    first = convs[0].affine
    torch.testing.assert_close(weight[: first.weight.shape[0]],
                               (first.weight * float(first.weight_gain)).detach())


def test_half_precision_path_matches_fp32(ada_file: Path) -> None:
    """The fp16 blocks (run here on the CPU) stay close to fp32."""
    gen = load_generator(ada_file, CPU)
    w = torch.from_numpy(gen.sample(2, 1))
    with torch.no_grad():
        full = gen.synthesis(w)
        gen.synthesis.use_half_from(4)
        half = gen.synthesis(w)
    assert half.dtype == torch.float32
    assert (half - full).abs().max() < 0.05


# --- pg-GAN ---------------------------------------------------------------------------------


def test_gan_zoo_pgan_uses_avgG_and_blends_alpha(tmp_path: Path) -> None:
    avg = fx.ZooGNet(alpha=0.3, seed=1)
    net = fx.ZooGNet(alpha=0.3, seed=2)
    path = tmp_path / "celebaHQ_s6_i80000.pth"
    fx.write_gan_zoo_checkpoint(path, avg, net)
    gen = load_generator(path, CPU)
    assert isinstance(gen, PGGANGenerator)
    assert gen.info.latent_space == "z" and gen.resolution == 16
    assert gen.config.alpha == pytest.approx(0.3) and "avgG" in gen.info.name
    z = gen.sample(3, 5)
    with torch.no_grad():
        ref = avg(torch.from_numpy(z))
        other = net(torch.from_numpy(z))
        out = gen.forward(torch.from_numpy(z))
    torch.testing.assert_close(gen.net(torch.from_numpy(z)), ref, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(out, ref.clamp(-1, 1), atol=1e-4, rtol=1e-3)
    assert (other - ref).abs().max() > 0.1
    assert out.min() >= -1 and out.max() <= 1 and ref.abs().max() > 1
    assert gen.sefa_weight().shape == (16 * 16, 16)


def test_gan_zoo_depths_inferred_without_config(tmp_path: Path) -> None:
    avg = fx.ZooGNet(depth0=8, depths=(8, 4, 4), alpha=0.0, seed=4)
    path = tmp_path / "bare.pt"
    torch.save({"netG": avg.state_dict()}, path)
    gen = load_generator(path, CPU)
    assert gen.config.channels == (8, 8, 4, 4) and gen.resolution == 32
    z = gen.sample(2, 0)
    with torch.no_grad():
        torch.testing.assert_close(gen.net(torch.from_numpy(z)), avg(torch.from_numpy(z)),
                                   atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("lod", [0.0, 0.25])
def test_tf_pggan_pickle_matches_reference(tmp_path: Path, lod: float) -> None:
    variables = fx.make_tf_pggan_variables(lod=lod, seed=8)
    path = tmp_path / "karras2018iclr-celebahq-1024x1024.pkl"
    fx.write_tf_pggan_pickle(path, variables)
    gen = load_generator(path, CPU)
    assert isinstance(gen, PGGANGenerator) and "Gs" in gen.info.name
    assert gen.info.latent_space == "z" and gen.resolution == 16
    z = gen.sample(3, 2)
    with torch.no_grad():
        ref = fx.ref_tf_pggan(variables, z)
        torch.testing.assert_close(gen.net(torch.from_numpy(z)), ref, atol=1e-4, rtol=1e-3)
    # z is pixel-normalized inside: only its direction matters.
    with torch.no_grad():
        torch.testing.assert_close(gen.forward(torch.from_numpy(3 * z)),
                                   gen.forward(torch.from_numpy(z)), atol=1e-5, rtol=1e-4)
    with pytest.raises(TlganError, match="no truncation"):
        gen.set_psi(0.5)


def test_tf_pggan_not_fully_grown_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.pkl"
    fx.write_tf_pggan_pickle(path, fx.make_tf_pggan_variables(lod=1.5))
    with pytest.raises(TlganError, match="not fully grown"):
        load_generator(path, CPU)


# --- detection, cache, options ----------------------------------------------------------


def test_format_detected_from_content_not_name(tmp_path: Path, ada_file: Path) -> None:
    renamed = tmp_path / "weights.safetensors"
    shutil.copy(ada_file, renamed)
    assert isinstance(load_generator(renamed, CPU), StyleGAN2Generator)
    assert loading.detect_format(renamed) == "pickle"


def test_unknown_format_names_supported_formats(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(TlganError) as info:
        load_generator(path, CPU)
    message = str(info.value)
    assert "\n" not in message
    for fmt in ("pytorch_GAN_zoo", "pg-GAN TensorFlow", "StyleGAN2-ADA", "rosinality"):
        assert fmt in message


def test_wrong_torch_checkpoint_and_wrong_pickle(tmp_path: Path) -> None:
    path = tmp_path / "classifier.pt"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(TlganError, match="not a generator"):
        load_generator(path, CPU)
    path = tmp_path / "list.pkl"
    import pickle

    path.write_bytes(pickle.dumps([1, 2, 3], protocol=4))
    with pytest.raises(TlganError, match="not a generator"):
        load_generator(path, CPU)


def test_corrupt_files_give_one_line_errors(tmp_path: Path, ada_file: Path) -> None:
    for name, data in {
        "trunc.pkl": ada_file.read_bytes()[:5000],
        "trunc.pt": b"PK\x03\x04" + bytes(50),
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(TlganError) as info:
            load_generator(path, CPU)
        assert "\n" not in str(info.value)


def test_conversion_cached_as_safetensors_and_reused(
    ada_file: Path, cache_in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_generator(ada_file, CPU)
    files = sorted(cache_in_tmp.glob("*.safetensors"))
    assert [f.name for f in files] == [f"{first.info.sha256}.safetensors"]
    assert files[0].read_bytes()[8:9] == b"{"  # safetensors, no pickle inside
    metadata = safetensors_metadata(files[0])
    assert metadata["architecture"] == "stylegan2"
    assert metadata["source_sha256"] == first.info.sha256

    def boom(*args: object) -> None:
        raise AssertionError("converted again instead of using the cache")

    monkeypatch.setattr(loading, "_convert", boom)
    monkeypatch.setattr(loading, "restricted_load", boom)
    second = load_generator(ada_file, CPU)
    assert second.info == first.info
    w = first.sample(2, 3)
    np.testing.assert_array_equal(second.sample(2, 3), w)
    np.testing.assert_array_equal(first.synthesize(w), second.synthesize(w))
    # The cached file can be given directly and keeps the source's identity.
    direct = load_generator(files[0], CPU)
    assert direct.info.ident == first.info.ident


def test_cache_invalidated_when_source_changes(tmp_path: Path, cache_in_tmp: Path) -> None:
    path = tmp_path / "g.pkl"
    fx.write_ada_pickle(path, fx.make_ada_generator(seed=1))
    a = load_generator(path, CPU)
    fx.write_ada_pickle(path, fx.make_ada_generator(seed=2))
    b = load_generator(path, CPU)
    assert a.info.sha256 != b.info.sha256
    assert len(list(cache_in_tmp.glob("*.safetensors"))) == 2


def test_unwritable_cache_still_loads(ada_file: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / "cache"))
    assert isinstance(load_generator(ada_file, CPU), StyleGAN2Generator)


def test_precision_option() -> None:
    assert resolve_precision("auto", CPU) == torch.float32
    assert resolve_precision("fp32", torch.device("cuda")) == torch.float32
    assert resolve_precision("auto", torch.device("cuda")) == torch.float16
    with pytest.raises(TlganError, match="CUDA"):
        resolve_precision("fp16", CPU)
    with pytest.raises(TlganError, match="precision"):
        resolve_precision("int8", CPU)


def test_default_generator_still_loads_with_new_options() -> None:
    gen = load_generator(None, CPU, psi=0.5, precision="auto")
    assert gen.info.ident.startswith("dcgan64:") and gen.psi is None


def test_auto_batch_size(ada_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = load_generator(ada_file, CPU)
    assert auto_batch_size(gen) == 128
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (80 << 30, 80 << 30))
    gen.device = torch.device("cuda")
    assert auto_batch_size(gen) == 512
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (200 << 20, 80 << 30))
    small = auto_batch_size(gen)
    assert 1 <= small < 512 and small & (small - 1) == 0
    monkeypatch.setattr(gen, "activation_bytes_per_sample", lambda: 512 << 20)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (40 << 30, 80 << 30))
    assert auto_batch_size(gen) == 32


def test_second_start_skips_hashing_until_the_file_changes(
    ada_file: Path, cache_in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_generator(ada_file, CPU)

    def no_hash(path: Path) -> str:
        raise AssertionError("hashed the source again")

    monkeypatch.setattr(cache, "sha256_file", no_hash)
    assert load_generator(ada_file, CPU).info.sha256 == first.info.sha256
    monkeypatch.undo()
    monkeypatch.setenv(cache.CACHE_ENV, str(cache_in_tmp))
    fx.write_ada_pickle(ada_file, fx.make_ada_generator(seed=9))
    assert load_generator(ada_file, CPU).info.sha256 != first.info.sha256


def test_device_side_uint8_matches_base_conversion(ada_file: Path) -> None:
    from tlgan_tui.engine.generators.base import Generator

    gen = load_generator(ada_file, CPU)
    w = gen.sample(5, 3)
    np.testing.assert_array_equal(gen.synthesize(w, 2), Generator.synthesize(gen, w, 2))
