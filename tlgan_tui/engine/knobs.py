"""Taught knobs and their file: directions with the answers that made them.

File format: safetensors with tensors `directions` (k, d) float32, `sigmas`
(k,) float32 and, when any knob has answers, `answer_latents` (n, d) float32,
`answer_labels` (n,) int8 (1 = yes, 0 = no) and `answer_knobs` (n,) int32
(which knob each answer belongs to); `__metadata__` = {"format":
"tlgan-knobs", "version": "1", "info": <JSON with the generator (sha256,
name, ident, latent_dim) and per knob: name, source, cv_accuracy, counts>}.

The same format is the user's store (one file per generator in the user data
directory, loaded by every command), what `tlgan teach -o` writes and what
`tlgan knobs export/import` exchange.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from tlgan_tui.engine.axes import FeatureAxes
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.generators.base import GeneratorInfo
from tlgan_tui.engine.safetensors_header import read_safetensors

FORMAT = "tlgan-knobs"
VERSION = "1"
DATA_DIR_ENV = "TLGAN_DATA_DIR"
TAUGHT = "taught"  # the FeatureAxes kind of a taught knob
MAX_NAME = 40


def data_dir() -> Path:
    """The user data directory ($TLGAN_DATA_DIR, else platformdirs')."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path("tlgan-tui", appauthor=False)


def store_path(generator: GeneratorInfo) -> Path:
    """The user's knob file for this generator."""
    return data_dir() / "knobs" / f"{generator.sha256[:16]}.safetensors"


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ch in name for ch in "=,\n\t"):
        raise TlganError(f"bad knob name {name!r}: 1-{MAX_NAME} characters, no '=', ',' "
                         "or line breaks")
    return name


@dataclass
class Knob:
    name: str
    direction: np.ndarray  # (d,) unit
    sigma: float
    latents: np.ndarray  # (n, d) the faces answered about (n may be 0)
    labels: np.ndarray  # (n,) 1 yes / 0 no
    meta: dict[str, Any] = field(default_factory=dict)  # source, cv_accuracy, ...

    @property
    def counts(self) -> tuple[int, int]:
        return int((self.labels == 1).sum()), int((self.labels == 0).sum())

    @property
    def fitted(self) -> bool:
        """False for answers kept before there were enough of each kind to fit."""
        return bool(np.linalg.norm(self.direction) > 0)


def generator_record(info: GeneratorInfo) -> dict[str, Any]:
    return {"sha256": info.sha256, "name": info.name, "ident": info.ident,
            "latent_dim": info.latent_dim}


@dataclass
class KnobFile:
    generator: dict[str, Any]
    knobs: list[Knob] = field(default_factory=list)

    @classmethod
    def empty(cls, info: GeneratorInfo) -> KnobFile:
        return cls(generator_record(info))

    # -- lookups and changes (each refuses what would lose or clash) -------------
    def find(self, name: str) -> int | None:
        for i, knob in enumerate(self.knobs):
            if knob.name.lower() == name.strip().lower():
                return i
        return None

    def get(self, name: str) -> Knob:
        index = self.find(name)
        if index is None:
            known = ", ".join(k.name for k in self.knobs) or "none"
            raise TlganError(f"no taught knob named {name!r} (knobs: {known})")
        return self.knobs[index]

    def add(self, knob: Knob, taken: Iterable[str] = (), replace_same: bool = False) -> None:
        name = check_name(knob.name)
        if name.lower() in {t.lower() for t in taken}:
            raise TlganError(f"a feature named {name!r} already exists; choose another name")
        index = self.find(name)
        if index is not None and not replace_same:
            raise TlganError(f"a knob named {self.knobs[index].name!r} already exists; "
                             "choose another name or rename that one first")
        knob = replace(knob, name=name)
        if index is None:
            self.knobs.append(knob)
        else:
            self.knobs[index] = knob

    def rename(self, old: str, new: str, taken: Iterable[str] = ()) -> None:
        knob = self.get(old)
        new = check_name(new)
        clash = self.find(new)
        if (clash is not None and self.knobs[clash] is not knob) or new.lower() in {
                t.lower() for t in taken}:
            raise TlganError(f"a knob named {new!r} already exists; choose another name")
        knob.name = new

    def delete(self, name: str) -> Knob:
        knob = self.get(name)
        self.knobs.remove(knob)
        return knob

    def check_generator(self, info: GeneratorInfo, source: str) -> None:
        sha = self.generator.get("sha256")
        if sha and sha != info.sha256:
            raise TlganError(
                f"{source} holds knobs for generator {self.generator.get('name', '?')} "
                f"({self.generator.get('ident', sha[:16])}), not for {info.name} ({info.ident})")
        if int(self.generator.get("latent_dim", info.latent_dim)) != info.latent_dim:
            raise TlganError(f"{source}: its knobs do not fit this generator's latent")

    # -- as feature axes ------------------------------------------------------------
    def extend_axes(self, axes: FeatureAxes, source: str = "knobs") -> FeatureAxes:
        """`axes` with these knobs appended (kind "taught"); a clashing name is refused.

        Knobs with answers but no fit yet (fewer than 10 of a kind) are left out."""
        fitted = [k for k in self.knobs if k.fitted]
        if not fitted:
            return axes
        names = {n.lower() for n in axes.names}
        for knob in fitted:
            if knob.name.lower() in names:
                raise TlganError(f"{source}: knob {knob.name!r} has the name of a feature "
                                 "already loaded; rename it with `tlgan knobs rename`")
            names.add(knob.name.lower())
        info = dict(axes.info, knobs=sorted(set(axes.info.get("knobs", [])) | {source}))
        merged = FeatureAxes(
            [*axes.names, *(k.name for k in fitted)],
            [*axes.kinds, *(TAUGHT for _ in fitted)],
            np.vstack([axes.directions, np.stack([k.direction for k in fitted])]),
            np.concatenate([axes.sigmas, [k.sigma for k in fitted]]),
            info, axes.sha256)
        return merged

    # -- the file ---------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write atomically: a crash never leaves a half-written knob file."""
        path = Path(path)
        dim = int(self.generator["latent_dim"])
        tensors: dict[str, torch.Tensor] = {
            "directions": torch.from_numpy(np.stack(
                [k.direction for k in self.knobs]).astype(np.float32)
                if self.knobs else np.zeros((0, dim), np.float32)),
            "sigmas": torch.tensor([k.sigma for k in self.knobs], dtype=torch.float32),
        }
        answered = [(i, k) for i, k in enumerate(self.knobs) if len(k.labels)]
        if answered:
            tensors["answer_latents"] = torch.from_numpy(np.concatenate(
                [k.latents for _, k in answered]).astype(np.float32))
            tensors["answer_labels"] = torch.from_numpy(np.concatenate(
                [k.labels for _, k in answered]).astype(np.int8))
            tensors["answer_knobs"] = torch.from_numpy(np.concatenate(
                [np.full(len(k.labels), i, np.int32) for i, k in answered]))
        info = {"generator": self.generator,
                "knobs": [dict(k.meta, name=k.name) for k in self.knobs]}
        metadata = {"format": FORMAT, "version": VERSION, "info": json.dumps(info)}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=metadata)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path) -> KnobFile:
        path = Path(path)
        if not path.is_file():
            raise TlganError(f"knobs file not found: {path}")
        metadata, tensors = read_safetensors(path, "knobs file")
        if metadata.get("format") != FORMAT:
            raise TlganError(f"{path}: not a tlgan knobs file (format "
                             f"{metadata.get('format')!r})")
        try:
            info = json.loads(metadata["info"])
            generator = dict(info["generator"])
            entries = [dict(e) for e in info["knobs"]]
            directions = tensors["directions"].numpy()
            sigmas = tensors["sigmas"].numpy()
            k, dim = len(entries), int(generator["latent_dim"])
            if directions.shape != (k, dim) or sigmas.shape != (k,):
                raise ValueError("shapes do not match the knob list")
            latents = tensors.get("answer_latents", torch.zeros(0, dim)).numpy()
            labels = tensors.get("answer_labels", torch.zeros(0, dtype=torch.int8)).numpy()
            owners = tensors.get("answer_knobs", torch.zeros(0, dtype=torch.int32)).numpy()
            if (latents.shape != (len(labels), dim) or owners.shape != labels.shape
                    or not np.isin(labels, (0, 1)).all()
                    or (len(owners) and not 0 <= owners.min() <= owners.max() < k)):
                raise ValueError("answers do not match the knob list")
            if not (np.isfinite(directions).all() and np.isfinite(sigmas).all()
                    and np.isfinite(latents).all()):
                raise ValueError("non-finite values")
            knobs = []
            for i, entry in enumerate(entries):
                name = check_name(str(entry.pop("name")))
                mine = owners == i
                knobs.append(Knob(name, directions[i].astype(np.float64), float(sigmas[i]),
                                  latents[mine], labels[mine].astype(np.int8), entry))
        except (KeyError, ValueError, TypeError, TlganError) as error:
            raise TlganError(f"{path}: malformed knobs file ({error})") from None
        return cls(generator, knobs)


def load_store(info: GeneratorInfo) -> KnobFile:
    """The user's knobs for this generator (empty when there are none yet)."""
    path = store_path(info)
    if not path.is_file():
        return KnobFile.empty(info)
    store = KnobFile.load(path)
    store.check_generator(info, str(path))
    return store


def load_knob_files(paths: Sequence[Path], info: GeneratorInfo) -> list[KnobFile]:
    files = []
    for path in paths:
        knobs = KnobFile.load(path)
        knobs.check_generator(info, str(path))
        files.append(knobs)
    return files


def knob_meta(source: str, cv_accuracy: float | None, n_yes: int, n_no: int,
              **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"source": source, "n_yes": n_yes, "n_no": n_no,
                            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if cv_accuracy is not None:
        meta["cv_accuracy"] = round(float(cv_accuracy), 4)
    return dict(meta, **extra)
