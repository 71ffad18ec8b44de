"""Parameter spaces: the one place a family declares what a task may contain.

A family lists its parameters once, as frozen data. Validation, the task
encoding shown to task-observable agents, the CLI's ``show`` output and the
docs tables are all derived from that declaration.

The bounds of a parameter are the range the *environment accepts*. Which part
of that range the training distribution covers is the family's business
(see :class:`tasksuite.core.family.TaskFamily`); tasks outside the training
support but inside these bounds are the out-of-distribution tasks.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from tasksuite.core.errors import InvalidTaskError, UnknownNameError, did_you_mean

ParamValue = float | str


@dataclass(frozen=True)
class Continuous:
    """A real-valued parameter accepted in the closed interval ``[low, high]``."""

    name: str
    low: float
    high: float
    default: float
    unit: str = ""
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"parameter {self.name!r}: low={self.low} must be below high={self.high}")
        if not self.low <= self.default <= self.high:
            raise ValueError(f"parameter {self.name!r}: default {self.default} outside [{self.low}, {self.high}]")

    @property
    def allowed(self) -> str:
        """The accepted range, as shown in errors and docs."""
        unit = f" {self.unit}" if self.unit else ""
        return f"[{self.low:g}, {self.high:g}]{unit}"

    def validate(self, family: str, value: object) -> float:
        """Return ``value`` as a float, or raise naming the parameter and its range."""
        if type(value) is float:  # what samplers produce: no type to check, nothing to convert
            number = value
        elif isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InvalidTaskError(
                f"{family}: parameter {self.name!r} must be a number in {self.allowed}, "
                f"got {value!r} of type {type(value).__name__}"
            )
        else:
            number = float(value)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            raise InvalidTaskError(
                f"{family}: parameter {self.name!r} = {number!r} is outside its allowed range {self.allowed}"
            )
        return number

    @property
    def encoding_size(self) -> int:
        """Entries this parameter takes in the task encoding."""
        return 1

    def encode(self, value: ParamValue) -> list[float]:
        """Map ``[low, high]`` affinely onto ``[-1, 1]``."""
        return [2.0 * (float(value) - self.low) / (self.high - self.low) - 1.0]


@dataclass(frozen=True)
class Categorical:
    """A parameter taking one of a fixed tuple of string choices."""

    name: str
    choices: tuple[str, ...]
    default: str
    doc: str = ""

    def __post_init__(self) -> None:
        if len(set(self.choices)) != len(self.choices) or not self.choices:
            raise ValueError(f"parameter {self.name!r}: choices must be unique and non-empty")
        if self.default not in self.choices:
            raise ValueError(f"parameter {self.name!r}: default {self.default!r} not among its choices")

    @functools.cached_property
    def _choice_set(self) -> frozenset[str]:
        return frozenset(self.choices)

    @property
    def allowed(self) -> str:
        """The accepted choices, as shown in errors and docs."""
        if len(self.choices) > 8:
            return f"one of {len(self.choices)} names ({', '.join(self.choices[:3])}, ...)"
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def validate(self, family: str, value: object) -> str:
        """Return ``value`` if it is one of the choices, or raise listing them."""
        if not isinstance(value, str) or value not in self._choice_set:
            raise InvalidTaskError(
                f"{family}: parameter {self.name!r} = {value!r} is not allowed; expected {self.allowed}"
            )
        return value

    @property
    def encoding_size(self) -> int:
        """Entries this parameter takes in the task encoding (one per choice)."""
        return len(self.choices)

    def encode(self, value: ParamValue) -> list[float]:
        """One-hot encoding over the choices."""
        return [1.0 if choice == value else 0.0 for choice in self.choices]


Parameter = Continuous | Categorical


@dataclass(frozen=True)
class ParameterSpace:
    """An ordered, named collection of parameters."""

    params: tuple[Parameter, ...]

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate parameter names in {names}")

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        """Parameter names in declaration order."""
        return tuple(p.name for p in self.params)

    @functools.cached_property
    def _name_set(self) -> frozenset[str]:
        return frozenset(self.names)

    def __getitem__(self, name: str) -> Parameter:
        for param in self.params:
            if param.name == name:
                return param
        raise UnknownNameError(
            f"unknown parameter {name!r}{did_you_mean(name, self.names)}; parameters are {', '.join(self.names)}"
        )

    def validate(self, family: str, values: Mapping[str, object]) -> dict[str, ParamValue]:
        """Check ``values`` and return a complete parameter dict, defaults filled in.

        Raises :class:`InvalidTaskError` for unknown names, wrong types and
        out-of-range values; the message names the parameter and what it accepts.
        """
        if not isinstance(values, Mapping):
            raise InvalidTaskError(f"{family}: task parameters must be a mapping, got {type(values).__name__}")
        unknown = sorted(values.keys() - self._name_set)
        if unknown:
            raise InvalidTaskError(
                f"{family}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"parameters are {', '.join(self.names)}"
            )
        return {p.name: p.validate(family, values[p.name]) if p.name in values else p.default for p in self.params}

    @property
    def encoding_size(self) -> int:
        """Length of :meth:`encode`'s vector."""
        return sum(p.encoding_size for p in self.params)

    def encode(self, values: Mapping[str, ParamValue]) -> np.ndarray:
        """A float32 vector describing the task: continuous values in [-1, 1], categoricals one-hot."""
        return np.array([x for p in self.params for x in p.encode(values[p.name])], dtype=np.float32)
