"""Benchmarks: a family plus fixed splits and a setting."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from tasksuite.core.errors import InvalidTaskError, ManifestError
from tasksuite.core.family import TaskFamily
from tasksuite.core.lookup import family_named
from tasksuite.core.splits import Splits, read_manifest
from tasksuite.core.task import Task


@dataclass(frozen=True)
class Benchmark:
    """A named set of train, test and OOD tasks of one family.

    Attributes:
        name: the benchmark's registered name (or the manifest's).
        family: the :class:`TaskFamily` its tasks belong to.
        splits: the :class:`Splits` fixing its tasks.
    """

    name: str
    family: TaskFamily
    splits: Splits

    def __post_init__(self) -> None:
        if self.splits.family != self.family.name:
            raise ManifestError(
                f"benchmark {self.name!r}: splits are of family {self.splits.family!r}, not {self.family.name!r}"
            )

    @property
    def setting(self) -> str:
        """``"multi-task"`` (test tasks are the training tasks) or ``"meta"`` (test tasks are new)."""
        return self.splits.setting

    @property
    def task_observable(self) -> bool:
        """Whether agents see the task: in the multi-task setting they do (a task-conditioned
        policy over known tasks); in the meta setting they must infer it."""
        return self.setting == "multi-task"

    @property
    def train_tasks(self) -> tuple[Task, ...]:
        """The training tasks."""
        return self.splits.train

    @property
    def test_tasks(self) -> tuple[Task, ...]:
        """The test tasks: the training tasks (multi-task) or new ones (meta)."""
        return self.splits.test

    @property
    def ood_tasks(self) -> tuple[Task, ...]:
        """The OOD tasks of every level, in level order."""
        return self.splits.ood

    def tasks(self, split: str) -> tuple[Task, ...]:
        """Tasks of ``"train"``, ``"test"``, ``"ood"`` or one OOD level (e.g. ``"far"``)."""
        return self.splits.split(split)

    def make_env(self, task: Task | None = None, **kwargs: Any) -> gym.Env:
        """A Gymnasium env of this benchmark's family, fixed on ``task`` if given.

        The task is observable as :attr:`task_observable` says, unless
        ``task_observable=`` is passed explicitly.
        """
        kwargs.setdefault("task_observable", self.task_observable)
        return self.family.make_env(task, **kwargs)

    def make_vec_env(self, tasks: str | Sequence[Task] = "train", **kwargs: Any) -> gym.vector.VectorEnv:
        """A vector env with one sub-env per task: a split name or an explicit task sequence.

        Uses the family's batched vector env where it has one (see
        :mod:`tasksuite.core.vector`); keyword arguments (``task_observable``,
        ``autoreset_mode``) go to it.
        """
        chosen = self.tasks(tasks) if isinstance(tasks, str) else tuple(tasks)
        if not chosen:
            raise InvalidTaskError(f"benchmark {self.name!r}: no tasks to vectorize over")
        kwargs.setdefault("task_observable", self.task_observable)
        return gym.make_vec(
            self.family.env_id, num_envs=len(chosen), vectorization_mode="vector_entry_point", tasks=chosen, **kwargs
        )

    def save_manifest(self, path: str | os.PathLike[str]) -> Path:
        """Write this benchmark's split manifest (atomically)."""
        return self.splits.save(path, benchmark=self.name)

    @classmethod
    def from_manifest(cls, path: str | os.PathLike[str]) -> Benchmark:
        """Load a benchmark from a split manifest file, verifying it."""
        manifest = read_manifest(path)
        splits = Splits.from_manifest(manifest)
        name = manifest.get("benchmark") or Path(path).stem
        return cls(name=str(name), family=family_named(splits.family), splits=splits)

    def __repr__(self) -> str:
        s = self.splits
        return (
            f"Benchmark({self.name!r}, family={self.family.name!r}, setting={s.setting!r}, "
            f"train={len(s.train)}, test={len(s.test)}, ood={len(s.ood)}, seed={s.seed})"
        )
