"""Crash-safe file writes: a reader sees the old file or the new one, never half of one.

A write goes to a temporary file beside its target (``.<name>.<random>.tmp``), is fsynced (unless
its reader detects a file a power loss cut short, see ``durable``), then renamed over the target.
Only a regular file (or nothing) is ever replaced: renaming over a device node, a FIFO, a socket or
a symbolic link would silently destroy it, so those are refused.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tasksuite.core.errors import IntegrityError, OutputError

# mkstemp creates files readable by their owner only; give written files the
# permissions a plain open() would (read once, at import, while single-threaded).
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None], durable: bool = True) -> None:
    """Call ``write`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    ``durable=False`` skips the fsync (a few ms): a killed process still leaves the old file or the new
    one, but after an OS crash or a power loss the new one may come back empty or cut short; only for
    files whose reader detects that (evaluation unit files: each record says how many its file holds).
    Raises :class:`OutputError` when ``path`` is empty or names anything but a regular file.
    """
    target = writable_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=temporary_prefix(target.name), suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def writable_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`Path` if a regular file may be written there: nothing is there yet, or a
    regular file (not a symbolic link to one: the rename would replace the link itself)."""
    if not os.fspath(path):
        raise OutputError("the path to write is empty; give a file name")
    target = Path(path)
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise OutputError(f"{target} is {kind}; tasksuite only writes regular files, give another path")
    return target


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


def temporary_prefix(name: str) -> str:
    """How the temporary files of a write to a file called ``name`` begin (they end in ``.tmp``)."""
    return f".{name}."


def atomic_write_text(path: str | os.PathLike[str], text: str, durable: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (``durable``: see :func:`atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")), durable)


def atomic_write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Write ``value`` as indented JSON to ``path`` atomically; NaN and infinity are refused."""
    atomic_write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n")


def _refuse_constant(name: str) -> float:
    raise IntegrityError(f"{name} is not a number tasksuite writes (it writes finite numbers only)")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file tasksuite wrote: UTF-8, finite numbers only.

    Raises :class:`IntegrityError` naming the file when it is not such JSON (invalid, not UTF-8,
    nested too deeply, or holding NaN or infinity).
    """
    return parse_json(Path(path).read_bytes(), str(path))


def parse_json(data: bytes | str, where: str) -> Any:
    """Parse ``data`` as :func:`read_json` does; ``where`` names its origin in errors."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_constant=_refuse_constant)
    except IntegrityError as error:
        raise IntegrityError(f"{where}: {error}") from None
    except UnicodeDecodeError as error:
        raise IntegrityError(f"{where}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise IntegrityError(f"{where}: not valid JSON ({error})") from None
    except RecursionError:
        raise IntegrityError(f"{where}: JSON nested too deeply") from None
