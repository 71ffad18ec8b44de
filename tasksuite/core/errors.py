"""Exceptions raised by tasksuite.

Every error names what was wrong and what is allowed, so that a user can fix
the call without reading the source.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TasksuiteError(Exception):
    """Base class of every error raised by tasksuite."""


class InvalidTaskError(TasksuiteError, ValueError):
    """A task, a task parameter or a task dictionary is not valid for its family."""


class UnknownNameError(TasksuiteError, LookupError):
    """A family, benchmark, parameter or OOD level name is not registered."""

    def __str__(self) -> str:
        # LookupError would quote the message like a dict key; show it plainly.
        return str(self.args[0]) if self.args else ""


class ManifestError(TasksuiteError, ValueError):
    """A split manifest is malformed, tampered with, or from another family version."""


class InvalidActionError(TasksuiteError, ValueError):
    """An action passed to ``step`` is outside the action space or not finite."""


class InvalidConfigError(TasksuiteError, ValueError):
    """A configuration value (e.g. a baseline's hyperparameter) has the wrong type."""


def did_you_mean(name: object, allowed: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` with the allowed name closest to ``name`` (difflib), or ``""`` if none is close."""
    matches = difflib.get_close_matches(str(name), list(allowed), n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


class OutputError(TasksuiteError, OSError):
    """A path tasksuite was asked to write is not one it may write: a special file, a folder of
    another kind or with a user's files in it, or a folder another process is writing."""


class IntegrityError(TasksuiteError, ValueError):
    """Saved data (unit records, cached references, a checkpoint) does not match what claims to
    have produced it, or holds a value tasksuite never writes (such as NaN)."""
