"""The engine must be usable without the TUI: no engine module imports Textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tlgan_tui.engine


def engine_modules() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.walk_packages(tlgan_tui.engine.__path__, "tlgan_tui.engine.")
    )


def test_engine_has_the_core_modules() -> None:
    names = engine_modules()
    for expected in ("tlgan_tui.engine.editing", "tlgan_tui.engine.axes",
                     "tlgan_tui.engine.generators.dcgan", "tlgan_tui.engine.export"):
        assert expected in names


def fresh_interpreter_prints(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_every_engine_module_never_imports_textual() -> None:
    modules = engine_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')"
        " or m.startswith('textual_image'))\n"
        "print(','.join(bad))\n"
    )
    pulled_in = fresh_interpreter_prints(code)
    assert pulled_in == "", f"engine pulled in: {pulled_in}"


def test_building_the_cli_stays_light() -> None:
    """`tlgan render` starts cold in under 3 s only if the parser imports nothing heavy."""
    code = (
        "import sys\n"
        "from tlgan_tui.cli import build_parser\n"
        "build_parser()\n"
        "heavy = ('sklearn', 'textual', 'onnxruntime', 'dlib')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    heavy = fresh_interpreter_prints(code)
    assert heavy == "", f"parser construction imported: {heavy}"
