"""Text read from files, made safe to show: no control characters, bounded length.

Feature and model names come from files anyone can write; an ESC or OSC
sequence in one would be written raw to the terminal.
"""

from __future__ import annotations

import unicodedata

MAX_NAME = 80


def clean_text(value: object, max_length: int = MAX_NAME) -> str:
    """`value` as one printable line: control/format characters dropped, length capped."""
    text = "".join(ch for ch in str(value)
                   if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
    text = " ".join(text.split())
    return text if len(text) <= max_length else text[: max_length - 1] + "…"
