"""The task: a plain, immutable, JSON-able value.

A task is a family name plus the values of that family's parameters. It is
never code and never pickled bytes: ``task.to_dict()`` is plain JSON and
``Task.from_dict`` re-validates it against the registered family.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii
from types import MappingProxyType
from typing import Any

import numpy as np

from tasksuite.core.errors import InvalidTaskError
from tasksuite.core.lookup import family_named
from tasksuite.core.params import ParamValue

# Built once: json.dumps would build an encoder per call, a third of the cost of hashing a task's id.
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def canonical_json(value: Any) -> str:
    """Key-sorted, whitespace-free JSON: the form hashed for ids and manifests."""
    return _CANONICAL_ENCODER.encode(value)


def task_identity(family: str, params: Mapping[str, Any]) -> str:
    """``canonical_json({"family": family, "params": dict(params)})``, the string a task's id hashes.

    Flat parameters of exact ``float``, ``int`` and ``str`` values under string names (every validated
    task's) are written directly, as the encoder writes them (``repr`` of finite floats and ints,
    ASCII-escaped strings, keys sorted): an id, hash included, costs three quarters of one from the encoder
    (``benchmarks/test_speed.py``), paid at every reset drawing a task. Anything else goes to the encoder.
    """
    fields = []
    for key in sorted(params):
        if type(key) is not str:
            break
        value = params[key]
        kind = type(value)
        if kind is float and math.isfinite(value):
            text = float.__repr__(value)
        elif kind is str:
            text = encode_basestring_ascii(value)
        elif kind is int:
            text = int.__repr__(value)
        else:
            break
        fields.append(f"{encode_basestring_ascii(key)}:{text}")
    else:
        return f'{{"family":{encode_basestring_ascii(family)},"params":{{{",".join(fields)}}}}}'
    return canonical_json({"family": family, "params": dict(params)})


_TASK_KEYS = ("family", "params", "ood_level", "distance", "id")


def check_task_dict(data: object) -> None:
    """Raise :class:`InvalidTaskError` naming the field unless ``data`` has the shape of
    :meth:`Task.to_dict` output: string ``family`` (and ``id``), ``params`` mapping parameter
    names to numbers or strings, ``ood_level`` a string or ``None``, ``distance`` a finite number.
    (Whether the values fit the family is :meth:`Task.from_dict`'s next check.)"""
    if not isinstance(data, Mapping):
        raise InvalidTaskError(f"a task dict must be a mapping, got {type(data).__name__}")
    keys = [key for key in data if not isinstance(key, str)]
    if keys:
        raise InvalidTaskError(f"task dict keys must be strings, got {keys!r}")
    missing = {"family", "params"} - set(data)
    if missing:
        raise InvalidTaskError(f"task dict is missing key(s) {sorted(missing)}; it has {sorted(data)}")
    extra = set(data) - set(_TASK_KEYS)
    if extra:
        raise InvalidTaskError(f"task dict has unknown key(s) {sorted(extra)}; keys are {', '.join(_TASK_KEYS)}")
    params = data["params"]
    if not isinstance(params, Mapping):
        raise InvalidTaskError(f"task dict 'params' must be a mapping, got {type(params).__name__}")
    for name, value in params.items():
        if not isinstance(name, str):
            raise InvalidTaskError(f"task dict 'params' keys must be parameter names (strings), got {name!r}")
        if not (isinstance(value, str) or (_is_number(value) and math.isfinite(value))):
            raise InvalidTaskError(f"task dict 'params' {name!r} must be a finite number or a string, got {value!r}")
    for key in ("family", "id"):
        if key in data and not isinstance(data[key], str):
            raise InvalidTaskError(f"task dict {key!r} must be a string, got {data[key]!r}")
    if data.get("ood_level") is not None and not isinstance(data["ood_level"], str):
        raise InvalidTaskError(f"task dict 'ood_level' must be a string or null, got {data['ood_level']!r}")
    if "distance" in data:
        distance = data["distance"]
        if not _is_number(distance) or not math.isfinite(distance):
            raise InvalidTaskError(f"task dict 'distance' must be a finite number, got {distance!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


class Task:
    """One task of a family: immutable and hashable.

    Build tasks with :meth:`TaskFamily.task` or :meth:`Task.from_dict`, which
    validate the parameters; the constructor trusts its arguments.

    Attributes:
        family: registered family name, e.g. ``"navigation"``.
        ood_level: name of the OOD level the task falls in, ``None`` inside the
            training support.
        distance: distance from the training support in the family's units,
            ``0.0`` inside it.
    """

    __slots__ = ("_id", "_params", "distance", "family", "ood_level")

    _id: str | None
    family: str
    ood_level: str | None
    distance: float

    def __init__(
        self,
        family: str,
        params: Mapping[str, ParamValue],
        ood_level: str | None = None,
        distance: float = 0.0,
    ) -> None:
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "_params", MappingProxyType(dict(params)))
        object.__setattr__(self, "ood_level", ood_level)
        object.__setattr__(self, "distance", float(distance))
        # Hashed when first asked for: a vector env drawing a task per reset never needs most ids.
        object.__setattr__(self, "_id", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Task is immutable; build a new one with family.task(...)")

    def __reduce__(self) -> tuple:
        return (Task, (self.family, dict(self._params), self.ood_level, self.distance))

    @property
    def params(self) -> Mapping[str, ParamValue]:
        """Read-only mapping of parameter name to value."""
        return self._params

    @property
    def id(self) -> str:
        """Stable identifier: a hash of the family and the parameter values."""
        if self._id is None:
            identity = task_identity(self.family, self._params)
            object.__setattr__(self, "_id", f"{self.family}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}")
        return self._id  # type: ignore[return-value]

    @property
    def in_distribution(self) -> bool:
        """Whether the task lies inside the family's training support."""
        return self.ood_level is None

    def __getitem__(self, name: str) -> ParamValue:
        return self._params[name]

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Task) and other.id == self.id)

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in self._params.items())
        where = f", ood_level={self.ood_level!r}, distance={self.distance:.3g}" if self.ood_level else ""
        return f"Task({self.family!r}, {values}{where})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; ``Task.from_dict(task.to_dict()) == task``."""
        return {
            "family": self.family,
            "params": dict(self._params),
            "ood_level": self.ood_level,
            "distance": self.distance,
            "id": self.id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Rebuild and re-validate a task from :meth:`to_dict` output.

        The family's parameter space checks every value; the OOD level, the
        distance and the id, when present, must match what the family computes,
        so a hand-edited or stale task dict fails loudly instead of silently
        meaning something else.
        """
        check_task_dict(data)
        task = family_named(data["family"]).task(**data["params"])
        if "ood_level" in data and data["ood_level"] != task.ood_level:
            raise InvalidTaskError(
                f"task dict says ood_level={data['ood_level']!r} but family {task.family!r} "
                f"places these parameters in {task.ood_level!r}"
            )
        if "distance" in data and not math.isclose(data["distance"], task.distance, rel_tol=1e-9, abs_tol=1e-12):
            raise InvalidTaskError(
                f"task dict says distance={data['distance']!r} but family {task.family!r} computes {task.distance!r}"
            )
        if "id" in data and data["id"] != task.id:
            raise InvalidTaskError(f"task dict id {data['id']!r} does not match its parameters (id {task.id!r})")
        return task


def same_parameters(current: Task | None, task: Task) -> bool:
    """Whether an env simulating ``current`` already simulates ``task``: the same family and equal parameter
    values. Paid at every task switch: ids are compared when both are hashed already (cheapest), the
    parameter values otherwise (hashing two ids would cost more than the switch)."""
    if current is task:
        return True
    if current is None or current.family != task.family:
        return False
    if current._id is not None and task._id is not None:
        return current._id == task._id
    return current.params == task.params
