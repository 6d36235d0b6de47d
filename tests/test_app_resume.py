"""Kill the editor mid-session (kill -9, like a dropped SSH connection) and resume it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from app_fixtures import make_app, settle

TESTS = Path(__file__).resolve().parent

# The child edits a face with real key presses, waits until the session file
# holds its last change, reports its state, then hangs until it is killed.
CHILD = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from app_fixtures import make_app, settle

    async def main() -> None:
        app = make_app(Path({tmp!r}), "--seed", "11", "--generator", "digiface")
        async with app.run_test(size=(90, 26)) as pilot:
            await settle(pilot)
            await pilot.press("l", "l", "j", "space", "j", "shift+right", "r", "h",
                              "right_square_bracket", "j", "l", "u", "k")
            await settle(pilot)
            assert app.writer.flush()
            print(json.dumps({{
                "history": [s.to_dict() for s in app.history.states],
                "index": app.history.index, "step": app.step, "selected": app.selected,
            }}), flush=True)
            print("READY", flush=True)
            await asyncio.sleep(120)

    asyncio.run(main())
""")


def test_kill_mid_session_then_resume_exactly(tmp_path: Path) -> None:
    script = CHILD.format(tests=str(TESTS), tmp=str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 90
        assert child.stdout is not None
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.strip() == "READY":
                break
        assert lines and lines[-1] == "READY", (lines, child.stderr and child.stderr.read())
        expected = json.loads(lines[-2])
        os.kill(child.pid, signal.SIGKILL)  # no chance to save anything on the way out
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL

    app = make_app(tmp_path, "--resume")
    assert [s.to_dict() for s in app.history.states] == expected["history"]
    assert app.history.index == expected["index"]
    assert (app.step, app.selected) == (expected["step"], expected["selected"])

    async def drive() -> None:
        async with app.run_test(size=(90, 26)) as pilot:
            await settle(pilot)
            assert app.last_frame is not None and app.last_frame[0].same_as(app.state)
            await pilot.press("ctrl+r")  # the redo branch survived the crash too
            assert [s.to_dict() for s in app.history.states] == expected["history"]
            assert app.history.index == expected["index"] + 1

    asyncio.run(drive())
