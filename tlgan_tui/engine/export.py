"""Writing faces to disk: PNG snapshots with metadata, sweep grids, GIFs.

A snapshot PNG carries a `tlgan` text chunk (JSON) with the generator id,
the axes id, the edit state (start latent, offsets, locks) and the edited
latent, so `tlgan render --from FILE` reproduces it pixel for pixel and
`tlgan --from FILE` reopens it for editing.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from tlgan_tui import __version__
from tlgan_tui.engine import bounded_json
from tlgan_tui.engine.atomic_write import write_atomic
from tlgan_tui.engine.edit_state import EditState, check_layers, decode_latent, encode_latent
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.base import GeneratorInfo
from tlgan_tui.engine.input_files import check_input_file
from tlgan_tui.engine.text import clean_text

METADATA_KEY = "tlgan"
METADATA_VERSION = 1
MAX_SIZE = 4096


@dataclass
class Snapshot:
    """What a snapshot PNG says about the face in it."""

    generator: dict[str, Any]
    axes: dict[str, Any]
    features: list[str]
    state: dict[str, Any]  # EditState.to_dict()
    latent: np.ndarray  # the edited latent that made the pixels: (d,) or (layers, d)
    size: int
    raw: dict[str, Any]  # the whole metadata, as stored

    def edit_state(self, n_features: int) -> EditState:
        try:
            return EditState.from_dict(self.state, self.latent.shape[-1], n_features)
        except (KeyError, ValueError, TypeError) as error:
            raise TlganError(f"snapshot holds a malformed edit state ({error})") from None


def snapshot_metadata(generator: GeneratorInfo, axes_ident: str, axes_sha256: str,
                      features: Sequence[str], state: EditState, latent: np.ndarray,
                      size: int) -> dict[str, Any]:
    return {
        "version": METADATA_VERSION,
        "software": f"tlgan-tui {__version__}",
        "generator": {"ident": generator.ident, "name": generator.name,
                      "sha256": generator.sha256, "latent_space": generator.latent_space},
        "axes": {"ident": axes_ident, "sha256": axes_sha256},
        "features": list(features),
        "state": state.to_dict(),
        "latent": encode_latent(latent),
        "size": size,
    }


def _png_info(metadata: dict[str, Any]) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", str(metadata.get("software", f"tlgan-tui {__version__}")))
    if "state" in metadata:
        offsets = metadata["state"].get("offsets", [])
        features = metadata.get("features", [])
        moved = ", ".join(f"{n}={o:+.2f}" for n, o in zip(features, offsets, strict=False) if o)
        description = f"tlgan face, seed {metadata['state'].get('seed')}; {moved or 'no edits'}"
    else:
        description = str(metadata.get("description", "tlgan image"))
    info.add_text("Description", description)
    info.add_text(METADATA_KEY, json.dumps(metadata))
    return info


def atomic_write_png(image: Image.Image, path: Path, metadata: dict[str, Any] | None = None,
                     overwrite: bool = True) -> Path:
    """Write a PNG atomically (see `atomic_write`: non-regular targets are refused).

    With overwrite=False an existing file is never replaced (raises FileExistsError).
    """
    pnginfo = _png_info(metadata) if metadata is not None else None
    return write_atomic(Path(path),
                        lambda handle: image.save(handle, format="PNG", pnginfo=pnginfo),
                        overwrite=overwrite)


def write_new_png(image: Image.Image, directory: Path, stem: str,
                  metadata: dict[str, Any] | None = None) -> Path:
    """Write `stem.png` (or `stem-2.png`, ...) in `directory`, never replacing a file."""
    for n in range(1, 100_000):
        candidate = Path(directory) / (f"{stem}.png" if n == 1 else f"{stem}-{n}.png")
        if candidate.exists():
            continue
        try:
            return atomic_write_png(image, candidate, metadata, overwrite=False)
        except FileExistsError:
            continue
    raise TlganError(f"no free file name for {stem}.png in {directory}")


def read_snapshot(path: Path) -> Snapshot:
    path = Path(path)
    check_input_file(path, "snapshot")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                text = image.text.get(METADATA_KEY)  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as error:
        raise TlganError(f"{path}: not a readable PNG ({short(error)})") from None
    if not text:
        raise TlganError(f"{path}: has no tlgan metadata (was it written by tlgan?)")
    try:
        meta = bounded_json.loads(text)
        if not isinstance(meta, dict):
            raise TypeError(f"the metadata is a JSON {type(meta).__name__}, not an object")
        if "state" not in meta:
            kind = clean_text(meta.get("kind", "image"))
            raise TlganError(f"{path}: is a tlgan {kind}, not a single face")
        features = meta["features"]
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise TypeError("features must be a list of names")
        if not isinstance(meta["state"], dict):
            raise TypeError("state must be an object")
        size = meta["size"]
        if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= MAX_SIZE:
            raise ValueError(f"size {str(size)[:20]} is not a whole number in 8..{MAX_SIZE}")
        latent = decode_latent(meta["latent"], layers=check_layers(meta["state"].get("layers")))
        return Snapshot(generator=_record(meta["generator"]), axes=_record(meta["axes"]),
                        features=[clean_text(f) for f in features], state=dict(meta["state"]),
                        latent=latent, size=size, raw=meta)
    except (KeyError, ValueError, TypeError) as error:
        raise TlganError(f"{path}: malformed tlgan metadata ({short(error)})") from None


def _record(value: Any) -> dict[str, Any]:
    """The generator/axes record of a snapshot: a map whose values are text."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TypeError("generator and axes must be objects of text")
    return {str(k): clean_text(v, 200) for k, v in value.items()}


def short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def resize_face(image: Image.Image, size: int | None) -> Image.Image:
    if size is None or size == image.width:
        return image
    resample = Image.LANCZOS if size < image.width else Image.BICUBIC
    return image.resize((size, size), resample)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def labelled_grid(rows: Sequence[Sequence[Image.Image]], row_labels: Sequence[str],
                  col_labels: Sequence[str], title: str = "", cell: int = 128) -> Image.Image:
    """A grid of faces with a label per row and per column (the latent-editing figure)."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    font_size = max(10, cell // 9)
    font = _font(font_size)
    left = int(font_size * 6)
    top = int(font_size * (3.2 if title else 1.8))
    pad = 4
    width = left + n_cols * (cell + pad) + pad
    height = top + n_rows * (cell + pad) + pad
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad, pad), title, fill=(0, 0, 0), font=font)
    for c, label in enumerate(col_labels):
        x = left + c * (cell + pad) + cell // 2
        draw.text((x, top - pad), label, fill=(0, 0, 0), font=font, anchor="md")
    for r, (row, label) in enumerate(zip(rows, row_labels, strict=True)):
        y = top + r * (cell + pad)
        draw.text((pad, y + cell // 2), label, fill=(0, 0, 0), font=font, anchor="lm")
        for c, face in enumerate(row):
            canvas.paste(resize_face(face.convert("RGB"), cell), (left + c * (cell + pad), y))
    return canvas


def write_gif(frames: Sequence[Image.Image], path: Path, frame_ms: int = 250,
              comment: str = "") -> Path:
    """An animated GIF (looping), written atomically."""
    if not frames:
        raise TlganError("no frames to write")
    first, *rest = [f.convert("RGB") for f in frames]
    return write_atomic(
        Path(path),
        lambda handle: first.save(handle, format="GIF", save_all=True, append_images=rest,
                                  duration=frame_ms, loop=0, comment=comment.encode()[:255]),
        overwrite=False)
