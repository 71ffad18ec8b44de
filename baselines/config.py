"""What each baseline ``Config`` field accepts, declared once next to its default.

A field is declared as ``inner_lr: float = ranged(0.1, above=0.0)``: the default, and the values
allowed (``low``/``high`` inclusive bounds, ``above`` an exclusive lower bound, ``choices`` a
fixed set; for a tuple, the bounds apply to each item). Every ``Config`` checks all its fields
when built (:func:`check_config`, called by ``__post_init__``), so ``--set``, ``train_baseline``
and a ``Config(...)`` written in Python refuse the same values with the same message, naming the
field, the value and what it accepts. (No torch here: the CLI checks overrides without it.)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from tasksuite.core.errors import InvalidConfigError

_KINDS = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string", tuple: "a list"}


@dataclass(frozen=True)
class Range:
    """The values a config field accepts (see the module docstring)."""

    low: float | None = None
    high: float | None = None
    above: float | None = None
    choices: tuple[str, ...] | None = None

    def __str__(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        parts = []
        if self.above is not None:
            parts.append(f"> {self.above:g}")
        if self.low is not None:
            parts.append(f">= {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high:g}")
        return " and ".join(parts) or "any value"

    def admits(self, value: Any) -> bool:
        """Whether one (scalar) value lies in the range."""
        if self.choices is not None:
            return value in self.choices
        if isinstance(value, str | bool):
            return True
        return (
            (self.above is None or value > self.above)
            and (self.low is None or value >= self.low)
            and (self.high is None or value <= self.high)
        )


def ranged(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field with ``default`` that accepts the given range (see the module docstring)."""
    return dataclasses.field(default=default, metadata={"range": Range(low, high, above, choices)})


def check_value(owner: str, field: dataclasses.Field, value: Any) -> Any:
    """``value`` for ``field`` of ``owner``'s config, checked: the default's type (an int is a valid
    float, a list a valid tuple, whose items take the default's item type) and the declared range.
    Raises :class:`InvalidConfigError` naming the field, the value and what it accepts."""
    default, allowed = field.default, field.metadata.get("range", Range())
    if isinstance(default, tuple) and isinstance(value, list | tuple):
        value = tuple(value)
        kind = type(default[0]) if default else int
        valid = all(type(item) is kind for item in value)
        items = value
    elif isinstance(default, float) and type(value) is int:
        value, valid, items = float(value), True, (value,)
    else:
        valid, items = type(value) is type(default), (value,)  # bool is not an int here, nor an int a bool
    if valid and any(isinstance(item, float) and not math.isfinite(item) for item in items):
        valid = False
    if not valid:
        raise InvalidConfigError(
            f"{owner} config field {field.name!r} takes {_KINDS[type(default)]} like its default {default!r}, "
            f"got {value!r}"
        )
    if not all(allowed.admits(item) for item in items):
        each = "each item " if isinstance(default, tuple) else ""
        raise InvalidConfigError(f"{owner} config field {field.name!r} = {value!r}: {each}must be {allowed}")
    return value


def check_config(config: Any) -> None:
    """Check every field of a config dataclass instance (its ``__post_init__`` calls this)."""
    owner = type(config).__module__.rpartition(".")[2]
    for field in dataclasses.fields(config):
        checked = check_value(owner, field, getattr(config, field.name))
        if checked != getattr(config, field.name) or type(checked) is not type(getattr(config, field.name)):
            object.__setattr__(config, field.name, checked)  # a list given for a tuple, an int for a float
