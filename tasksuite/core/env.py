"""The Gymnasium environment base shared by every family.

:class:`TaskEnv` owns what is the same in every family: task handling
(``task=`` at construction, ``reset(options={"task": ...})``, the learn2learn
calls ``sample_tasks`` / ``set_task`` / ``get_task``), seeding, action
validation, the optional task encoding in the observation, and the horizon.
A family's subclass implements the simulation through three hooks:
:meth:`_configure`, :meth:`_reset_state` and :meth:`_advance`.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from tasksuite.core.checks import boolean, integer
from tasksuite.core.checks import options as check_options
from tasksuite.core.checks import seed as check_seed
from tasksuite.core.errors import InvalidActionError, InvalidTaskError, TasksuiteError
from tasksuite.core.family import TaskFamily
from tasksuite.core.lookup import family_named
from tasksuite.core.task import Task, same_parameters

TaskLike = Task | Mapping[str, Any]


def plain_spec(spec: EnvSpec | None, horizon: int) -> EnvSpec | None:
    """``spec`` as tools expect it: tasks in its kwargs as ``to_dict()`` dicts (so that
    ``spec.to_json()`` works and ``gym.make(spec)`` rebuilds the env), and ``max_episode_steps``
    the family's horizon (tools such as sb3-contrib's ``TimeFeatureWrapper`` read it)."""
    if spec is None:
        return None
    kwargs = dict(spec.kwargs)
    if isinstance(kwargs.get("task"), Task):
        kwargs["task"] = kwargs["task"].to_dict()
    if kwargs.get("tasks") is not None:
        kwargs["tasks"] = [t.to_dict() if isinstance(t, Task) else t for t in kwargs["tasks"]]
    return dataclasses.replace(spec, kwargs=kwargs, max_episode_steps=spec.max_episode_steps or horizon)


class TaskEnv(gym.Env[np.ndarray, np.ndarray]):
    """A Gymnasium environment simulating one task of a family at a time.

    Args:
        family: the registered family name (Gymnasium passes it from the
            registration) or a :class:`TaskFamily`.
        task: a :class:`Task`, a ``task.to_dict()`` dict or a plain parameter
            dict. With ``None``, every ``reset`` draws a new task from the
            training distribution with the env's seeded ``np_random``.
        render_mode: ``None``, ``"rgb_array"`` or ``"human"``.
        task_observable: append the task encoding
            (:meth:`ParameterSpace.encode`, values in ``[-1, 1]``) to every
            observation: the variant for multi-task agents. The default hides
            the task, so that it must be inferred (meta-RL).

    Episodes are truncated after ``family.horizon`` steps. Actions outside the
    action space or not finite raise :class:`InvalidActionError`; nothing is
    clipped silently (wrap with ``gymnasium.wrappers.ClipAction`` to clip).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "human"], "render_fps": 30}
    family_class: ClassVar[type[TaskFamily]]

    #: Set by subclasses in ``__init__`` before calling :meth:`_finish_init`.
    base_observation_space: gym.spaces.Box

    def __init__(
        self,
        family: str | TaskFamily,
        task: TaskLike | None = None,
        render_mode: str | None = None,
        task_observable: bool = False,
    ) -> None:
        self.family = family_named(family) if isinstance(family, str) else family
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise InvalidTaskError(
                f"render_mode={render_mode!r} is not supported; expected None or one of {self.metadata['render_modes']}"
            )
        self.render_mode = render_mode
        self.task_observable = boolean("task_observable", task_observable)
        self._task: Task | None = None
        self._task_encoding: np.ndarray | None = None
        self._task_fixed = task is not None
        self._elapsed = 0
        self._initial_task = task

    def _finish_init(self) -> None:
        """Build the observation space and apply a task given at construction. Subclasses call it last."""
        base = self.base_observation_space
        if self.task_observable:
            size = self.family.space.encoding_size
            self.observation_space = gym.spaces.Box(
                low=np.concatenate([base.low, -np.ones(size, dtype=np.float32)]),
                high=np.concatenate([base.high, np.ones(size, dtype=np.float32)]),
                dtype=np.float32,
            )
        else:
            self.observation_space = base
        assert isinstance(self.action_space, gym.spaces.Box)
        self._action_low = self.action_space.low
        self._action_high = self.action_space.high
        lows, highs = self._action_low.ravel().tolist(), self._action_high.ravel().tolist()
        uniform = len(set(lows)) == 1 and len(set(highs)) == 1
        self._action_bounds = (lows[:1], highs[:1]) if uniform else (lows, highs)
        self._action_shape = self._action_low.shape
        if self._initial_task is not None:
            self._switch_task(self.family.coerce_task(self._initial_task))
        del self._initial_task

    @property  # type: ignore[override]
    def spec(self) -> EnvSpec | None:
        """The env's spec (set by ``gym.make``), with plain-data kwargs and the horizon (:func:`plain_spec`)."""
        return self.__dict__.get("_spec")

    @spec.setter
    def spec(self, spec: EnvSpec | None) -> None:
        self.__dict__["_spec"] = plain_spec(spec, self.family.horizon)

    # ------------------------------------------------------------------ hooks for families

    @abstractmethod
    def _configure(self, task: Task) -> None:
        """Make the simulation simulate ``task`` (cheap: mutate parameters, never rebuild)."""

    @abstractmethod
    def _reset_state(self) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode of the current task, drawing randomness from ``self.np_random``."""

    @abstractmethod
    def _advance(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply a validated action: ``(obs, reward, terminated, truncated, info)`` without the horizon."""

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode.

        ``seed`` seeds ``np_random``, which draws both the task (when none is
        fixed) and the initial state: ``None`` or an integer >= 0, a NumPy integer
        included (the vector envs' rule too; see :mod:`tasksuite.core.checks`).
        ``options={"task": task}`` fixes a new task.
        """
        super().reset(seed=check_seed(seed))  # NumPy integers too: one rule with the vector envs
        options = check_options(options)
        if "task" in options:
            self.set_task(options.pop("task"))
        if options:
            raise InvalidTaskError(f"unknown reset option(s) {sorted(options)}; the only option is 'task'")
        if not self._task_fixed:
            self._switch_task(self.family.training_task(self.np_random))
        elif self._task is None:
            raise TasksuiteError("internal error: a fixed task was never applied")
        self._elapsed = 0
        obs, info = self._reset_state()
        info["task_id"] = self.task.id
        if self.render_mode == "human":
            self.render()
        return self._observe(obs), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Apply ``action``: ``(obs, reward, terminated, truncated, info)``; truncated at the horizon."""
        obs, reward, terminated, truncated, info = self._advance(self._check_action(action))
        self._elapsed += 1
        if self.render_mode == "human":
            self.render()
        # Plain Python types, as Gymnasium's and SB3's checkers require (families may compute NumPy scalars).
        truncated = bool(truncated) or self._elapsed >= self.family.horizon
        return self._observe(obs), float(reward), bool(terminated), truncated, info

    def _observe(self, obs: np.ndarray) -> np.ndarray:
        if self._task_encoding is None:
            return obs
        return np.concatenate((obs, self._task_encoding))

    def _check_action(self, action: Any) -> np.ndarray:
        array = np.asarray(action)
        if array.shape != self._action_shape:
            raise InvalidActionError(f"action must have shape {self._action_shape}, got {array.shape} ({action!r})")
        if array.dtype.kind not in "fiu":  # True <= 1.0 holds: booleans would pass the bounds check
            raise InvalidActionError(f"action must hold numbers, got dtype {array.dtype} ({action!r})")
        if not self._inside_action_space(array):
            raise InvalidActionError(
                f"action {array.tolist()!r} is outside the action space "
                f"[{self._action_low.tolist()}, {self._action_high.tolist()}] or not finite; "
                "wrap the env with gymnasium.wrappers.ClipAction to clip actions"
            )
        return array

    def _inside_action_space(self, array: np.ndarray) -> bool:
        # Paid every step: for the few numbers of an action, Python comparisons cost a fifth of
        # NumPy's elementwise ones and reductions. NaN fails them; non-numbers raise TypeError.
        lows, highs = self._action_bounds
        values = array.ravel().tolist()
        try:
            if len(lows) == 1:  # one bound for every dimension: the common case
                low, high = lows[0], highs[0]
                for value in values:
                    if not low <= value <= high:
                        return False
                return True
            for value, low, high in zip(values, lows, highs, strict=True):
                if not low <= value <= high:
                    return False
        except TypeError:
            return False
        return True

    # ------------------------------------------------------------------ task API (learn2learn-style)

    @property
    def task(self) -> Task:
        """The task being simulated."""
        if self._task is None:
            raise TasksuiteError("no task yet: call reset() first, or build the env with task=...")
        return self._task

    @task.setter
    def task(self, task: TaskLike) -> None:
        self.set_task(task)  # so that a vector env's set_attr("task", ...) fixes it, as set_task does

    def get_task(self) -> Task:
        """The task being simulated (learn2learn's ``get_task``)."""
        return self.task

    def set_task(self, task: TaskLike) -> None:
        """Fix the task from now on; call ``reset`` to start an episode of it."""
        self._switch_task(self.family.coerce_task(task))
        self._task_fixed = True

    def sample_tasks(self, n: int) -> list[Task]:
        """``n`` tasks from the training distribution, drawn with the env's ``np_random``."""
        return self.family.sample_tasks(self.np_random, integer("n", n, 0))

    def _switch_task(self, task: Task) -> None:
        if not same_parameters(self._task, task):
            self._configure(task)
            if self.task_observable:
                self._task_encoding = self.family.space.encode(task.params)
        self._task = task
