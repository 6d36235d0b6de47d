"""SVG snapshots of the main screen and the help screen (pytest-textual-snapshot).

Deterministic: fixed seed, CPU, the half-cell renderer with its default
10x20 px cells (not a TTY), the fake extractor, frame time not shown.
Update with `pytest tests/test_app_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app_fixtures import make_app, settle
from textual.pilot import Pilot

SIZE = (100, 30)


def _app(tmp_path: Path) -> Any:
    return make_app(tmp_path, "--seed", "42", show_frame_time=False)


def test_main_screen(tmp_path: Path, snap_compare: Any) -> None:
    async def edit(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("l", "l", "j", "space", "j", "h")
        await settle(pilot)

    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=edit)


def test_help_screen(tmp_path: Path, snap_compare: Any) -> None:
    async def open_help(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=open_help)
