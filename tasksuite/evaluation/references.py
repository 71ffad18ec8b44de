"""Reference returns: what a uniform-random policy (score 0) and the family's oracle (score 1) get on a task.

A task's references are measured once, on ``n`` reference episodes whose env
seeds derive from the task id alone (not from any run's seed), and cached in
``$TASKSUITE_CACHE`` (default ``~/.cache/tasksuite``) under
``references/<family>/v<version>/<task id>-<seeds digest>.json``: a new family
version or another number of reference episodes is a new key, never a stale hit.
Cache files are written atomically, so concurrent runs at worst compute the same
numbers twice.

A cached reference is checked before use: it must name the family, its version and
the task it is cached for, hold finite returns for the expected seeds, and match its
``check`` digest (a hand-edited or copied file does not). One that does not is
measured again, with a warning saying why.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasksuite.core.errors import IntegrityError
from tasksuite.core.family import TaskFamily
from tasksuite.core.io import atomic_write_json, read_json
from tasksuite.core.task import Task, canonical_json
from tasksuite.evaluation.results import digest
from tasksuite.evaluation.rollout import RandomPolicy, run_episode
from tasksuite.evaluation.trial import derive_seed

DEFAULT_REFERENCE_EPISODES = 20


def cache_dir() -> Path:
    """``$TASKSUITE_CACHE`` if set, else ``~/.cache/tasksuite``."""
    return Path(os.environ.get("TASKSUITE_CACHE") or Path.home() / ".cache" / "tasksuite")


def reference_seeds(task: Task, episodes: int) -> list[int]:
    """Env seeds of a task's reference episodes (the random policy's action seed is derived alongside)."""
    return [derive_seed("reference", task.id, index) for index in range(episodes)]


@dataclass(frozen=True)
class Reference:
    """Per-episode returns of the oracle and of a uniform-random policy on one task."""

    family: str
    family_version: int
    task_id: str
    env_seeds: tuple[int, ...]
    oracle_returns: tuple[float, ...]
    random_returns: tuple[float, ...]

    # Cached: a report normalizes every episode record with them.
    @functools.cached_property
    def oracle(self) -> float:
        """Mean oracle return: the return of normalized score 1."""
        return float(np.mean(self.oracle_returns))

    @functools.cached_property
    def random(self) -> float:
        """Mean random-policy return: the return of normalized score 0."""
        return float(np.mean(self.random_returns))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this value, with a ``check`` digest of its content."""
        data = {
            "family": self.family,
            "family_version": self.family_version,
            "task_id": self.task_id,
            "oracle": self.oracle,
            "random": self.random,
            "env_seeds": list(self.env_seeds),
            "oracle_returns": list(self.oracle_returns),
            "random_returns": list(self.random_returns),
        }
        return {**data, "check": digest(data)}

    @classmethod
    def from_dict(cls, data: Any) -> Reference:
        """Rebuild a reference from :meth:`to_dict` output, checking it: every field present with
        its type, finite returns, one per seed, and the ``check`` digest.

        Raises :class:`IntegrityError` saying what does not match.
        """
        if not isinstance(data, dict) or set(data) != _FIELDS:
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise IntegrityError(f"a reference has exactly the keys {sorted(_FIELDS)}, got {keys}")
        if data["check"] != digest(data):
            raise IntegrityError(f"reference of {data['task_id']!r} does not match its digest (edited?)")
        seeds, oracle, random = data["env_seeds"], data["oracle_returns"], data["random_returns"]
        if not (isinstance(seeds, list) and all(type(s) is int for s in seeds) and seeds):
            raise IntegrityError(f"reference 'env_seeds' must be a non-empty list of integers, got {seeds!r}")
        for name, returns in (("oracle_returns", oracle), ("random_returns", random)):
            if not isinstance(returns, list) or len(returns) != len(seeds) or not all(map(_finite, returns)):
                raise IntegrityError(f"reference {name!r} must hold one finite number per seed, got {returns!r}")
        if not (isinstance(data["family"], str) and type(data["family_version"]) is int):
            raise IntegrityError("reference 'family' must be a string and 'family_version' an integer")
        reference = cls(
            family=data["family"],
            family_version=data["family_version"],
            task_id=str(data["task_id"]),
            env_seeds=tuple(seeds),
            oracle_returns=tuple(float(r) for r in oracle),
            random_returns=tuple(float(r) for r in random),
        )
        if reference.to_dict() != data:  # the means, too, must be those of the returns
            raise IntegrityError(f"reference of {data['task_id']!r}: 'oracle' or 'random' is not the mean return")
        return reference

    def check_for(self, family: TaskFamily, task: Task, episodes: int | None = None) -> Reference:
        """This reference, if it is one of ``task`` of the installed ``family`` (over ``episodes``
        episodes, when given); else :class:`IntegrityError` naming what differs."""
        expected = {"family": family.name, "family_version": family.version, "task_id": task.id}
        found = {"family": self.family, "family_version": self.family_version, "task_id": self.task_id}
        if episodes is not None:
            expected["env_seeds"], found["env_seeds"] = tuple(reference_seeds(task, episodes)), self.env_seeds
        differing = [
            f"{key} {found[key]!r} (expected {value!r})" for key, value in expected.items() if found[key] != value
        ]
        if differing:
            raise IntegrityError(f"reference is not that of task {task.id}: " + ", ".join(differing))
        return self


_FIELDS = {
    "family",
    "family_version",
    "task_id",
    "oracle",
    "random",
    "env_seeds",
    "oracle_returns",
    "random_returns",
    "check",
}


def _finite(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def measure_reference(family: TaskFamily, task: Task, episodes: int = DEFAULT_REFERENCE_EPISODES) -> Reference:
    """Roll out the oracle and a seeded uniform-random policy for ``episodes`` episodes each."""
    env = family.make_env(task)  # returns do not depend on whether the task is observed
    try:
        seeds = reference_seeds(task, episodes)
        oracle = family.oracle_policy(task)
        oracle_returns = tuple(run_episode(env, oracle, seed=s).ret for s in seeds)
        random_returns = tuple(
            run_episode(env, RandomPolicy(env.action_space, seed=derive_seed("random-policy", s)), seed=s).ret
            for s in seeds
        )
    finally:
        env.close()
    return Reference(family.name, family.version, task.id, tuple(seeds), oracle_returns, random_returns)


def cache_path(family: TaskFamily, task: Task, episodes: int, root: Path | None = None) -> Path:
    """Where the reference of ``task`` over ``episodes`` episodes is cached."""
    digest = hashlib.sha256(canonical_json(reference_seeds(task, episodes)).encode("utf-8")).hexdigest()[:12]
    return (root or cache_dir()) / "references" / family.name / f"v{family.version}" / f"{task.id}-{digest}.json"


def load_cached(family: TaskFamily, task: Task, episodes: int, root: Path | None = None) -> Reference | None:
    """The cached reference, or ``None`` if it was never measured, or (with a warning saying why)
    if the cache file is unreadable or does not check out: it is then measured again."""
    path = cache_path(family, task, episodes, root)
    if not path.exists():
        return None
    try:
        return Reference.from_dict(read_json(path)).check_for(family, task, episodes)
    except (OSError, IntegrityError) as error:
        reason = str(error).removeprefix(f"{path}: ")
        warnings.warn(f"reference cache {path} is not used ({reason}); measuring the reference again", stacklevel=2)
        return None


def store(family: TaskFamily, task: Task, reference: Reference, root: Path | None = None) -> None:
    """Cache ``reference`` atomically."""
    atomic_write_json(cache_path(family, task, len(reference.env_seeds), root), reference.to_dict())
