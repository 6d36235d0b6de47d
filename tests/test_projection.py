"""Edit your own photo: reading, face finding, alignment, inversion, `tlgan project`.

The real photo is textual-image's gracehopper.jpg (US Navy photograph of
Grace Hopper, public domain), read from where the dependency installed it.
Inversion runs on the 64-px DCGAN with a few steps (2 shared CPU cores).
"""

from __future__ import annotations

import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
import textual_image
from PIL import Image

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.photo import read_photo

PHOTO = Path(textual_image.__file__).parent / "gracehopper.jpg"
needs_photo = pytest.mark.skipif(not PHOTO.is_file(), reason="textual-image's photo is absent")


@pytest.fixture(scope="module")
def finder():  # type: ignore[no-untyped-def]
    from tlgan_tui.engine.projection import face_finder

    return face_finder()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return read_photo(PHOTO)


def _png_with_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR claims width x height, with a few bytes of real data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = b"IDAT" + zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
                     + struct.pack(">I", zlib.crc32(chunk)) + struct.pack(">I", len(data) - 4)
                     + data + struct.pack(">I", zlib.crc32(data))
                     + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))
    return path


# -- reading photos -----------------------------------------------------------------
@needs_photo
def test_reads_a_real_photo_as_rgb(photo: np.ndarray) -> None:
    assert photo.dtype == np.uint8 and photo.shape == (606, 517, 3)


def test_bad_files_are_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a picture\n")
    cases = {
        tmp_path / "missing.jpg": "not found",
        tmp_path: "is a directory",
        tmp_path / "notes.txt": "not an image",
    }
    for path, words in cases.items():
        with pytest.raises(TlganError, match=words) as info:
            read_photo(path)
        assert "\n" not in str(info.value)


@needs_photo
def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    data = PHOTO.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TlganError, match="truncated or corrupt"):
        read_photo(cut)


def test_huge_image_is_refused_from_its_header_before_decoding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFile

    def no_decoding(self: object) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    huge = _png_with_header(tmp_path / "huge.png", 30_000, 30_000)
    with pytest.raises(TlganError, match=r"too large to decode|decompression bomb"):
        read_photo(huge)


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    # 49 megapixels of one colour: a few kB on disk, 147 MB once decoded.
    bomb = tmp_path / "bomb.png"
    Image.new("1", (7000, 7000)).save(bomb)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(TlganError, match="too large to decode"):
        read_photo(bomb)


# -- finding the face -----------------------------------------------------------------
def test_no_face_in_a_flat_picture(finder) -> None:  # type: ignore[no-untyped-def]
    grey = np.full((300, 400, 3), 128, dtype=np.uint8)
    with pytest.raises(TlganError, match="no face found"):
        finder.largest_face(grey)


@needs_photo
def test_largest_of_several_faces_is_used_and_said(finder, photo: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    big = Image.fromarray(photo)
    small = big.resize((big.width // 2, big.height // 2), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (big.width + small.width + 40, big.height), (200, 200, 200))
    canvas.paste(small, (0, 100))
    canvas.paste(big, (small.width + 40, 0))
    face, note = finder.largest_face(np.asarray(canvas))
    assert "2 faces" in note and "largest" in note
    assert face.box[0] > small.width  # the big one, on the right


@needs_photo
def test_tiny_face_is_refused(finder, photo: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    # The whole photo at 80 px wide: the detector finds a face about 35 px across.
    small = Image.fromarray(photo).resize((80, 94), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (128, 128), (128, 128, 128))
    canvas.paste(small, (24, 0))
    with pytest.raises(TlganError, match=r"too small|no face found") as info:
        finder.largest_face(np.asarray(canvas))
    # The detector does find it; the size rule is what refuses it.
    assert "too small" in str(info.value)


# -- alignment --------------------------------------------------------------------------
@needs_photo
def test_ffhq_alignment_undoes_a_rotation(finder, photo: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    from tlgan_tui.engine.alignment import KeyPoints, align_ffhq, apply_matrix, ffhq_matrix
    from tlgan_tui.engine.projection import psnr

    upright, _ = finder.largest_face(photo)
    rotated_img = np.asarray(Image.fromarray(photo).rotate(20, Image.Resampling.BICUBIC,
                                                           expand=True, fillcolor=(90, 90, 90)))
    rotated, _ = finder.largest_face(rotated_img)
    a = align_ffhq(photo, upright.landmarks, 128)
    b = align_ffhq(rotated_img, rotated.landmarks, 128)
    assert a.shape == b.shape == (128, 128, 3)
    # The same crop of the same face, whatever the head's roll in the photo:
    # eyes and mouth land on the same pixels (within 3% of the side), eyes level,
    # where FFHQ puts them (eyes 1/4 of the side apart, at 0.4 of the height).
    points = [KeyPoints.from_landmarks(apply_matrix(ffhq_matrix(face.landmarks, 128),
                                                    face.landmarks)).array()
              for face in (upright, rotated)]
    assert np.abs(points[0] - points[1]).max() < 0.03 * 128
    for p in points:
        assert abs(p[0, 1] - p[1, 1]) < 0.02 * 128
        assert 0.2 * 128 < p[1, 0] - p[0, 0] < 0.3 * 128
        assert 0.3 * 128 < p[0, 1] < 0.5 * 128
    assert psnr(a, b) > 15  # the same picture, not just the same key points


def test_similarity_transform_recovers_a_known_one() -> None:
    from tlgan_tui.engine.alignment import similarity_transform

    src = np.array([[10.0, 20.0], [50.0, 22.0], [31.0, 60.0]])
    angle, scale, shift = np.radians(17), 1.7, np.array([5.0, -3.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    m = similarity_transform(src, src @ rot.T + shift)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


# -- inversion ----------------------------------------------------------------------------
def test_round_trip_on_a_generated_face_improves_and_is_reproducible(generator) -> None:  # type: ignore[no-untyped-def]
    from tlgan_tui.engine.inversion import InversionSettings, invert
    from tlgan_tui.engine.projection import psnr, render_at

    target = generator.synthesize(generator.latent_for_seed(3)[None])[0]
    settings = InversionSettings(steps=40, size=64, identity_weight=0.0, patience=40)
    start = InversionSettings(steps=1, size=64, identity_weight=0.0)
    before = invert(generator, target, start)
    after = invert(generator, target, settings)
    assert after.steps_run == 40
    gain = psnr(target, render_at(generator, after.latent, 64)) - psnr(
        target, render_at(generator, before.latent, 64))
    assert gain > 2.0
    again = invert(generator, target, settings)
    np.testing.assert_array_equal(again.latent, after.latent)


def test_cancel_stops_the_inversion(generator) -> None:  # type: ignore[no-untyped-def]
    from tlgan_tui.engine.inversion import InversionCancelled, InversionSettings, invert

    target = generator.synthesize(generator.latent_for_seed(1)[None])[0]
    cancel = threading.Event()
    seen: list[int] = []

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        seen.append(p.step)
        if p.step == 3:
            cancel.set()

    with pytest.raises(InversionCancelled):
        invert(generator, target, InversionSettings(steps=50, size=64, identity_weight=0.0),
               progress=progress, cancel=cancel)
    assert seen == [1, 2, 3]


def test_ffhq_preview_path_is_differentiable() -> None:
    import torch

    from tlgan_tui.engine.generators.loading import load_generator
    from tlgan_tui.engine.inversion import render_for_grad
    from tlgan_tui.engine.paths import shipped_generator

    ffhq = shipped_generator("ffhq")
    assert ffhq is not None
    generator = load_generator(ffhq.weights_path, torch.device("cpu"))
    w = torch.from_numpy(generator.w_avg[None]).requires_grad_(True)
    image = render_for_grad(generator, w, 128)
    assert image.shape == (1, 3, 128, 128)
    image.square().mean().backward()
    assert w.grad is not None and float(w.grad.abs().sum()) > 0
    # The preview it optimises is the preview it renders.
    rendered = generator.synthesize(generator.w_avg[None], size=128)[0].astype(float)
    mine = ((image.detach().clamp(-1, 1) + 1) * 127.5).round()[0].permute(1, 2, 0).numpy()
    assert np.abs(rendered - mine).max() <= 1


# -- the command ----------------------------------------------------------------------------
@needs_photo
def test_project_writes_a_snapshot_that_reopens_and_rerenders_exactly(
        run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tlgan_tui.engine.export import read_snapshot

    out = tmp_path / "me.png"
    code, stdout, err = run_cli("project", PHOTO, "--generator", "digiface", "--steps", "4",
                                "-o", out)
    assert code == 0, err
    assert "found 1 face" in err and "PSNR" in stdout
    compare = Image.open(tmp_path / "me-compare.png")
    assert compare.size == (64 + 4 + 64, 64)
    snapshot = read_snapshot(out)
    assert snapshot.raw["projection"]["photo"] == "gracehopper.jpg"
    assert snapshot.size == 64 and snapshot.state["seed"] is None
    code, _, err = run_cli("render", "--from", out, "-o", tmp_path / "again.png")
    assert code == 0, err
    np.testing.assert_array_equal(np.asarray(Image.open(out)),
                                  np.asarray(Image.open(tmp_path / "again.png")))
    # `tlgan --from` opens that face.
    from tlgan_tui.app.renderers import resolve_renderer
    from tlgan_tui.cli import build_parser
    from tlgan_tui.cli.edit import build_config

    args = build_parser().parse_args(["edit", "--from", str(out), "--session",
                                      str(tmp_path / "s.json"), "--renderer", "halfcell"])
    config = build_config(args, resolve_renderer("halfcell"))
    np.testing.assert_array_equal(config.history.current.start, snapshot.latent)
    # An existing output is not replaced without --force.
    code, stdout, err = run_cli("project", PHOTO, "--generator", "digiface", "--steps", "1",
                                "-o", out)
    assert code == 2 and "--force" in err and err.count("\n") == 1


def test_project_bad_inputs_exit_2_with_one_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "text.jpg").write_text("hello")
    Image.new("RGB", (300, 300), (120, 120, 120)).save(tmp_path / "grey.png")
    cases = [
        ((tmp_path / "nope.jpg",), "not found"),
        ((tmp_path,), "directory"),
        ((tmp_path / "text.jpg",), "not an image"),
        ((tmp_path / "grey.png",), "no face found"),
        ((_png_with_header(tmp_path / "huge.png", 30_000, 30_000),), "too large"),
        ((tmp_path / "grey.png", "--steps", "0"), "--steps"),
    ]
    for extra, words in cases:
        code, _, err = run_cli("project", *extra, "--generator", "digiface",
                               "-o", tmp_path / "o.png")
        assert code == 2, (extra, err)
        assert words in err and err.count("\n") == 1, (extra, err)
    assert not (tmp_path / "o.png").exists()
