"""An editing session: undo history and the session file that survives a crash.

The app saves the whole session (generator and axes it was made with, the
step size, the selected feature, and the undo history) after every change,
so `tlgan --resume` brings back exactly what was on screen after a crash or a
dropped SSH connection.

File format (JSON, written atomically: temp file in the same directory, fsync,
rename):

    {"format": "tlgan-session", "version": 1,
     "generator": {"path": str | null, "sha256": str, "ident": str, "name": str},
     "axes": {"path": str | null, "sha256": str, "ident": str, "names": [str, ...]},
     "step": float, "selected": int,
     "latents": [base64 float32, ...],          # each distinct latent once
     "history": [EditState.to_dict() with "start"/"base" as indices into latents],
     "index": int}                               # the current state in history

Latents are stored once and referenced, so a long history of small moves on
one face stays small (offsets only).

This module must not import Textual: the engine is usable without the UI.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tlgan_tui.engine import bounded_json
from tlgan_tui.engine.atomic_write import write_bytes_atomic
from tlgan_tui.engine.edit_state import (
    EditState,
    check_index,
    check_layers,
    check_offset,
    decode_latent,
)
from tlgan_tui.engine.errors import TlganError

FORMAT = "tlgan-session"
VERSION = 1
SESSION_FILE = "session.json"
MAX_HISTORY = 1000


# EditStates are immutable, so each is serialized once, not on every save.
_ENCODED: weakref.WeakKeyDictionary[EditState, dict[str, Any]] = weakref.WeakKeyDictionary()
_ENCODED_LOCK = threading.Lock()


def _encoded(state: EditState) -> dict[str, Any]:
    with _ENCODED_LOCK:
        entry = _ENCODED.get(state)
        if entry is None:
            entry = _ENCODED[state] = state.to_dict()
    return dict(entry)


class CorruptSessionError(TlganError):
    """The session file exists but cannot be read back."""


def default_session_path() -> Path:
    """The session file in the user's state directory (platformdirs)."""
    from platformdirs import user_state_path

    return user_state_path("tlgan-tui", appauthor=False) / SESSION_FILE


# -- undo history ---------------------------------------------------------------


class History:
    """A linear undo/redo history of immutable edit states.

    `push` drops everything after the current state (the redo branch), like
    every editor. At most `limit` states are kept; the oldest go first.
    """

    def __init__(self, states: Sequence[EditState], index: int | None = None,
                 limit: int = MAX_HISTORY) -> None:
        if not states:
            raise ValueError("a history needs at least one state")
        self._states: list[EditState] = list(states)
        self._index = len(self._states) - 1 if index is None else index
        if not 0 <= self._index < len(self._states):
            raise ValueError(f"history index {self._index} out of range")
        self.limit = max(2, limit)

    @property
    def current(self) -> EditState:
        return self._states[self._index]

    @property
    def index(self) -> int:
        return self._index

    @property
    def states(self) -> tuple[EditState, ...]:
        return tuple(self._states)

    def __len__(self) -> int:
        return len(self._states)

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._states) - 1

    def push(self, state: EditState) -> bool:
        """Make `state` current; False (and nothing recorded) when it changes nothing."""
        if state.same_as(self.current):
            return False
        del self._states[self._index + 1 :]
        self._states.append(state)
        overflow = len(self._states) - self.limit
        if overflow > 0:
            del self._states[:overflow]
        self._index = len(self._states) - 1
        return True

    def replace_current(self, state: EditState) -> None:
        """Put `state` in the current state's place: a refinement of the same step
        (the measured lock's correction), not a new undo step."""
        self._states[self._index] = state

    def undo(self) -> bool:
        if not self.can_undo:
            return False
        self._index -= 1
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        self._index += 1
        return True

    def copy(self) -> History:
        """An independent history with the same (immutable) states."""
        return History(self._states, self._index, self.limit)

    def up_to_current(self) -> tuple[EditState, ...]:
        """The states from the oldest kept one to the current one (the GIF's frames)."""
        return tuple(self._states[: self._index + 1])


# -- the session file -------------------------------------------------------------


@dataclass
class Session:
    """Everything `--resume` needs to put the same face and history back on screen."""

    history: History
    generator: dict[str, Any]  # path (None = embedded default), sha256, ident, name
    axes: dict[str, Any]  # path (None = default / in memory), sha256, ident, names
    step: float = 0.4
    selected: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        latents: list[str] = []
        positions: dict[str, int] = {}

        def ref(text: str | None) -> int | None:
            if text is None:
                return None
            if text not in positions:
                positions[text] = len(latents)
                latents.append(text)
            return positions[text]

        history = []
        for state in self.history.states:
            entry = _encoded(state)
            entry["start"] = ref(entry["start"])
            entry["base"] = ref(entry["base"])
            history.append(entry)
        document = {
            "format": FORMAT,
            "version": VERSION,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "generator": self.generator,
            "axes": self.axes,
            "step": self.step,
            "selected": self.selected,
            "extra": self.extra,
            "latents": latents,
            "history": history,
            "index": self.history.index,
        }
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "session") -> Session:
        """Parse a session file's text; CorruptSessionError says what is wrong."""
        try:
            document = bounded_json.loads(text)
        except bounded_json.JsonError as error:
            raise CorruptSessionError(f"{source}: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CorruptSessionError(f"{source}: not a tlgan session file")
        if document.get("version") != VERSION:
            raise CorruptSessionError(
                f"{source}: session format version {document.get('version')!r} "
                f"is not {VERSION}")
        try:
            latents = _list_of(document["latents"], str, "latents")
            generator = _object(document["generator"], "generator")
            axes = _object(document["axes"], "axes")
            names = _list_of(axes["names"], str, "axes.names")
            states = []
            for entry in _list_of(document["history"], dict, "history"):
                entry = dict(entry)
                entry["start"] = latents[check_index(entry["start"], len(latents), "latent")]
                if entry.get("base") is not None:
                    entry["base"] = latents[check_index(entry["base"], len(latents), "latent")]
                states.append(entry)
            if not states:
                raise ValueError("empty history")
            if len(states) > MAX_HISTORY:
                raise ValueError(f"{len(states)} states in the history (at most {MAX_HISTORY})")
            # Every latent has the first state's dimension.
            dim = decode_latent(states[0]["start"],
                                layers=check_layers(states[0].get("layers"))).shape[-1]
            index = check_index(document["index"], len(states), "history index")
            history = History([EditState.from_dict(s, dim, len(names)) for s in states], index)
            step = check_offset(document["step"], "step")
            if not step > 0:
                raise ValueError(f"bad step {step}")
            selected = check_index(document.get("selected", 0), max(len(names), 1),
                                   "selected row")
            return cls(history=history, generator=generator, axes=axes, step=step,
                       selected=selected, extra=_object(document.get("extra") or {}, "extra"))
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as error:
            raise CorruptSessionError(f"{source}: malformed session ({error})") from None


def _list_of(value: Any, kind: type, what: str) -> list[Any]:
    if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
        raise TypeError(f"{what} must be a list of {kind.__name__}")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be an object")
    for key in ("path", "sha256", "ident", "name"):
        if not isinstance(value.get(key), str | None):
            raise TypeError(f"{what}.{key} must be text")
    return dict(value)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so a reader (or a crash) only ever sees a whole file."""
    write_bytes_atomic(path, text.encode("utf-8"), mode=0o600)


def save_session(session: Session, path: Path) -> None:
    write_text_atomic(path, session.to_json())


def load_session(path: Path) -> Session:
    """Read a session file; CorruptSessionError when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise TlganError(f"no session to resume at {path}")
    if path.stat().st_size > bounded_json.MAX_BYTES:
        raise CorruptSessionError(f"{path}: too large for a session file")
    return Session.from_json(path.read_bytes(), str(path))


def set_aside(path: Path, label: str = "corrupt") -> Path:
    """Rename a session file out of the way (never delete it); returns the new name."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        suffix = f".{label}-{stamp}" if n == 1 else f".{label}-{stamp}-{n}"
        target = path.with_name(path.name + suffix)
        if not target.exists():
            os.replace(path, target)
            return target
    raise TlganError(f"no free name to set {path} aside")


class SessionWriter:
    """Saves sessions on a background thread so a slow disk never delays a key.

    `submit` hands over the newest session and returns at once; the writer
    always writes the newest one it has (older pending ones are skipped).
    `flush` waits until everything submitted is on disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._condition = threading.Condition()
        self._pending: Session | None = None
        self._busy = False
        self._closed = False
        self.writes = 0
        self.last_error: OSError | TlganError | None = None
        self._thread = threading.Thread(target=self._run, name="tlgan-session-writer",
                                        daemon=True)
        self._thread.start()

    def submit(self, session: Session) -> None:
        with self._condition:
            self._pending = session
            self._condition.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted session is written; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._closed:
                    self._condition.wait()
                if self._pending is None and self._closed:
                    return
                session, self._pending = self._pending, None
                self._busy = True
            try:
                assert session is not None
                save_session(session, self.path)
                self.writes += 1
                self.last_error = None
            except (OSError, TlganError) as error:
                self.last_error = error
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()
