"""Folders that tasksuite owns: recognizable, and written by one process at a time.

An evaluation's results folder, a training run's folder and a validate folder are each claimed
with :func:`claim_folder`:

* **Recognizable.** Creating one writes a marker, ``.tasksuite-folder.json``, naming its kind. A
  folder is reused only when its marker names the same kind; an existing folder without a marker
  is accepted only if it is empty (or holds only ``*.log`` files, which callers such as
  ``tasksuite validate`` open beside a run before starting it). So a mistyped ``--out`` pointing
  at a user's folder is refused instead of being written into, and cleanup after a crash only
  ever happens inside folders tasksuite made.
* **One writer.** The claimant holds an exclusive ``fcntl.flock`` on ``.tasksuite.lock`` inside the
  folder, with its pid written in the file. A second claimant fails at once with an error naming
  that pid. The kernel drops the lock when the holder's process ends, however it ends (SIGKILL
  included), so a crash never leaves a stale lock behind. (``flock`` is Linux/BSD/macOS; on
  network file systems that do not support it, the claim fails loudly rather than pretending.)
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from tasksuite.core.errors import IntegrityError, OutputError
from tasksuite.core.io import atomic_write_json, read_json

MARKER = ".tasksuite-folder.json"
LOCK = ".tasksuite.lock"
_FORMAT = "tasksuite-folder"


class OwnedFolder:
    """A claimed folder (see the module docstring); release it with :meth:`release` or ``with``.

    Attributes:
        root: the folder.
        kind: what it holds, e.g. ``"results"``, ``"training"`` or ``"validate"``.
        created: whether this claim created it (its marker).
    """

    def __init__(self, root: Path, kind: str, fd: int, created: bool) -> None:
        self.root, self.kind, self.created = root, kind, created
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """Whether this claim still holds the folder's lock."""
        return self._fd is not None

    def release(self, _close: Callable[[int], None] = os.close) -> None:
        """Let another process claim the folder (idempotent)."""
        # ``_close`` is bound at definition: ``__del__`` may run at interpreter exit, after ``os`` is gone.
        if self._fd is not None:
            _close(self._fd)  # closing the only descriptor of the open file drops the flock
            self._fd = None

    def __enter__(self) -> OwnedFolder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def folder_kind(root: str | os.PathLike[str]) -> str | None:
    """The kind named by ``root``'s marker, or ``None`` when it has none."""
    marker = Path(root) / MARKER
    if not marker.exists():
        return None
    data = read_json(marker)
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("kind"), str):
        raise IntegrityError(f"{marker} is not a tasksuite folder marker; remove it only if you know what wrote it")
    return data["kind"]


def check_folder(root: str | os.PathLike[str], kind: str) -> Path:
    """``root`` as a :class:`Path` if it is an existing folder of ``kind`` (for readers)."""
    path = Path(root)
    found = folder_kind(path) if path.is_dir() else None
    if found != kind:
        what = f"a {found} folder" if found else f"no folder tasksuite created (it has no {MARKER})"
        raise OutputError(f"{path} is not a {kind} folder: it is {what}")
    return path


def claim_folder(root: str | os.PathLike[str], kind: str, parameter: str = "out") -> OwnedFolder:
    """Create or reopen the ``kind`` folder ``root`` and lock it for this process.

    ``parameter`` names the argument ``root`` came from, in errors. Raises :class:`OutputError`
    when ``root`` is empty, not a directory, a folder of another kind, a non-empty folder
    tasksuite did not create, or locked by another process.
    """
    if not os.fspath(root):
        raise OutputError(f"{parameter} is empty; give a folder path (use '.' explicitly for the current folder)")
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{parameter}={os.fspath(root)!r} exists and is not a folder; give a folder path")
    _check_kind(path, kind, parameter)  # before creating anything in a folder that may be a user's
    path.mkdir(parents=True, exist_ok=True)
    fd = _lock(path, parameter)
    try:
        _check_kind(path, kind, parameter)  # again, under the lock: another claimant may have won the race
        created = folder_kind(path) is None
        if created:
            atomic_write_json(path / MARKER, {"format": _FORMAT, "kind": kind})
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except BaseException:
        os.close(fd)
        raise
    return OwnedFolder(path, kind, fd, created)


def _check_kind(path: Path, kind: str, parameter: str) -> None:
    if not path.is_dir():
        return
    found = folder_kind(path)
    if found is None:
        foreign = sorted(p.name for p in path.iterdir() if p.name != LOCK and not _is_log(p))
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise OutputError(
                f"{parameter}={os.fspath(path)!r} is a folder tasksuite did not create and it is not empty "
                f"({shown}); give a new or empty folder, so that none of its files are overwritten or removed"
            )
    elif found != kind:
        raise OutputError(f"{parameter}={os.fspath(path)!r} is a {found} folder, not a {kind} folder; give another")


def _is_log(path: Path) -> bool:
    return path.suffix == ".log" and path.is_file() and not path.is_symlink()


def _lock(path: Path, parameter: str) -> int:
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise OutputError(f"cannot lock {path / LOCK}: {error.strerror}") from error
        who = f"pid {holder}" if holder.isdigit() else "a process whose pid is not written yet"
        raise OutputError(
            f"{parameter}={os.fspath(path)!r} is being written by another tasksuite process ({who}); "
            "wait for it to finish, or give another folder"
        ) from None
    return fd
