"""Reference agents (MAML, RL², PEARL, multi-task, in-context), installed as ``tasksuite.baselines``.

Each algorithm is one module (``maml``, ``rl2``, ``pearl``, ``multitask``, ``incontext``) with a ``Config``
dataclass, ``train(config, benchmark, out_dir, resume) -> checkpoint path`` and
``load_agent(checkpoint) -> Agent``. This package adds one entry point over them,
:func:`train_baseline`, and :func:`load_agent` for any baseline's checkpoint. Modules import
torch, so they are imported only when used.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from tasksuite.baselines.config import check_value
from tasksuite.core.errors import InvalidConfigError, TasksuiteError, UnknownNameError, did_you_mean

ALGORITHMS = ("maml", "rl2", "pearl", "multitask", "incontext")
#: What to run when torch is missing (``pip install torch`` alone pulls a multi-GB CUDA build on Linux).
INSTALL_TORCH = (
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu, then, from a clone of "
    "tasksuite, pip install '.[baselines]'"
)


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
    common = import_with_torch("tasksuite.baselines.common")
    name = common.load_checkpoint(checkpoint, mmap=True).get("algorithm")
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
    settings: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Path:
    """Train baseline ``name`` on ``benchmark`` (a name or a :class:`Benchmark`) into ``out_dir``.

    ``steps`` overrides the config's environment-step budget and ``overrides`` any other config
    field; ``settings`` holds more of them as a mapping (what ``tasksuite train --set`` collects:
    any name, even one of this function's own parameters, gets a clear error). Returns the
    checkpoint's path; :func:`load_agent` turns it into an agent.
    """
    import tasksuite

    module = algorithm(name)
    twice = sorted(set(settings or {}) & set(overrides))
    if twice:
        raise InvalidConfigError(f"config field(s) {twice} given both in settings and as keyword arguments")
    overrides = {**(settings or {}), **overrides}
    if isinstance(benchmark, str):
        benchmark = tasksuite.make_benchmark(benchmark)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TasksuiteError(f"out_dir={str(out)!r} is an existing file; a run directory is a folder")
    if "seed" in overrides:
        raise InvalidConfigError("give the seed as seed=... (--seed), not as a config override")
    if steps is not None and "total_env_steps" in overrides:
        raise InvalidConfigError("give the budget once: steps=... (--steps) or total_env_steps, not both")
    if steps is not None:
        overrides["total_env_steps"] = steps
    config = module.Config(seed=seed, **checked_overrides(name, module.Config, overrides))
    return module.train(config, benchmark, out_dir, resume=resume)


def checked_overrides(name: str, config_class: type, overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` of baseline ``name``'s config, each checked against its field's default type
    (an int is a valid float, a list a valid tuple) and declared range
    (:mod:`tasksuite.baselines.config`); a clear error names a wrong one."""
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    unknown = set(overrides) - set(fields)
    if unknown:
        hints = "".join(did_you_mean(field, fields) for field in sorted(unknown))
        raise UnknownNameError(f"{name} has no config field(s) {sorted(unknown)}{hints}; fields are {sorted(fields)}")
    return {key: check_value(name, fields[key], value) for key, value in overrides.items()}


def load_agent(checkpoint: str | os.PathLike[str], **options: Any) -> Any:
    """The agent of any baseline's checkpoint (the checkpoint names its algorithm); ``options`` go
    to that baseline's ``load_agent`` (e.g. ``inner_steps`` for MAML).

    Also the harness's agent factory for any checkpoint: ``tasksuite evaluate --agent
    tasksuite.baselines:load_agent --agent-kwargs '{"checkpoint": "runs/maml/checkpoint.pt"}'``.
    It sets torch to one CPU thread, as training does: an agent acts on one observation at a time,
    where more threads only contend once the other cores are busy, as they are when the harness or
    validate runs one worker per core (``benchmarks/test_speed.py``: an RL² agent's steps take 0.48x the
    time of two threads beside one busy process on 2 cores, 0.96x on an idle machine).
    """
    import_with_torch("torch").set_num_threads(1)
    return algorithm(checkpoint_algorithm(checkpoint)).load_agent(checkpoint, **options)


def _method_name(checkpoint: str | os.PathLike[str], **options: Any) -> str:
    return checkpoint_algorithm(checkpoint)


# The harness names a run's method by asking its factory (tasksuite.evaluation.agents.Factory.method_name).
load_agent.method_name = _method_name  # type: ignore[attr-defined]
