"""Task families: a parameter space, a training distribution, graded OOD levels and an oracle.

A family module subclasses :class:`TaskFamily` (what tasks exist and how they
are distributed) and :class:`tasksuite.core.env.TaskEnv` (how one task is
simulated), and is registered by one row in :mod:`tasksuite.registry`.

Randomness: split generation draws only from ``numpy.random.default_rng`` seeded
by the split seed; environments draw only from their own ``np_random``. The
global ``numpy.random`` state is never used.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tasksuite.core.errors import InvalidTaskError, TasksuiteError, UnknownNameError, did_you_mean
from tasksuite.core.lookup import family_named
from tasksuite.core.params import ParameterSpace, ParamValue
from tasksuite.core.task import Task

if TYPE_CHECKING:
    import gymnasium as gym

    from tasksuite.core.splits import Splits

Policy = Callable[[np.ndarray], np.ndarray]
Setting = Literal["multi-task", "meta"]
SETTINGS: tuple[str, ...] = ("multi-task", "meta")

# Rejection sampling of OOD tasks gives up after this many proposals per task.
_MAX_PROPOSALS = 100_000


@dataclass(frozen=True)
class OODLevel:
    """A graded region outside the training support.

    Splits sample the level's tasks with ``low <= distance < high``. Every task
    with a positive distance belongs to exactly one level: the last level
    whose ``low`` it reaches (the first level below its ``low``).
    """

    name: str
    low: float
    high: float
    doc: str

    def __post_init__(self) -> None:
        if not 0.0 < self.low < self.high:
            raise ValueError(f"OOD level {self.name!r}: need 0 < low < high, got [{self.low}, {self.high})")


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """``float(rng.uniform(low, high))``: the same draw and arithmetic, ``low + (high - low) * u``,
    at a fraction of the cost of NumPy's argument handling (paid at every reset drawing a task)."""
    return low + (high - low) * rng.random()


class TaskFamily(ABC):
    """A parameterized distribution of tasks.

    Subclasses declare, once:

    * ``space``: the :class:`ParameterSpace` (every task's parameters);
    * ``ood_levels``: the graded :class:`OODLevel` bands;
    * ``horizon``: episode length in steps;
    * ``training_doc``: one sentence describing the training distribution;

    and implement :meth:`sample_training_params`, :meth:`distance`,
    :meth:`propose_ood_params` and :meth:`oracle_policy`.

    Instances are built by the registry (:func:`tasksuite.get_family`), which
    passes the registered name, Gymnasium id and the row's variant options.
    """

    space: ParameterSpace
    ood_levels: tuple[OODLevel, ...]
    horizon: int
    training_doc: str
    distance_unit: str = ""
    #: Where the definition comes from (a paper, a reference implementation), when it reproduces one.
    source: str = ""
    #: Whether :meth:`sample_training_params` returns every parameter, each valid, the whole inside the
    #: training support (distance 0), so that :meth:`training_task` need not check it. Only a family held
    #: to that by a test should set it (tasksuite's own are: ``tests/test_task.py``).
    trusted_sampler: bool = False

    def __init__(self, name: str, env_id: str) -> None:
        match = re.fullmatch(r"tasksuite/[A-Za-z0-9]+-v(\d+)", env_id)
        if match is None:
            raise ValueError(f"env id {env_id!r} must look like 'tasksuite/Name-v0'")
        self.name = name
        self.env_id = env_id
        self.version = int(match.group(1))
        levels = [level.name for level in self.ood_levels]
        ascending = all(a.high <= b.low for a, b in zip(self.ood_levels, self.ood_levels[1:], strict=False))
        if len(set(levels)) != len(levels) or not ascending:
            raise ValueError(f"{name}: OOD levels must have unique names and ascending, non-overlapping bands")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.env_id})>"

    def __reduce__(self) -> tuple:
        # A family is identified by its registered name: unpickling looks it up again.
        return (family_named, (self.name,))

    # ------------------------------------------------------------------ declared by subclasses

    @abstractmethod
    def sample_training_params(self, rng: np.random.Generator) -> dict[str, ParamValue]:
        """Draw one task's parameters from the training distribution."""

    @abstractmethod
    def distance(self, params: Mapping[str, ParamValue]) -> float:
        """Distance from the training support: 0 inside it, > 0 outside, in ``distance_unit``."""

    @abstractmethod
    def propose_ood_params(self, rng: np.random.Generator) -> dict[str, ParamValue]:
        """Propose parameters covering every OOD band; :meth:`sample_ood_params` filters them by distance."""

    @abstractmethod
    def oracle_policy(self, task: Task) -> Policy:
        """A scripted controller that knows ``task``: ``obs -> action``. It defines a normalized score of 1."""

    # ------------------------------------------------------------------ derived

    def disjointness_key(self, task: Task) -> Any:
        """What must differ between train and test tasks; by default the whole task.

        Families whose tasks share an identity (a product shape, say) override
        this so that meta-test tasks are new in that identity.
        """
        return task.id

    def level_of(self, distance: float) -> str | None:
        """OOD level name for a distance from the training support (``None`` at 0)."""
        if distance <= 0.0:
            return None
        if not self.ood_levels:
            raise TasksuiteError(f"{self.name}: declares no OOD levels but a task has distance {distance}")
        level = self.ood_levels[0].name
        for candidate in self.ood_levels:
            if distance >= candidate.low:
                level = candidate.name
        return level

    def get_ood_level(self, name: str) -> OODLevel:
        """The declared OOD level called ``name``."""
        for level in self.ood_levels:
            if level.name == name:
                return level
        names = [level.name for level in self.ood_levels]
        allowed = ", ".join(map(repr, names)) or "none"
        hint = did_you_mean(name, names)
        raise UnknownNameError(f"{self.name}: unknown OOD level {name!r}{hint}; levels are {allowed}")

    def task(self, **params: Any) -> Task:
        """Build a validated task; unspecified parameters take their defaults.

        >>> import tasksuite
        >>> task = tasksuite.get_family("navigation").task(goal_x=0.3, goal_y=0.5)
        >>> task.ood_level is None
        True
        """
        values = self.space.validate(self.name, params)
        distance = float(self.distance(values))
        return Task(self.name, values, self.level_of(distance), distance)

    def training_task(self, rng: np.random.Generator) -> Task:
        """A task drawn from the training distribution: ``self.task(**self.sample_training_params(rng))``.

        A family with :attr:`trusted_sampler` gets the same task from the same draws without
        re-checking what its sampler guarantees, a cost paid at every reset drawing a task.
        """
        if not self.trusted_sampler:
            return self.task(**self.sample_training_params(rng))
        return Task(self.name, self.sample_training_params(rng))

    def coerce_task(self, task: Task | Mapping[str, Any]) -> Task:
        """Accept a :class:`Task`, a ``to_dict()`` dict or a plain parameter dict of this family.

        A :class:`Task` of this family is returned as it is (its builder validated it); dicts are validated.
        """
        if isinstance(task, Task):
            if task.family != self.name:
                raise InvalidTaskError(f"task of family {task.family!r} given to family {self.name!r}")
            return task  # validated when it was built (family.task, Task.from_dict)
        if isinstance(task, Mapping):
            if "family" in task:
                return self.coerce_task(Task.from_dict(task))
            return self.task(**task)
        raise InvalidTaskError(
            f"{self.name}: task must be a Task, a task dict or a parameter dict, got {type(task).__name__}"
        )

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        """``n`` tasks drawn i.i.d. from the training distribution."""
        return [self.training_task(rng) for _ in range(n)]

    def sample_ood_params(self, rng: np.random.Generator, level: OODLevel) -> dict[str, ParamValue]:
        """Parameters whose distance lies in ``[level.low, level.high)``, by rejection from the proposal."""
        for _ in range(_MAX_PROPOSALS):
            params = self.propose_ood_params(rng)
            if level.low <= self.distance(params) < level.high:
                return params
        raise TasksuiteError(
            f"{self.name}: no proposal fell in OOD level {level.name!r} [{level.low}, {level.high}) "
            f"after {_MAX_PROPOSALS} tries; the family's propose_ood_params does not cover that band"
        )

    def splits(
        self,
        seed: int = 0,
        n_train: int = 20,
        n_test: int | None = None,
        n_ood: int = 10,
        setting: Setting = "meta",
    ) -> Splits:
        """Reproducible train / test / OOD splits.

        Args:
            seed: the split seed; the same seed gives the same tasks.
            n_train: number of training tasks.
            n_test: number of test tasks (meta setting only; the multi-task
                setting tests on the training tasks).
            n_ood: number of tasks per OOD level.
            setting: ``"meta"`` (test tasks are new draws from the training
                distribution, disjoint from train) or ``"multi-task"`` (test = train).
        """
        from tasksuite.core.splits import Splits

        if setting not in SETTINGS:
            raise InvalidTaskError(f"setting={setting!r} is not allowed; expected one of {SETTINGS}")
        for name, value in (("seed", seed), ("n_train", n_train), ("n_ood", n_ood)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise InvalidTaskError(f"{name} must be a non-negative integer, got {value!r}")
        if n_train < 1:
            raise InvalidTaskError(f"n_train must be at least 1, got {n_train}")
        if setting == "multi-task":
            if n_test is not None:
                raise InvalidTaskError(
                    "n_test must be None in the multi-task setting: test tasks are the training tasks"
                )
            n_test = 0
        elif isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or n_test < 1:
            raise InvalidTaskError(f"n_test must be a positive integer in the meta setting, got {n_test!r}")

        # Independent streams: adding an OOD level or changing n_ood never changes train/test.
        tasks = self._distinct_training_tasks(np.random.default_rng([seed, 0]), n_train + n_test)
        train, test = tuple(tasks[:n_train]), tuple(tasks[n_train:])
        ood: list[Task] = []
        for index, level in enumerate(self.ood_levels, start=1):
            rng = np.random.default_rng([seed, index])
            ood += [self.task(**self.sample_ood_params(rng, level)) for _ in range(n_ood)]
        splits = Splits(
            family=self.name,
            family_version=self.version,
            seed=int(seed),
            setting=setting,
            train=train,
            test=train if setting == "multi-task" else test,
            ood=tuple(ood),
        )
        splits.check(self.disjointness_key)
        return splits

    def _distinct_training_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        tasks: list[Task] = []
        keys: set[Any] = set()
        for _ in range(max(1000, 100 * n)):
            if len(tasks) == n:
                return tasks
            task = self.training_task(rng)
            key = self.disjointness_key(task)
            if key not in keys:
                keys.add(key)
                tasks.append(task)
        if len(tasks) == n:
            return tasks
        raise InvalidTaskError(
            f"{self.name}: asked for {n} distinct training tasks but the training distribution "
            f"yielded only {len(tasks)}; ask for fewer (n_train + n_test <= {len(tasks)})"
        )

    def make_env(self, task: Task | Mapping[str, Any] | None = None, **kwargs: Any) -> gym.Env:
        """``gymnasium.make`` this family's environment, optionally fixed on ``task``."""
        import gymnasium as gym

        return gym.make(self.env_id, task=task, **kwargs)

    def extra_sections(self) -> dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
        """Family-specific tables for ``tasksuite show`` and the docs: ``{title: (headers, rows)}``."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Everything ``tasksuite show`` and the docs print about the family."""
        return {
            "name": self.name,
            "env_id": self.env_id,
            "version": self.version,
            "horizon": self.horizon,
            "summary": (type(self).__doc__ or "").strip().splitlines()[0],
            "training": self.training_doc,
            "source": self.source,
            "distance_unit": self.distance_unit,
            "parameters": [
                {
                    "name": p.name,
                    "allowed": p.allowed,
                    "default": p.default,
                    "doc": p.doc,
                }
                for p in self.space
            ],
            "ood_levels": [
                {"name": level.name, "low": level.low, "high": level.high, "doc": level.doc}
                for level in self.ood_levels
            ],
        }
