"""Extractor files: safetensors only, metadata checked, every bad file one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.base import ExtractorSet
from tlgan_tui.engine.extractors.celeba import (
    CELEBA_ATTRIBUTES,
    AttributeNet,
    CelebaExtractor,
    build_metadata,
    feature_names,
)
from tlgan_tui.engine.extractors.defaults import load_extractor_file, load_extractors
from tlgan_tui.engine.paths import default_generator_path


def _write(path: Path, net: AttributeNet | None = None, **changes: str) -> Path:
    net = net or AttributeNet(width=0.25)
    meta = build_metadata(input_size=32, width=0.25, mean=(0.5,) * 3, std=(0.25,) * 3,
                          metrics={"test_mean_accuracy": 0.5})
    meta.update(changes)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path), meta)
    return path


def test_a_well_formed_file_loads_and_scores(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = AttributeNet(width=0.25).eval()
    extractor = load_extractor_file(_write(tmp_path / "e.safetensors", net))
    assert isinstance(extractor, CelebaExtractor)
    assert extractor.input_size == 32 and extractor.metrics == {"test_mean_accuracy": 0.5}
    assert [f.name for f in extractor.features] == list(feature_names())
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    scores = extractor.score(images)
    # The same numbers as the network itself, sigmoid-squashed, plus the flipped knobs.
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.25
    with torch.inference_mode():
        expected = torch.sigmoid(net(x)).double().numpy()
    np.testing.assert_allclose(scores[:, :40], expected, atol=1e-5)
    young = CELEBA_ATTRIBUTES.index("Young")
    np.testing.assert_allclose(scores[:, 42], 1 - expected[:, young], atol=1e-5)
    # The ident ties axes to these exact weights; the device can be chosen.
    on_cpu = load_extractor_file(tmp_path / "e.safetensors", device="cpu")
    assert isinstance(on_cpu, CelebaExtractor) and on_cpu.device.type == "cpu"
    assert extractor.ident == on_cpu.ident


def test_names_do_not_collide_with_the_default_extractor(tmp_path: Path) -> None:
    extractors = load_extractors([_write(tmp_path / "e.safetensors")])
    assert isinstance(extractors, ExtractorSet)
    lowered = [n.lower() for n in extractors.names]
    assert len(set(lowered)) == len(lowered)
    assert extractors.index("male") == 0 and extractors.index("Age") == 1
    first = extractors.index("CelebA_Male") - CELEBA_ATTRIBUTES.index("Male")
    celeba = extractors.names[first:]
    assert celeba[CELEBA_ATTRIBUTES.index("Smiling")] == "CelebA_Smiling"
    assert extractors.index("Smiling") < extractors.index("CelebA_Male")  # the default's
    # The same file twice is refused: the features would be duplicated.
    with pytest.raises(TlganError, match="both provide"):
        load_extractors([tmp_path / "e.safetensors", tmp_path / "e.safetensors"])


@pytest.mark.parametrize("content, message", [
    (None, "no such extractor file"),
    (b"", "not a safetensors extractor file"),
    (b"\x00" * 64, "not a safetensors extractor file"),
    (b"PK\x03\x04 a zip archive, perhaps a torch.save file", "not a safetensors extractor"),
])
def test_files_that_are_not_safetensors(tmp_path: Path, content: bytes | None,
                                        message: str) -> None:
    path = tmp_path / "e.safetensors"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TlganError, match=message) as info:
        load_extractor_file(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_another_safetensors_file_such_as_a_generator(tmp_path: Path) -> None:
    with pytest.raises(TlganError, match="not a tlgan CelebA extractor file"):
        load_extractor_file(default_generator_path())
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(TlganError, match="not a tlgan CelebA extractor file"):
        load_extractor_file(path)


def test_a_training_checkpoint_is_pointed_at_the_right_file(tmp_path: Path) -> None:
    path = tmp_path / "x.checkpoint.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), {"format": "tlgan-celeba-checkpoint"})
    with pytest.raises(TlganError, match="training checkpoint, not an extractor"):
        load_extractor_file(path)


@pytest.mark.parametrize("changes, message", [
    ({"format_version": "9"}, "unsupported extractor format version '9'"),
    ({"attributes": json.dumps(list(CELEBA_ATTRIBUTES[:39]))}, "not CelebA's 40 attributes"),
    ({"attributes": "[not json"}, "'attributes' is not valid JSON"),
    ({"input_size": "huge"}, "'input_size' is not a number"),
    ({"input_size": "8"}, "input size 8 is outside 32..512"),
    ({"normalization": json.dumps({"mean": [0.5]})}, "normalization"),
    ({"normalization": json.dumps({"mean": [0.5] * 3, "std": [0, 1, 1]})}, "positive stds"),
    ({"architecture": json.dumps({"name": "resnet50", "width": 1.0})},
     "unknown architecture 'resnet50'"),
])
def test_bad_metadata(tmp_path: Path, changes: dict[str, str], message: str) -> None:
    path = _write(tmp_path / "e.safetensors", **changes)
    with pytest.raises(TlganError, match=message):
        load_extractor_file(path)


def test_weights_that_do_not_fit_the_architecture(tmp_path: Path) -> None:
    # Width 0.5 weights announced as width 0.25.
    path = _write(tmp_path / "e.safetensors", AttributeNet(width=0.5))
    with pytest.raises(TlganError, match="the weights do not match the architecture"):
        load_extractor_file(path)


def test_a_truncated_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(TlganError, match=str(path)):
        load_extractor_file(path)


def test_score_takes_any_square_size_and_rejects_wrong_input(tmp_path: Path) -> None:
    extractor = load_extractor_file(_write(tmp_path / "e.safetensors"))
    rng = np.random.default_rng(1)
    for side in (32, 64, 100, 256):
        images = rng.integers(0, 256, (2, side, side, 3), dtype=np.uint8)
        scores = extractor.score(images)
        assert scores.shape == (2, 43) and np.isfinite(scores).all()
    assert extractor.score(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0, 43)
    with pytest.raises(TlganError, match="expected uint8"):
        extractor.score(np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(TlganError, match="expected RGB"):
        extractor.score(np.zeros((1, 64, 64, 4), np.uint8))
