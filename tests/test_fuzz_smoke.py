"""A small slice of benchmarks/fuzz_cli.py: malformed files and arguments, one line each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_fuzz_smoke(tmp_path: Path) -> None:
    out = tmp_path / "fuzz.txt"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fuzz_cli.py"), "--cases", "30",
         "--seed", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    report = out.read_text()
    for line in ("tracebacks: 0", "hangs (> 20 s CPU): 0", "non-regular files replaced: 0",
                 "errors longer than one line: 0"):
        assert line in report, report
