"""Undo history and the session file (no Textual involved)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tlgan_tui.engine.edit_state import EditState
from tlgan_tui.engine.session import (
    CorruptSessionError,
    History,
    Session,
    SessionWriter,
    load_session,
    save_session,
    set_aside,
)

DIM, K = 16, 4


def _axes() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    d = rng.standard_normal((K, DIM))
    return d / np.linalg.norm(d, axis=1, keepdims=True), np.ones(K)


def _state(seed: int = 0) -> EditState:
    start = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return EditState.fresh(start, K, seed)


def _session(history: History) -> Session:
    return Session(history=history,
                   generator={"path": None, "sha256": "ab" * 32, "ident": "g", "name": "G"},
                   axes={"path": "/x/axes.safetensors", "sha256": "cd" * 32, "ident": "a",
                         "names": ["Male", "Age", "Direction 1", "Direction 2"]},
                   step=0.2, selected=2)


def test_history_undo_redo_and_branching() -> None:
    h = History([_state()])
    assert not h.can_undo and not h.can_redo
    assert h.push(h.current.move(0, 0.4))
    assert h.push(h.current.move(1, -0.4))
    assert h.current.offsets[:2] == (0.4, -0.4)
    assert h.undo() and h.current.offsets[:2] == (0.4, 0.0)
    assert h.redo() and h.current.offsets[:2] == (0.4, -0.4)
    assert h.undo() and h.undo() and not h.undo()
    assert h.push(h.current.move(2, 1.0))  # a new branch drops the redo states
    assert not h.can_redo and len(h) == 2


def test_history_ignores_no_op_and_keeps_a_limit() -> None:
    h = History([_state()], limit=5)
    assert not h.push(h.current.reset(0))  # nothing changed: no undo step
    for _ in range(10):
        h.push(h.current.move(0, 0.1))
    assert len(h) == 5 and h.index == 4
    assert h.current.offsets[0] == pytest.approx(1.0)


def test_session_round_trip_is_exact(tmp_path: Path) -> None:
    directions, sigmas = _axes()
    h = History([_state()])
    h.push(h.current.move(0, 0.4))
    h.push(h.current.toggle_lock(0, directions, sigmas))
    h.push(h.current.move(1, 1.2))
    h.push(h.current.with_start(_state(7).start, 7))
    h.undo()
    path = tmp_path / "s.json"
    save_session(_session(h), path)
    back = load_session(path)
    assert back.history.index == h.index and len(back.history) == len(h)
    assert all(a.same_as(b) for a, b in zip(back.history.states, h.states, strict=True))
    assert (back.step, back.selected) == (0.2, 2)
    assert back.axes["path"] == "/x/axes.safetensors"
    # Latents are stored once: two distinct start latents and one re-base.
    assert len(json.loads(path.read_text())["latents"]) == 3


@pytest.mark.parametrize("text", [
    "", "{", "[]", '{"format": "other"}',
    '{"format": "tlgan-session", "version": 99}',
    '{"format": "tlgan-session", "version": 1, "latents": [], "history": [], "index": 0,'
    ' "axes": {"names": []}, "generator": {}, "step": 0.4}',
])
def test_corrupt_sessions_are_reported(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(CorruptSessionError):
        load_session(path)


def test_truncated_session_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    save_session(_session(History([_state()])), path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(CorruptSessionError):
        load_session(path)


def test_set_aside_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("garbage")
    kept = set_aside(path)
    assert not path.exists() and kept.read_text() == "garbage"
    path.write_text("more")
    assert set_aside(path) != kept  # a second one gets its own name


def test_writer_writes_the_newest_and_flushes(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "s.json"
    writer = SessionWriter(path)
    h = History([_state()])
    for _ in range(50):
        h.push(h.current.move(0, 0.1))
        writer.submit(_session(h.copy()))
    assert writer.flush(10)
    assert load_session(path).history.current.same_as(h.current)
    assert 1 <= writer.writes <= 50
    writer.close()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    writer = SessionWriter(path)
    h = History([_state()])
    writer.submit(_session(h.copy()))
    writer.flush()
    stop = time.monotonic() + 0.5
    failures: list[Exception] = []

    def read() -> None:
        while time.monotonic() < stop:
            try:
                load_session(path)
            except Exception as error:
                failures.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    while time.monotonic() < stop:
        h.push(h.current.move(1, 0.1))
        writer.submit(_session(h.copy()))
    reader.join()
    writer.close()
    assert not failures
