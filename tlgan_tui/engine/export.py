"""Writing faces to disk: PNG snapshots with metadata, sweep grids, GIFs.

A snapshot PNG carries a `tlgan` text chunk (JSON) with the generator id,
the axes id, the edit state (start latent, offsets, locks) and the edited
latent, so `tlgan render --from FILE` reproduces it pixel for pixel and
`tlgan --from FILE` reopens it for editing.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from tlgan_tui import __version__
from tlgan_tui.engine.edit_state import EditState, decode_latent, encode_latent
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.base import GeneratorInfo

METADATA_KEY = "tlgan"
METADATA_VERSION = 1


@dataclass
class Snapshot:
    """What a snapshot PNG says about the face in it."""

    generator: dict[str, Any]
    axes: dict[str, Any]
    features: list[str]
    state: dict[str, Any]  # EditState.to_dict()
    latent: np.ndarray  # the edited latent that made the pixels
    size: int
    raw: dict[str, Any]  # the whole metadata, as stored

    def edit_state(self, n_features: int) -> EditState:
        try:
            return EditState.from_dict(self.state, len(self.latent), n_features)
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
    """Write a PNG via a temporary file in the same directory.

    With overwrite=False an existing file is never replaced (raises FileExistsError).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, format="PNG",
                       pnginfo=_png_info(metadata) if metadata is not None else None)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the name is taken: never overwrites
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


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
    if not path.is_file():
        raise TlganError(f"snapshot not found: {path}")
    try:
        with Image.open(path) as image:
            text = image.text.get(METADATA_KEY)  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError, SyntaxError) as error:
        raise TlganError(f"{path}: not a readable PNG ({error})") from None
    if not text:
        raise TlganError(f"{path}: has no tlgan metadata (was it written by tlgan?)")
    try:
        meta = json.loads(text)
        if "state" not in meta:
            raise TlganError(f"{path}: is a tlgan {meta.get('kind', 'image')}, not a single face")
        latent = decode_latent(meta["latent"])
        return Snapshot(generator=dict(meta["generator"]), axes=dict(meta["axes"]),
                        features=[str(f) for f in meta["features"]], state=dict(meta["state"]),
                        latent=latent, size=int(meta["size"]), raw=meta)
    except (KeyError, ValueError, TypeError) as error:
        raise TlganError(f"{path}: malformed tlgan metadata ({error})") from None


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".gif.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            first, *rest = [f.convert("RGB") for f in frames]
            first.save(handle, format="GIF", save_all=True, append_images=rest,
                       duration=frame_ms, loop=0, comment=comment.encode()[:255])
        os.chmod(tmp, 0o644)
        os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path

