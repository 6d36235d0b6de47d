"""The one JSON reader for everything read from files: bounded size and depth, finite numbers.

`json.loads` recurses once per nesting level, so a few KB of `[[[[...` end in
RecursionError; it also accepts NaN/Infinity (and 1e999 as inf), which then
poison latents, offsets and indices. Files are data from anywhere: every JSON
text the program reads goes through `loads` here.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

MAX_DEPTH = 32
MAX_BYTES = 64 * 1024 * 1024

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class JsonError(ValueError):
    """The text is not JSON this program accepts; the message says why (one line)."""


def _reject_constant(name: str) -> Any:
    raise JsonError(f"{name} is not allowed (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError(f"number {text[:20]} is out of range")
    return value


def nesting_depth(raw: bytes) -> int:
    """Deepest bracket nesting outside strings (a linear scan, no recursion)."""
    skeleton = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    steps = (np.isin(skeleton, (ord("["), ord("{"))).astype(np.int64)
             - np.isin(skeleton, (ord("]"), ord("}"))).astype(np.int64))
    return int(np.cumsum(steps).max(initial=0))


def loads(text: str | bytes, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """Parse `text`; JsonError (a ValueError) for anything too big, deep or non-finite."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if len(raw) > max_bytes:
        raise JsonError(f"JSON text of {len(raw)} bytes is larger than {max_bytes}")
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise JsonError(f"JSON nested {depth} levels deep (at most {max_depth})")
    try:
        return json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except JsonError:
        raise
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        message = " ".join(str(error).split())[:120]
        raise JsonError(f"not valid JSON ({message})") from None
