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
import pickle
from pathlib import Path
from types import ModuleType
from typing import Any

from tasksuite.core.errors import InvalidConfigError, TasksuiteError, UnknownNameError, did_you_mean

ALGORITHMS = ("maml", "rl2", "pearl", "multitask")
#: What to run when torch is missing (``pip install torch`` alone pulls a multi-GB CUDA build on Linux).
INSTALL_TORCH = (
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu, then, from a clone of "
    "tasksuite, pip install '.[baselines]'"
)
_KINDS = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string", tuple: "a list"}


def import_with_torch(module: str) -> ModuleType:
    """Import ``module`` (torch or a module built on it); a missing torch is a :class:`TasksuiteError`
    naming the install commands, the same everywhere (train, validate, load_agent)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != "torch" and not (error.name or "").startswith("torch."):
            raise
        raise TasksuiteError(f"the baselines need torch, which is not installed: {INSTALL_TORCH}") from error


def algorithm(name: str) -> ModuleType:
    """The module of baseline ``name`` (one of :data:`ALGORITHMS`)."""
    if name not in ALGORITHMS:
        raise UnknownNameError(
            f"unknown baseline {name!r}{did_you_mean(name, ALGORITHMS)}; baselines are {', '.join(ALGORITHMS)}"
        )
    return import_with_torch(f"tasksuite.baselines.{name}")


def checkpoint_algorithm(checkpoint: str | os.PathLike[str]) -> str:
    """The baseline that wrote ``checkpoint`` (e.g. ``"maml"``), read without loading its tensors (memory-mapped).

    Raises :class:`TasksuiteError` when the file is not a baseline checkpoint (``OSError`` when it cannot be read).
    """
    torch = import_with_torch("torch")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise TasksuiteError(f"{checkpoint} is not a tasksuite.baselines checkpoint: {error}") from error
    name = state.get("algorithm") if isinstance(state, dict) else None
    if name not in ALGORITHMS:
        raise TasksuiteError(f"{checkpoint} is not a tasksuite.baselines checkpoint: it names no baseline")
    return name


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
    from tasksuite.baselines.common import CHECKPOINT  # torch is there: algorithm() imported it

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TasksuiteError(f"out_dir={str(out)!r} is an existing file; a run directory is a folder")
    if resume and (out / CHECKPOINT).exists():
        found = checkpoint_algorithm(out / CHECKPOINT)
        if found != name:
            raise TasksuiteError(
                f"{out / CHECKPOINT} was written by {found}, not {name}: resume it as {found}, "
                "or give another run directory"
            )
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
        hints = "".join(did_you_mean(field, fields) for field in sorted(unknown))
        raise UnknownNameError(f"{name} has no config field(s) {sorted(unknown)}{hints}; fields are {sorted(fields)}")
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
    return algorithm(checkpoint_algorithm(checkpoint)).load_agent(checkpoint, **options)


def _method_name(checkpoint: str | os.PathLike[str], **options: Any) -> str:
    return checkpoint_algorithm(checkpoint)


# The harness names a run's method by asking its factory (tasksuite.evaluation.agents.Factory.method_name).
load_agent.method_name = _method_name  # type: ignore[attr-defined]
