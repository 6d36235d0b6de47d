"""`tlgan edit` (not implemented yet)."""

from __future__ import annotations

import argparse

from tlgan_tui.engine.errors import TlganError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("edit", help="(not implemented yet)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise TlganError("`tlgan edit` is not implemented yet")
