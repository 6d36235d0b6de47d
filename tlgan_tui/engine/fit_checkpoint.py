"""Resumable sampling for `tlgan fit`: the pairs scored so far, saved as it goes.

A long fit (10,000 FFHQ faces take ~9 minutes on a CPU) that is interrupted
keeps its finished batches in a safetensors file beside the output. Running
the same command again picks up after the last saved batch; because latents
come from the seed's stream in fixed batches, the resumed result is the same
pairs, and so the same axes, as a run that was never interrupted.

The file records what the run was (generator, extractors, seed, count, batch
size, render size, part); a file from another run is refused, never mixed in.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from tlgan_tui.engine.atomic_write import write_bytes_atomic
from tlgan_tui.engine.errors import TlganError
from tlgan_tui.engine.safetensors_header import safetensors_bytes, safetensors_metadata

FORMAT = "tlgan-fit-checkpoint/1"
SAVE_EVERY_S = 20.0  # a save costs a few ms; more often only wastes disk writes


def checkpoint_path(output: Path, part: int = 0, parts: int = 1) -> Path:
    """Where `tlgan fit -o OUTPUT` keeps its unfinished samples (one file per rank)."""
    suffix = f".part{part}of{parts}" if parts > 1 else ""
    return output.with_name(f"{output.name}.partial{suffix}.safetensors")


@dataclass
class Progress:
    """Pairs finished so far: the first `done` rows of this part's arrays."""

    latents: np.ndarray
    scores: np.ndarray
    done: int


@dataclass
class FitCheckpoint:
    """Load, save and remove the partial sampling of one fit run."""

    path: Path
    run: dict[str, str | int | None]  # what makes two runs the same run
    _last_save: float = field(default=0.0, init=False)

    def saved_count(self) -> int:
        """Pairs an earlier run of this fit saved (0 when none). Refuses another run's file."""
        return 0 if not self.path.exists() else self._read_metadata()

    def _read_metadata(self) -> int:
        name = self.path
        if not self.path.is_file():
            raise TlganError(f"{name} is not a regular file; move it away to start the fit over")
        try:
            metadata = safetensors_metadata(self.path)
            if metadata.get("format") != FORMAT:
                raise ValueError("not a tlgan fit checkpoint")
            saved_run = json.loads(metadata["run"])
            done = int(metadata["done"])
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
            raise TlganError(f"{name} is not a readable fit checkpoint ({error}); delete it "
                             "or pass --restart") from None
        if saved_run != self.run:
            changed = sorted(k for k in set(saved_run) | set(self.run)
                             if saved_run.get(k) != self.run.get(k))
            raise TlganError(f"{name} belongs to another fit (it differs in "
                             f"{', '.join(changed)}); run that command again to resume it, "
                             "or pass --restart to start this one over")
        return done

    def load(self, latent_dim: int, n_features: int, owned: int) -> Progress | None:
        """The saved progress, or None when there is none. Refuses another run's file."""
        if not self.path.exists():
            return None
        done = self._read_metadata()
        try:
            tensors = load_file(str(self.path))
            latents, scores = tensors["latents"], tensors["scores"]
        except (OSError, KeyError, SafetensorError) as error:
            raise TlganError(f"{self.path} is not a readable fit checkpoint ({error}); delete "
                             "it or pass --restart") from None
        if (latents.shape != (done, latent_dim) or scores.shape != (done, n_features)
                or not 0 <= done <= owned):
            raise TlganError(f"{self.path} is damaged (its arrays do not match its {done} "
                             "samples); delete it or pass --restart")
        full_latents = np.empty((owned, latent_dim), dtype=np.float32)
        full_scores = np.empty((owned, n_features), dtype=np.float64)
        full_latents[:done] = latents
        full_scores[:done] = scores
        return Progress(full_latents, full_scores, done)

    def save(self, progress: Progress, force: bool = False) -> bool:
        """Write the first `done` pairs, at most every SAVE_EVERY_S unless forced."""
        now = time.monotonic()
        if not force and now - self._last_save < SAVE_EVERY_S:
            return False
        metadata = {"format": FORMAT, "run": json.dumps(self.run, sort_keys=True),
                    "done": str(progress.done)}
        tensors = {"latents": np.ascontiguousarray(progress.latents[:progress.done]),
                   "scores": np.ascontiguousarray(progress.scores[:progress.done])}
        write_bytes_atomic(self.path, safetensors_bytes(tensors, metadata))
        self._last_save = now
        return True

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
