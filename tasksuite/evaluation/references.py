"""Reference returns: what a uniform-random policy (score 0) and the family's oracle (score 1) get on a task.

A task's references are measured once, on ``n`` reference episodes whose env
seeds derive from the task id alone (not from any run's seed), and cached in
``$TASKSUITE_CACHE`` (default ``~/.cache/tasksuite``) under
``references/<family>/v<version>/<task id>-<seeds digest>.json``: a new family
version or another number of reference episodes is a new key, never a stale hit.
Cache files are written atomically, so concurrent runs at worst compute the same
numbers twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasksuite.core.family import TaskFamily
from tasksuite.core.io import atomic_write_json
from tasksuite.core.task import Task, canonical_json
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

    task_id: str
    env_seeds: tuple[int, ...]
    oracle_returns: tuple[float, ...]
    random_returns: tuple[float, ...]

    @property
    def oracle(self) -> float:
        """Mean oracle return: the return of normalized score 1."""
        return float(np.mean(self.oracle_returns))

    @property
    def random(self) -> float:
        """Mean random-policy return: the return of normalized score 0."""
        return float(np.mean(self.random_returns))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this value."""
        return {
            "task_id": self.task_id,
            "oracle": self.oracle,
            "random": self.random,
            "env_seeds": list(self.env_seeds),
            "oracle_returns": list(self.oracle_returns),
            "random_returns": list(self.random_returns),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        return cls(
            task_id=str(data["task_id"]),
            env_seeds=tuple(int(s) for s in data["env_seeds"]),
            oracle_returns=tuple(float(r) for r in data["oracle_returns"]),
            random_returns=tuple(float(r) for r in data["random_returns"]),
        )


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
    return Reference(task.id, tuple(seeds), oracle_returns, random_returns)


def cache_path(family: TaskFamily, task: Task, episodes: int, root: Path | None = None) -> Path:
    """Where the reference of ``task`` over ``episodes`` episodes is cached."""
    digest = hashlib.sha256(canonical_json(reference_seeds(task, episodes)).encode("utf-8")).hexdigest()[:12]
    return (root or cache_dir()) / "references" / family.name / f"v{family.version}" / f"{task.id}-{digest}.json"


def load_cached(family: TaskFamily, task: Task, episodes: int, root: Path | None = None) -> Reference | None:
    """The cached reference, or ``None`` if it was never measured (or the cache file is unreadable)."""
    path = cache_path(family, task, episodes, root)
    try:
        return Reference.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(family: TaskFamily, task: Task, reference: Reference, root: Path | None = None) -> None:
    """Cache ``reference`` atomically."""
    atomic_write_json(cache_path(family, task, len(reference.env_seeds), root), reference.to_dict())
