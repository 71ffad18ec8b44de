"""Argument checks shared by the public API: one rule per kind of value, one wording of its error.

Nothing is coerced silently: ``"false"`` is not a boolean, ``1.7`` is not a seed, ``True`` is not
a count. NumPy integers count as integers everywhere (a seed drawn with ``rng.integers`` works in
the single env and in the vector envs alike, although Gymnasium's own ``reset`` refuses it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tasksuite.core.errors import InvalidTaskError, TasksuiteError


def integer(name: str, value: object, minimum: int = 0, error: type[TasksuiteError] = InvalidTaskError) -> int:
    """``value`` as an ``int`` if it is an integer (Python or NumPy, not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise error(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def distinct_counts(name: str, values: object, minimum: int = 0) -> tuple[int, ...]:
    """A non-empty list of distinct integers ``>= minimum``, sorted (a sweep's values: K, gradient
    steps, demonstrations). A repeated value is refused rather than dropped: it is a typo."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise TasksuiteError(f"{name}={values!r}: expected a non-empty list of integers >= {minimum}")
    checked = tuple(integer(name, value, minimum, TasksuiteError) for value in values)
    if len(set(checked)) != len(checked):
        raise TasksuiteError(f"{name}={list(values)!r} repeats a value; give each once")
    return tuple(sorted(checked))


def boolean(name: str, value: object, error: type[TasksuiteError] = InvalidTaskError) -> bool:
    """``value`` if it is a boolean (Python or NumPy); strings such as ``"false"`` are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{name} must be True or False, got {value!r} of type {type(value).__name__}")
    return bool(value)


def seed(value: object, name: str = "seed") -> int | None:
    """A reset seed: ``None`` or a non-negative integer (Python or NumPy)."""
    return None if value is None else integer(name, value, 0)


def options(value: object) -> dict[str, Any]:
    """A ``reset`` options argument as a new dict: ``None`` or a mapping."""
    if value is None:
        return {}
    if type(value) is dict:  # the usual case, paid at every reset: no ABC check
        return value.copy()
    if not isinstance(value, Mapping):
        raise InvalidTaskError(f"options must be a dict or None, got {type(value).__name__}")
    return dict(value)


def sequence(name: str, value: object) -> Sequence[object]:
    """``value`` if it is a list or tuple (a generator could be consumed only once, and has no length)."""
    if not isinstance(value, (list, tuple)):
        raise InvalidTaskError(f"{name} must be a list or tuple, got {type(value).__name__}")
    return value
