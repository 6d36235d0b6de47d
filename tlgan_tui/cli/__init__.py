"""`tlgan`: the command line. Each subcommand lives in its own module.

Every user-facing failure is a `TlganError`: printed as one line on stderr,
exit code 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

from tlgan_tui.engine.errors import TlganError

# Subcommand modules, each with `register(subparsers)` that adds its parser and
# sets `func` (args -> exit code).
SUBCOMMANDS = (
    "tlgan_tui.cli.edit",
    "tlgan_tui.cli.render",
    "tlgan_tui.cli.measure",
    "tlgan_tui.cli.fit",
    "tlgan_tui.cli.sweep",
    "tlgan_tui.cli.info",
    "tlgan_tui.cli.train_extractor",
    "tlgan_tui.cli.project",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlgan",
        description="Edit GAN-generated faces from the keyboard. "
        "With no subcommand, opens the editor (same as `tlgan edit`).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def join_negative_values(argv: list[str]) -> list[str]:
    """`--steps -3,0,3` -> `--steps=-3,0,3`: argparse would take -3,0,3 for an option."""
    out: list[str] = []
    for token in argv:
        if (out and out[-1].startswith("--") and "=" not in out[-1]
                and re.match(r"^-[\d.]", token)):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = join_negative_values(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["edit", *argv]
    args = parser.parse_args(argv)
    args.argv = argv  # recorded in files a command writes (e.g. the axes' creation command)
    try:
        return int(args.func(args) or 0)
    except TlganError as error:
        print(f"tlgan: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tlgan: interrupted", file=sys.stderr)
        return 130
    except OSError as error:
        # A full disk, a read-only directory, a vanished file: one line, no traceback.
        print(f"tlgan: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
