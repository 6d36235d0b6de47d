"""Reading back what the app sent to a terminal (kitty commands, byte counts)."""

from __future__ import annotations

import base64
import io
import re

from PIL import Image

_KITTY = re.compile(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\")


def kitty_png(command: str) -> Image.Image:
    """The image one kitty transmit command (all its chunks) carries."""
    payload = "".join(data for _, data in _KITTY.findall(command))
    return Image.open(io.BytesIO(base64.b64decode(payload)))
