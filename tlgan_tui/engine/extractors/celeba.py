"""The CelebA 40-attribute extractor: TL-GAN's own feature knobs.

A small MobileNet-style CNN written for this project (depthwise-separable
blocks with residual connections, global average pooling, a 256-unit hidden
layer, 40 logits), trained with `tlgan train-extractor` on CelebA's 40 binary
attributes. The trained network is stored as a safetensors file: the weights
plus JSON metadata (attribute names, input size, normalization, architecture,
metrics); nothing in it is executed when it is loaded.

Feature names. The extractor exposes all 40 CelebA attributes as probabilities
under CelebA's own names, with two exceptions, plus three sign-flipped knobs
that TL-GAN showed its users:

- CelebA's `Male` and `Smiling` are exposed as `CelebA_Male` and
  `CelebA_Smiling`, because the default extractor already provides `Male` and
  `Smiling` and feature names must be unique.
- `Beard` = 1 - p(No_Beard) and `Skin_Tone` = 1 - p(Pale_Skin) (TL-GAN's flips).
- `Old` = 1 - p(Young): TL-GAN's `Age` knob. It is not called `Age` because the
  default extractor's `Age` (in years) already has that name; when both are
  loaded, the knob `Age` resolves to the default extractor's feature (see
  `tlgan_tui.engine.features`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.extractors.base import Extractor, Feature

CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young",
)

# CelebA attributes renamed in the feature list (collisions with the default extractor).
RENAMED: dict[str, str] = {"Male": "CelebA_Male", "Smiling": "CelebA_Smiling"}
# TL-GAN's sign-flipped knobs: feature name -> the attribute it negates.
FLIPPED: dict[str, str] = {"Beard": "No_Beard", "Skin_Tone": "Pale_Skin", "Old": "Young"}

FILE_FORMAT = "tlgan-extractor"
FILE_KIND = "celeba-attributes"
FORMAT_VERSION = 1
ARCHITECTURE = "tlgan-mobilenet-v1"

DEFAULT_MEAN = (0.5, 0.5, 0.5)
DEFAULT_STD = (0.25, 0.25, 0.25)
MIN_INPUT_SIZE = 32
MAX_INPUT_SIZE = 512
SCORE_BATCH = 128

# (output channels at width 1, stride) of each depthwise-separable block; total stride 32.
_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 2),
)
_STEM_CHANNELS = 32
HIDDEN_UNITS = 256


def feature_names() -> tuple[str, ...]:
    """The extractor's feature names, in score-column order."""
    return tuple(RENAMED.get(name, name) for name in CELEBA_ATTRIBUTES) + tuple(FLIPPED)


def _channels(base: int, width: float) -> int:
    return max(8, round(base * width / 8) * 8)


class _SeparableBlock(nn.Module):
    """Depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN (-> + input) -> ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.depthwise(x)))
        y = self.bn2(self.pointwise(y))
        if self.residual:
            y = y + x
        return F.relu(y)


class AttributeNet(nn.Module):
    """Image (N, 3, S, S), normalized -> 40 attribute logits."""

    def __init__(self, n_outputs: int = len(CELEBA_ATTRIBUTES), width: float = 1.0,
                 dropout: float = 0.2) -> None:
        super().__init__()
        stem = _channels(_STEM_CHANNELS, width)
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        cin = stem
        for base, stride in _BLOCKS:
            cout = _channels(base, width)
            blocks.append(_SeparableBlock(cin, cout, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(cin, HIDDEN_UNITS)
        self.out = nn.Linear(HIDDEN_UNITS, n_outputs)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        # Residual blocks start close to identity: their last BN scale starts at zero.
        for block in self.blocks:
            if isinstance(block, _SeparableBlock) and block.residual:
                nn.init.zeros_(block.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        x = x.mean(dim=(2, 3))
        x = F.relu(self.hidden(self.dropout(x)))
        return self.out(x)


def normalize_batch(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, S, S) on any device -> float32 normalized."""
    x = images.float().div_(255.0)
    return (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


# --------------------------------------------------------------------------- file format


def build_metadata(*, input_size: int, width: float, mean: Sequence[float], std: Sequence[float],
                   metrics: dict[str, Any] | None = None,
                   training: dict[str, Any] | None = None) -> dict[str, str]:
    """The safetensors `__metadata__` of an extractor file (a str -> str map)."""
    return {
        "format": FILE_FORMAT,
        "format_version": str(FORMAT_VERSION),
        "kind": FILE_KIND,
        "attributes": json.dumps(list(CELEBA_ATTRIBUTES)),
        "features": json.dumps(list(feature_names())),
        "input_size": str(int(input_size)),
        "normalization": json.dumps({"mean": list(map(float, mean)), "std": list(map(float, std)),
                                     "scale": "bytes / 255, then (x - mean) / std, RGB"}),
        "architecture": json.dumps({"name": ARCHITECTURE, "width": float(width),
                                    "hidden": HIDDEN_UNITS, "outputs": len(CELEBA_ATTRIBUTES)}),
        "metrics": json.dumps(metrics or {}),
        "training": json.dumps(training or {}),
    }


def _json_field(meta: dict[str, str], key: str, path: Path) -> Any:
    if key not in meta:
        raise TlganError(f"{path}: extractor metadata lacks {key!r}")
    try:
        return json.loads(meta[key])
    except json.JSONDecodeError as error:
        raise TlganError(f"{path}: extractor metadata {key!r} is not valid JSON ({error})") \
            from None


def read_metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` of a safetensors file, or a TlganError saying why not."""
    from safetensors import safe_open

    if not path.is_file():
        raise TlganError(f"{path}: no such extractor file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except Exception as error:  # safetensors raises its own error types for bad headers
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TlganError(f"{path}: not a safetensors extractor file ({reason})") from None
    return dict(meta)


class CelebaExtractor(Extractor):
    """Scores images on the 40 CelebA attributes plus TL-GAN's flipped knobs."""

    features = tuple(Feature(name, "probability") for name in feature_names())

    def __init__(self, net: AttributeNet, *, input_size: int, mean: Sequence[float],
                 std: Sequence[float], ident: str = "celeba40",
                 metrics: dict[str, Any] | None = None,
                 device: torch.device | str | None = None) -> None:
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.input_size = int(input_size)
        self.ident = ident
        self.metrics = metrics or {}
        self._mean = torch.tensor(list(mean), dtype=torch.float32, device=self.device)
        self._std = torch.tensor(list(std), dtype=torch.float32, device=self.device)
        self._flip_columns = [CELEBA_ATTRIBUTES.index(source) for source in FLIPPED.values()]

    @classmethod
    def from_file(cls, path: Path, device: torch.device | str | None = None) -> CelebaExtractor:
        """Load a trained extractor file; any problem -> a one-line TlganError."""
        from safetensors.torch import load_file

        from tlgan_tui.engine.hashing import sha256_file

        path = Path(path)
        meta = read_metadata(path)
        if meta.get("format") == "tlgan-celeba-checkpoint":
            raise TlganError(f"{path}: this is a training checkpoint, not an extractor; "
                             "pass the file written by `tlgan train-extractor -o`")
        if meta.get("format") != FILE_FORMAT or meta.get("kind") != FILE_KIND:
            raise TlganError(f"{path}: not a tlgan CelebA extractor file "
                             f"(format={meta.get('format')!r}, kind={meta.get('kind')!r})")
        if meta.get("format_version") != str(FORMAT_VERSION):
            raise TlganError(f"{path}: unsupported extractor format version "
                             f"{meta.get('format_version')!r} (this tlgan reads {FORMAT_VERSION})")
        attributes = _json_field(meta, "attributes", path)
        if attributes != list(CELEBA_ATTRIBUTES):
            raise TlganError(f"{path}: the extractor's attribute list is not "
                             "CelebA's 40 attributes")
        try:
            input_size = int(meta.get("input_size", ""))
        except ValueError:
            raise TlganError(f"{path}: extractor metadata 'input_size' is not a number") from None
        if not MIN_INPUT_SIZE <= input_size <= MAX_INPUT_SIZE:
            raise TlganError(f"{path}: input size {input_size} is outside "
                             f"{MIN_INPUT_SIZE}..{MAX_INPUT_SIZE}")
        norm = _json_field(meta, "normalization", path)
        arch = _json_field(meta, "architecture", path)
        metrics = _json_field(meta, "metrics", path) if "metrics" in meta else {}
        try:
            mean = [float(v) for v in norm["mean"]]
            std = [float(v) for v in norm["std"]]
            width = float(arch["width"])
            name = arch["name"]
        except (KeyError, TypeError, ValueError):
            raise TlganError(f"{path}: extractor normalization/architecture metadata "
                             "is malformed") from None
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise TlganError(f"{path}: normalization needs 3 means and 3 positive stds")
        if name != ARCHITECTURE or not 0.05 <= width <= 4.0:
            raise TlganError(f"{path}: unknown architecture {name!r} (width {width})")
        try:
            state = load_file(str(path))
        except Exception as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise TlganError(f"{path}: cannot read the extractor weights ({reason})") from None
        net = AttributeNet(width=width)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as error:
            first = str(error).splitlines()[0]
            raise TlganError(f"{path}: the weights do not match the architecture ({first})") \
                from None
        ident = f"celeba40-{sha256_file(path)[:12]}"
        return cls(net, input_size=input_size, mean=mean, std=std, ident=ident,
                   metrics=metrics, device=device)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """uint8 RGB (N, H, W, 3) -> float64 (N, 40) sigmoid outputs, CelebA order."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise TlganError(f"expected RGB images (N, H, W, 3), got shape {images.shape}")
        if images.dtype != np.uint8:
            raise TlganError(f"expected uint8 images, got {images.dtype}")
        out = np.empty((len(images), len(CELEBA_ATTRIBUTES)), dtype=np.float64)
        size = self.input_size
        with torch.inference_mode():
            for start in range(0, len(images), SCORE_BATCH):
                chunk = torch.from_numpy(np.ascontiguousarray(images[start:start + SCORE_BATCH]))
                x = chunk.to(self.device).permute(0, 3, 1, 2).float()
                if x.shape[-2:] != (size, size):
                    x = F.interpolate(x, size=(size, size), mode="bilinear",
                                      align_corners=False, antialias=True)
                x = (x / 255.0 - self._mean.view(1, 3, 1, 1)) / self._std.view(1, 3, 1, 1)
                logits = self.net(x)
                out[start:start + len(chunk)] = torch.sigmoid(logits).double().cpu().numpy()
        return out

    def score(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.empty((0, len(self.features)))
        probs = self.probabilities(images)
        flipped = 1.0 - probs[:, self._flip_columns]
        scores = np.hstack([probs, flipped])
        # A row that came out non-finite (it should not) is "could not score": all NaN.
        bad = ~np.isfinite(scores).all(axis=1)
        scores[bad] = np.nan
        return scores
