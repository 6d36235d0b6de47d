"""Reading CelebA from disk: the two list files, the image folder, a Dataset.

Layout (REFERENCE.md §4)::

    DIR/list_attr_celeba.txt      line 1: count; line 2: 40 names; then
                                  `000001.jpg -1  1 ...` (41 fields a row)
    DIR/list_eval_partition.txt   `000001.jpg 0` (0 train, 1 val, 2 test)
    DIR/img_align_celeba/*.jpg    178x218 aligned faces

`read_celeba` checks all of it before any training starts and raises a
`TlganError` naming the first problem: a missing file, a malformed row (with
its line number), counts that disagree, a listed image that is missing or
empty. Image *contents* are only decoded during training: an image that turns
out to be unreadable then (a truncated JPEG, a file deleted mid-run) is
skipped and counted, and the count is reported.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.celeba import CELEBA_ATTRIBUTES

ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IMAGE_DIR = "img_align_celeba"
SPLITS = {"train": 0, "val": 1, "test": 2}
HEADER_PROBES = 256  # images whose JPEG header is opened during validation


@dataclass(frozen=True)
class CelebaIndex:
    """The validated contents of a CelebA directory."""

    root: Path
    files: tuple[str, ...]  # image file names, in the attribute file's order
    labels: np.ndarray  # (N, 40) uint8 0/1, columns in CELEBA_ATTRIBUTES order
    partition: np.ndarray  # (N,) int8: 0 train, 1 val, 2 test

    @property
    def image_dir(self) -> Path:
        return self.root / IMAGE_DIR

    def split(self, name: str) -> np.ndarray:
        """Row indices of one official split ("train", "val", "test")."""
        return np.flatnonzero(self.partition == SPLITS[name])


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        hint = ""
        if path.with_suffix(".csv").is_file():
            hint = (f"; found {path.with_suffix('.csv').name} (a CSV re-packaging): this "
                    "command reads CelebA's original .txt lists")
        raise TlganError(f"{path}: missing (expected CelebA's {path.name} here){hint}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TlganError(f"{path}: not a text file") from None
    return text.splitlines()


def _read_attributes(path: Path) -> tuple[list[str], np.ndarray]:
    lines = _read_lines(path)
    if len(lines) < 2:
        raise TlganError(f"{path}: too short (needs a count line and a names line)")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise TlganError(f"{path} line 1: expected the image count, found {lines[0][:40]!r}") \
            from None
    names = lines[1].split()
    if len(names) != len(CELEBA_ATTRIBUTES):
        raise TlganError(f"{path} line 2: expected {len(CELEBA_ATTRIBUTES)} attribute names, "
                         f"found {len(names)}")
    unknown = [n for n in names if n not in CELEBA_ATTRIBUTES]
    if unknown or len(set(names)) != len(names):
        what = f"unknown attribute {unknown[0]!r}" if unknown else "a repeated attribute name"
        raise TlganError(f"{path} line 2: {what}; expected CelebA's 40 attribute names")
    # Columns are stored in CELEBA_ATTRIBUTES order whatever the file's order.
    order = [names.index(n) for n in CELEBA_ATTRIBUTES]
    files: list[str] = []
    rows: list[list[int]] = []
    expected_fields = len(CELEBA_ATTRIBUTES) + 1
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue  # a blank line (often the last one)
        if len(fields) != expected_fields:
            raise TlganError(f"{path} line {number}: expected {expected_fields} fields "
                             f"(a file name and 40 labels), found {len(fields)}")
        try:
            values = [int(v) for v in fields[1:]]
        except ValueError:
            raise TlganError(f"{path} line {number}: labels must be -1 or 1") from None
        if any(v not in (-1, 1) for v in values):
            raise TlganError(f"{path} line {number}: labels must be -1 or 1")
        files.append(fields[0])
        rows.append([values[i] for i in order])
    if len(files) != count:
        raise TlganError(f"{path}: line 1 announces {count} images but {len(files)} rows follow")
    if count == 0:
        raise TlganError(f"{path}: lists no images")
    seen: set[str] = set()
    for number, name in enumerate(files, start=3):
        if name in seen:
            raise TlganError(f"{path}: image {name} is listed twice (row {number - 2})")
        seen.add(name)
    labels = (np.asarray(rows, dtype=np.int8) > 0).astype(np.uint8)
    return files, labels


def _read_partition(path: Path, files: Sequence[str]) -> np.ndarray:
    lines = _read_lines(path)
    position = {name: i for i, name in enumerate(files)}
    partition = np.full(len(files), -1, dtype=np.int8)
    listed = 0
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise TlganError(f"{path} line {number}: expected `FILE 0|1|2`, found {line[:60]!r}")
        i = position.get(fields[0])
        if i is None:
            raise TlganError(f"{path} line {number}: {fields[0]} is not in {ATTR_FILE}")
        if partition[i] >= 0:
            raise TlganError(f"{path} line {number}: {fields[0]} is listed twice")
        partition[i] = int(fields[1])
        listed += 1
    if listed != len(files):
        first = files[int(np.flatnonzero(partition < 0)[0])]
        raise TlganError(f"{path}: lists {listed} images but {ATTR_FILE} lists {len(files)} "
                         f"(first missing: {first})")
    for name in ("train", "test"):
        if not (partition == SPLITS[name]).any():
            raise TlganError(f"{path}: the {name} split is empty")
    return partition


def _check_images(image_dir: Path, files: Sequence[str]) -> None:
    if not image_dir.is_dir():
        raise TlganError(f"{image_dir}: missing (expected CelebA's {IMAGE_DIR}/ folder here)")
    sizes: dict[str, int] = {}
    with os.scandir(image_dir) as entries:
        for entry in entries:
            try:
                sizes[entry.name] = entry.stat().st_size if entry.is_file() else -1
            except OSError:
                sizes[entry.name] = -1
    missing = [f for f in files if f not in sizes]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise TlganError(f"{image_dir / missing[0]}: listed in {ATTR_FILE} but missing{more}")
    empty = [f for f in files if sizes[f] <= 0]
    if empty:
        more = f" and {len(empty) - 1} more" if len(empty) > 1 else ""
        raise TlganError(f"{image_dir / empty[0]}: empty or not a regular file{more}")
    # Open a spread of image headers: a folder of the wrong files is caught here, before
    # training; a single damaged image is caught (skipped and counted) when it is decoded.
    step = max(1, len(files) // HEADER_PROBES)
    for name in files[::step][:HEADER_PROBES]:
        try:
            with Image.open(image_dir / name) as image:
                image.size  # noqa: B018 - reading the header is the check
        except Image.UnidentifiedImageError:
            raise TlganError(f"{image_dir / name}: not a readable image (unknown format)") \
                from None
        except (OSError, SyntaxError, ValueError) as error:
            raise TlganError(f"{image_dir / name}: not a readable image ({error})") from None


def read_celeba(root: Path, check_images: bool = True) -> CelebaIndex:
    """Parse and validate a CelebA directory; a TlganError names the first problem."""
    root = Path(root)
    if not root.is_dir():
        raise TlganError(f"{root}: not a directory (pass the folder that holds "
                         f"{ATTR_FILE}, {PARTITION_FILE} and {IMAGE_DIR}/)")
    files, labels = _read_attributes(root / ATTR_FILE)
    partition = _read_partition(root / PARTITION_FILE, files)
    if check_images:
        _check_images(root / IMAGE_DIR, files)
    return CelebaIndex(root, tuple(files), labels, partition)


# --------------------------------------------------------------------------- images


def decode_image(path: Path, size: int) -> Image.Image:
    """Read and fully decode one image as RGB (JPEGs at a reduced scale when `size`
    allows). Raises OSError (missing, truncated, not an image) or ValueError."""
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft("RGB", (size, size))
        return image.convert("RGB")  # convert() decodes: a truncated file fails here


def crop_face(image: Image.Image, size: int, rng: random.Random | None = None) -> np.ndarray:
    """The central square of an aligned portrait (the face, as generators frame it),
    resized to uint8 (size, size, 3). With `rng`, the square is jittered slightly in
    scale and position (training augmentation), always inside the picture."""
    width, height = image.size
    side = float(min(width, height))
    crop = side * rng.uniform(0.88, 1.0) if rng is not None else side
    left, top = (width - crop) / 2, (height - crop) / 2
    if rng is not None:
        left = min(max(0.0, left + rng.uniform(-0.05, 0.05) * side), width - crop)
        top = min(max(0.0, top + rng.uniform(-0.05, 0.05) * side), height - crop)
    face = image.resize((size, size), Image.Resampling.BILINEAR,
                        box=(left, top, left + crop, top + crop), reducing_gap=2.0)
    return np.asarray(face, dtype=np.uint8)


def load_face(path: Path, size: int, rng: random.Random | None = None) -> np.ndarray:
    """`decode_image` then `crop_face`."""
    return crop_face(decode_image(path, size), size, rng)


class CelebaImages(Dataset):
    """Items: (image uint8 (3, S, S), labels float32 (40,), row index, error message).

    An image that cannot be read gives a zero image and a non-empty error message
    instead of raising, so one bad file does not stop a long run: the training
    loop drops those items and counts them.
    """

    def __init__(self, index: CelebaIndex, rows: np.ndarray, size: int,
                 augment: bool = False, seed: int = 0) -> None:
        self.index = index
        self.rows = np.asarray(rows, dtype=np.int64)
        self.size = size
        self.augment = augment
        self.seed = seed
        self.epoch = 0  # set before each epoch: augmentation depends on (seed, epoch, row)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, int, str]:
        row = int(self.rows[item])
        path = self.index.image_dir / self.index.files[row]
        rng = random.Random(f"{self.seed}:{self.epoch}:{row}") if self.augment else None
        labels = torch.from_numpy(self.index.labels[row].astype(np.float32))
        try:
            decoded = decode_image(path, self.size)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            if isinstance(error, FileNotFoundError):
                reason = "missing"
            elif isinstance(error, Image.UnidentifiedImageError):
                reason = "not a recognised image format"
            blank = torch.zeros((3, self.size, self.size), dtype=torch.uint8)
            return blank, labels, row, f"{self.index.files[row]}: {reason}"
        face = crop_face(decoded, self.size, rng)
        image = torch.from_numpy(np.ascontiguousarray(face.transpose(2, 0, 1)))
        return image, labels, row, ""
