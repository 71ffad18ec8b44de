"""How the core finds a registered family by its name without importing the registry above it.

A task dict, a split manifest, a pickled family and ``gym.make``'s ``family=`` name a family by
its registered name. The core resolves such a name through :func:`family_named`; the registry
(:mod:`tasksuite.registry`, imported by ``import tasksuite``) installs its lookup here, so the
core depends on nothing above it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tasksuite.core.errors import TasksuiteError

if TYPE_CHECKING:
    from tasksuite.core.family import TaskFamily

_lookup: Callable[[str], TaskFamily] | None = None


def install_family_lookup(lookup: Callable[[str], TaskFamily]) -> None:
    """Resolve family names with ``lookup`` from now on (the registry calls this once, at import)."""
    global _lookup
    _lookup = lookup


def family_named(name: str) -> TaskFamily:
    """The registered family called ``name``."""
    if _lookup is None:
        raise TasksuiteError("no family registry is installed: import tasksuite first")
    return _lookup(name)
