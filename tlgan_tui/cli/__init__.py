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
from typing import NoReturn

from tlgan_tui.cli.validate import validate_args
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
    "tlgan_tui.cli.teach",
    "tlgan_tui.cli.knobs",
    "tlgan_tui.cli.project",
)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="tlgan",
        description="Edit GAN-generated faces from the keyboard. "
        "With no subcommand, opens the editor (same as `tlgan edit`).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(subparsers)
    parser.epilog = editor_options_help(subparsers.choices["edit"])
    return parser


def editor_options_help(edit_parser: argparse.ArgumentParser) -> str:
    """`tlgan --help` lists the editor's options too: `tlgan --seed 7` is the editor."""
    text = edit_parser.format_help()
    options = text[text.index("options:"):] if "options:" in text else text
    return "editor options (tlgan [OPTIONS] = tlgan edit [OPTIONS]):\n" + \
        options.split("\n", 1)[1]


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
        validate_args(args)
        return int(args.func(args) or 0)
    except TlganError as error:
        # One line, whatever the message quotes (torch's shape errors span several).
        print(f"tlgan: error: {' '.join(str(error).split())}", file=sys.stderr)
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
