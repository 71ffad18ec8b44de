"""Reference agents (MAML, RL², PEARL, multi-task), installed as ``tasksuite.baselines``.

Each algorithm is one module (``maml``, ``rl2``, ``pearl``, ``multitask``) with a ``Config``
dataclass, ``train(config, benchmark, out_dir, resume) -> checkpoint path`` and
``load_agent(checkpoint) -> Agent``. This package adds one entry point over them,
:func:`train_baseline`, and :func:`load_agent` for any baseline's checkpoint. Modules import
torch, so they are imported only when used.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from tasksuite.core.errors import InvalidConfigError, UnknownNameError

ALGORITHMS = ("maml", "rl2", "pearl", "multitask")
_KINDS = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string", tuple: "a list"}


def algorithm(name: str) -> ModuleType:
    """The module of baseline ``name`` (one of :data:`ALGORITHMS`)."""
    if name not in ALGORITHMS:
        raise UnknownNameError(f"unknown baseline {name!r}; baselines are {', '.join(ALGORITHMS)}")
    return importlib.import_module(f"tasksuite.baselines.{name}")


def train_baseline(
    name: str,
    benchmark: str | Any,
    out_dir: str | os.PathLike[str],
    steps: int | None = None,
    seed: int = 0,
    resume: bool = False,
    **overrides: Any,
) -> Path:
    """Train baseline ``name`` on ``benchmark`` (a name or a :class:`Benchmark`) into ``out_dir``.

    ``steps`` overrides the config's environment-step budget and ``overrides`` any other config
    field. Returns the checkpoint's path; :func:`load_agent` turns it into an agent.
    """
    import tasksuite

    module = algorithm(name)
    if isinstance(benchmark, str):
        benchmark = tasksuite.make_benchmark(benchmark)
    if steps is not None:
        overrides["total_env_steps"] = steps
    config = module.Config(seed=seed, **checked_overrides(name, module.Config, overrides))
    return module.train(config, benchmark, out_dir, resume=resume)


def checked_overrides(name: str, config_class: type, overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` of baseline ``name``'s config, each checked against its field's default type
    (an int is a valid float, a list a valid tuple); a clear error names a wrong one."""
    fields = {field.name: field.default for field in dataclasses.fields(config_class)}
    unknown = set(overrides) - set(fields)
    if unknown:
        raise UnknownNameError(f"{name} has no config field(s) {sorted(unknown)}; fields are {sorted(fields)}")
    checked = {}
    for key, value in overrides.items():
        default = fields[key]
        if isinstance(default, tuple) and isinstance(value, list | tuple):
            value = tuple(value)
            valid = all(type(item) is type(default[0]) for item in value) if default else True
        elif isinstance(default, float) and type(value) is int:
            value, valid = float(value), True
        else:
            valid = type(value) is type(default)  # bool is not an int here, nor an int a bool
        if isinstance(value, float) and not math.isfinite(value):
            valid = False
        if not valid:
            raise InvalidConfigError(
                f"{name} config field {key!r} takes {_KINDS[type(default)]} like its default {default!r}, got {value!r}"
            )
        checked[key] = value
    return checked


def load_agent(checkpoint: str | os.PathLike[str], **options: Any) -> Any:
    """The agent of any baseline's checkpoint (the checkpoint names its algorithm); ``options`` go
    to that baseline's ``load_agent`` (e.g. ``inner_steps`` for MAML).

    Also the harness's agent factory for any checkpoint: ``tasksuite evaluate --agent
    tasksuite.baselines:load_agent --agent-kwargs '{"checkpoint": "runs/maml/checkpoint.pt"}'``.
    """
    from tasksuite.baselines.common import load_checkpoint

    return algorithm(load_checkpoint(checkpoint)["algorithm"]).load_agent(checkpoint, **options)
