"""The one atomic writer: a temp file beside the target, fsync, rename.

A rename replaces whatever the name points at, so a target that exists and is
not a regular file (a device such as /dev/null, a FIFO, a socket, a directory)
is refused instead of silently turned into a regular file. A symlink to a
regular file is written through (the file it points to is replaced, the link
stays); a dangling symlink is refused. Errors name the target, never the temp
file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from tlgan_tui.engine.errors import TlganError


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def resolve_target(path: Path | str, *, force: bool = True, option: str = "") -> Path:
    """The regular file a write to `path` replaces (symlinks followed), after the checks.

    With force=False an existing file is refused too (the CLI's `-o` without `--force`).
    """
    path = Path(path)
    label = f"{option} {path}" if option else str(path)
    try:
        link = path.lstat()
    except FileNotFoundError:
        return path
    except OSError as error:
        raise TlganError(f"{label}: cannot check the output ({error.strerror or error})") \
            from None
    real = path
    if stat.S_ISLNK(link.st_mode):
        real = Path(os.path.realpath(path))
        try:
            mode = real.stat().st_mode
        except FileNotFoundError:
            raise TlganError(f"{label} is a dangling symlink; refusing to write through it") \
                from None
        except OSError as error:
            raise TlganError(f"{label}: cannot check the output ({error.strerror or error})") \
                from None
    else:
        mode = link.st_mode
    if not stat.S_ISREG(mode):
        raise TlganError(f"{label} exists and is {_describe(mode)}; refusing to replace it "
                         "(give a regular file name)")
    if not force:
        raise TlganError(f"{label} exists; pass --force to replace it")
    return real


def make_parent(path: Path) -> None:
    """Create the directory `path` goes in; TlganError when a file stands in its way."""
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise TlganError(f"cannot write {path}: {parent} is not a directory") from None
    except OSError as error:
        raise TlganError(f"cannot create the directory {parent}: {error.strerror or error}") \
            from None
    if not parent.is_dir():
        raise TlganError(f"cannot write {path}: {parent} is not a directory")


def write_atomic(path: Path | str, write: Callable[[BinaryIO], None], *,
                 overwrite: bool = True, mode: int = 0o644) -> Path:
    """Write `path` through `write(handle)`, atomically. Returns `path`.

    overwrite=False never replaces an existing name (raises FileExistsError).
    Any OSError becomes a TlganError that names `path`.
    """
    path = Path(path)
    target = resolve_target(path) if overwrite else path
    make_parent(target)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if overwrite:
            # Checked again right before the rename: the name may have changed meanwhile.
            resolve_target(path)
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails if the name is taken: never overwrites
    except FileExistsError:
        raise
    except OSError as error:
        raise TlganError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return path


def write_bytes_atomic(path: Path | str, data: bytes, **options: object) -> Path:
    return write_atomic(path, lambda handle: handle.write(data), **options)  # type: ignore[arg-type]
