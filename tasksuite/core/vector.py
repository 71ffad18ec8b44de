"""Vector environments whose sub-environments each simulate their own task.

``gym.make_vec("tasksuite/Navigation-v0", num_envs=N, vectorization_mode="vector_entry_point",
tasks=[...])`` builds one. Families with a native batched simulation subclass
:class:`TaskVectorEnv` (one set of array operations for all N sub-envs; the
MuJoCo families through :class:`~tasksuite.core.mujoco_env.MujocoTaskVectorEnv`,
one ``mujoco.batch.Batch`` stepping every sub-env on threads); the others get
:class:`SyncTaskVectorEnv`, Gymnasium's ``SyncVectorEnv`` over single envs.
Both behave exactly like ``SyncVectorEnv`` over ``family.make_env(task_i)``
(the tests compare trajectories bit for bit):

* ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` (``s``: an integer >= 0,
  NumPy integers included, as in the single env; or a list of one seed per
  sub-env); with ``tasks=None``
  every sub-env draws a new training task at each of its resets.
* Autoreset (Gymnasium 1.x ``AutoresetMode``): ``NEXT_STEP`` (default) — the
  step after a sub-env's episode ends resets it, returning its first
  observation with reward 0 and both flags False, and ignores its action;
  ``SAME_STEP`` — the ending step already returns the next episode's first
  observation, the last one is in ``info["final_obs"]`` (``info["final_info"]``
  holds its info) under the mask ``info["_final_obs"]``.
* ``reset(options={"tasks": [...]})`` switches every sub-env's task;
  ``options={"reset_mask": mask}`` resets only some sub-envs.
* ``call``, ``get_attr`` and ``set_attr`` reach each sub-env's task API, as
  ``SyncVectorEnv``'s reach its envs: ``envs.call("set_task", task)``
  (learn2learn-style) fixes ``task`` in every sub-env, ``envs.get_attr("task")``
  returns each sub-env's task.
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from tasksuite.core.checks import boolean, integer, sequence
from tasksuite.core.checks import options as check_options
from tasksuite.core.checks import seed as check_seed
from tasksuite.core.env import TaskLike, plain_spec
from tasksuite.core.errors import InvalidActionError, InvalidTaskError, UnknownNameError
from tasksuite.core.family import TaskFamily
from tasksuite.core.lookup import family_named
from tasksuite.core.task import Task, same_parameters


def _family(family: str | TaskFamily) -> TaskFamily:
    return family_named(family) if isinstance(family, str) else family


def _check_count(num_envs: object, tasks: Sequence[TaskLike] | None) -> int:
    num_envs = integer("num_envs", num_envs, 1)
    if tasks is not None and len(sequence("tasks", tasks)) != num_envs:
        raise InvalidTaskError(f"num_envs={num_envs} but {len(tasks)} tasks were given: give one task per sub-env")
    return num_envs


def _check_mode(autoreset_mode: AutoresetMode | str) -> AutoresetMode:
    mode = AutoresetMode(autoreset_mode)
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        raise InvalidTaskError(f"autoreset_mode={mode!r} is not supported; use NEXT_STEP or SAME_STEP")
    return mode


def _seeds(seed: int | Sequence[int | None] | None, num_envs: int) -> list[int | None]:
    """Sub-env ``i``'s seed: ``seed + i`` for one seed, ``seed[i]`` for a list (see :func:`checks.seed`)."""
    if not isinstance(seed, (list, tuple)):
        first = check_seed(seed)
        return [None if first is None else first + i for i in range(num_envs)]
    if len(seed) != num_envs:
        raise InvalidTaskError(f"a list of seeds must have num_envs={num_envs} entries, got {len(seed)}")
    return [check_seed(s, f"seed[{i}]") for i, s in enumerate(seed)]


def _reset_mask(mask: object, num_envs: int) -> np.ndarray:
    """The sub-envs a ``reset_mask`` selects: a boolean array (or list of bools) with one entry per sub-env."""
    array = np.asarray(mask)
    if array.dtype != bool or array.shape != (num_envs,):
        raise InvalidTaskError(
            f"reset_mask must hold num_envs={num_envs} booleans, got {mask!r} (shape {array.shape}, {array.dtype})"
        )
    return np.flatnonzero(array)


def _action_batch(actions: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``actions`` as an array of ``shape`` holding numbers (bounds are checked by the caller)."""
    try:
        array = np.asarray(actions)
    except ValueError:  # ragged nested lists
        raise InvalidActionError(f"actions must have shape {shape}, got ragged {type(actions).__name__}") from None
    if array.shape != shape:
        raise InvalidActionError(f"actions must have shape {shape}, got {array.shape}")
    if array.dtype.kind not in "fiu":  # True <= 1.0 holds: booleans would pass the bounds check
        raise InvalidActionError(f"actions must hold numbers, got dtype {array.dtype}")
    return array


def _with_masks(step_info: dict[str, np.ndarray], reported: np.ndarray) -> dict[str, np.ndarray]:
    """A step's info entries, each with its ``_key`` mask: reported by these sub-envs (and its own mask, if any).

    As in ``SyncVectorEnv``, an entry no sub-env reports is left out.
    """
    info = {}
    for key, value in step_info.items():
        if not key.startswith("_"):
            own = step_info.get(f"_{key}")
            mask = reported if own is None else reported & own
            if mask.any():
                info[key] = value
                info[f"_{key}"] = mask
    return info


class _PlainSpec:
    """The ``spec`` property of the task vector envs: plain-data kwargs and the horizon (:func:`plain_spec`)."""

    family: TaskFamily

    @property
    def spec(self) -> EnvSpec | None:
        return self.__dict__.get("_spec")

    @spec.setter
    def spec(self, spec: EnvSpec | None) -> None:
        self.__dict__["_spec"] = plain_spec(spec, self.family.horizon)


class SyncTaskVectorEnv(_PlainSpec, gym.vector.SyncVectorEnv):
    """Gymnasium's ``SyncVectorEnv`` over single envs, one per task: the fallback for families without a batch."""

    def __init__(
        self,
        family: str | TaskFamily,
        num_envs: int = 1,
        tasks: Sequence[TaskLike] | None = None,
        task_observable: bool = False,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ) -> None:
        self.family = _family(family)
        num_envs = _check_count(num_envs, tasks)
        per_env = list(tasks) if tasks is not None else [None] * num_envs
        super().__init__(
            [
                functools.partial(self.family.make_env, task, task_observable=task_observable, render_mode=render_mode)
                for task in per_env
            ],
            autoreset_mode=_check_mode(autoreset_mode),
        )

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        options = check_options(options)
        if "tasks" in options:
            self.set_tasks(options.pop("tasks"))
        if "reset_mask" in options:
            _reset_mask(options["reset_mask"], self.num_envs)  # checked here; SyncVectorEnv applies it
        return super().reset(seed=_seeds(seed, self.num_envs), options=options or None)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        # SyncVectorEnv would split a batch of the wrong shape into too few or too many actions.
        return super().step(_action_batch(actions, self.action_space.shape))

    def get_tasks(self) -> list[Task]:
        """The task of every sub-env."""
        return [env.unwrapped.get_task() for env in self.envs]

    def set_tasks(self, tasks: Sequence[TaskLike]) -> None:
        """Fix one task per sub-env from now on (takes effect at each sub-env's next reset)."""
        _check_count(self.num_envs, tasks)
        checked = [self.family.coerce_task(task) for task in tasks]  # all valid before any sub-env changes
        for env, task in zip(self.envs, checked, strict=True):
            env.unwrapped.set_task(task)


class SubEnv:
    """The task API of one sub-env of a batched :class:`TaskVectorEnv` (what ``call`` and
    ``get_attr`` reach, as ``SyncVectorEnv``'s reach its single envs)."""

    #: The names ``call``, ``get_attr`` and ``set_attr`` accept.
    API: ClassVar[tuple[str, ...]] = ("family", "task", "get_task", "set_task", "sample_tasks")

    def __init__(self, envs: TaskVectorEnv, index: int) -> None:
        self._envs, self._index = envs, index

    @property
    def family(self) -> TaskFamily:
        """The sub-env's family."""
        return self._envs.family

    @property
    def task(self) -> Task:
        """The sub-env's task."""
        return self._envs.get_tasks()[self._index]

    @task.setter
    def task(self, task: TaskLike) -> None:
        self.set_task(task)

    def get_task(self) -> Task:
        """The sub-env's task (learn2learn's ``get_task``)."""
        return self.task

    def set_task(self, task: TaskLike) -> None:
        """Fix the sub-env's task from its next reset on (learn2learn's ``set_task``)."""
        self._envs.set_task(self._index, task)

    def sample_tasks(self, n: int) -> list[Task]:
        """``n`` training tasks, drawn with the sub-env's random stream (seed it with ``reset``)."""
        n = integer("n", n, 0)
        rng = self._envs._stream(self._index)
        if rng is None:
            raise InvalidTaskError("sample_tasks needs the sub-env's random stream: call reset(seed=...) first")
        return self.family.sample_tasks(rng, n)


class TaskVectorEnv(_PlainSpec, gym.vector.VectorEnv):
    """Base of native batched vector envs: N sub-envs of one family stepped by shared array operations.

    Subclasses allocate their per-sub-env arrays in ``__init__``, call
    ``_finish_init()``, and implement ``_configure(index, task)``,
    ``_reset_state(indices, rngs)`` and ``_advance(actions)`` over all sub-envs.
    ``base_observation_space`` is the single env's (observations without the
    task encoding). A subclass may draw the training tasks of many sub-envs at
    once (:meth:`_draw_training_tasks`, :meth:`_build_task`, :meth:`_settle_stream`).
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        family: str | TaskFamily,
        num_envs: int = 1,
        tasks: Sequence[TaskLike] | None = None,
        task_observable: bool = False,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None:
            raise InvalidTaskError(
                "batched envs do not render; render a single env: family.make_env(task, render_mode=...)"
            )
        self.family = _family(family)
        self.num_envs = _check_count(num_envs, tasks)
        self.autoreset_mode = _check_mode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        prototype = self.family.make_env(task_observable=task_observable).unwrapped
        self.single_observation_space = prototype.observation_space
        self.single_action_space = prototype.action_space
        self.base_observation_space = prototype.base_observation_space
        prototype.close()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.task_observable = boolean("task_observable", task_observable)
        self._initial_tasks = None if tasks is None else [self.family.coerce_task(t) for t in tasks]
        self._tasks: list[Task | None] = [None] * self.num_envs
        self._fixed = np.full(self.num_envs, tasks is not None)  # per sub-env, as each single env's own
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._stream_version = np.zeros(self.num_envs, dtype=np.int64)  # counts each sub-env's reseeds
        # Sub-envs whose current (training) task the subclass holds in its arrays only: see _build_task.
        self._unbuilt = np.zeros(self.num_envs, dtype=bool)
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._encodings = np.zeros((self.num_envs, self.family.space.encoding_size), dtype=np.float32)
        self._observations = np.zeros(self.observation_space.shape, dtype=np.float32)
        low, high = self.single_action_space.low, self.single_action_space.high
        # One comparison per step instead of two when the box is symmetric and uniform (the common case).
        self._symmetric_bound = float(high.flat[0]) if np.all(low == -high) and np.all(high == high.flat[0]) else None
        self._all_valid = np.ones(self.num_envs, dtype=bool)
        self._all_valid.flags.writeable = False

    def _finish_init(self) -> None:
        if self._initial_tasks is not None:
            for index, task in enumerate(self._initial_tasks):
                self._switch_task(index, task)
        del self._initial_tasks

    # ------------------------------------------------------------------ hooks

    @abstractmethod
    def _configure(self, index: int, task: Task) -> None:
        """Make sub-env ``index`` simulate ``task``."""

    @abstractmethod
    def _reset_state(self, indices: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        """Start episodes of the sub-envs ``indices``, sub-env ``indices[k]`` drawing from ``rngs[k]``;
        return their observations (without task encoding), one row each."""

    def _draw_training_tasks(self, indices: np.ndarray) -> None:
        """Give each sub-env of ``indices`` a new training task drawn from its own stream, as a single env's reset.

        A subclass may override this to draw for all of them with array operations, writing the
        tasks straight into its arrays: it then marks them in ``self._unbuilt`` and builds their
        :class:`Task` objects only when asked (:meth:`_build_task`).
        """
        family = self.family
        for index in indices:
            self._switch_task(index, family.training_task(self._rngs[index]))

    def _build_task(self, index: int) -> Task:
        """The task of sub-env ``index``, which :meth:`_draw_training_tasks` left unbuilt."""
        raise NotImplementedError(f"{type(self).__name__} left a task unbuilt but does not build it")

    def _settle_stream(self, index: int) -> None:
        """Leave sub-env ``index``'s stream as the draws of its resets so far leave a single env's
        (a subclass that draws tasks ahead rewinds it here); called before anything else draws from it."""

    @abstractmethod
    def _advance(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Step every sub-env: ``(obs, reward, terminated, truncated, info)`` as fresh arrays over sub-envs.

        Observations are float32 rows without the task encoding; ``truncated``
        leaves out the horizon. An info entry that only some sub-envs report
        (as a single env's info has the key or not) comes with its boolean
        mask under ``"_" + key``; entries without one are reported by all.
        """

    # ------------------------------------------------------------------ API

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        options = check_options(options)
        if "tasks" in options:
            self.set_tasks(options.pop("tasks"))
        mask = options.pop("reset_mask", None)
        if options:
            raise InvalidTaskError(f"unknown reset option(s) {sorted(options)}; options are 'tasks' and 'reset_mask'")
        seeds = _seeds(seed, self.num_envs)
        indices = np.arange(self.num_envs) if mask is None else _reset_mask(mask, self.num_envs)
        for index in indices:
            if seeds[index] is not None or self._rngs[index] is None:
                self._rngs[index], _ = seeding.np_random(seeds[index])
                self._stream_version[index] += 1
        self._reset_many(indices)
        self._autoreset[indices] = False
        return self._observations.copy(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = self._check_actions(actions)
        obs, reward, terminated, truncated, step_info = self._advance(actions)
        self._elapsed += 1
        truncated |= self._elapsed >= self.family.horizon
        reported = self._all_valid  # which sub-envs the step's info describes
        if self.task_observable:
            obs = np.concatenate((obs, self._encodings), axis=1)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP and self._autoreset.any():
            # These sub-envs ended last step: this step resets them instead (their action is ignored).
            restarted = np.flatnonzero(self._autoreset)
            self._reset_many(restarted)
            obs[restarted] = self._observations[restarted]
            reward[restarted] = 0.0
            terminated[restarted] = truncated[restarted] = False
            reported = ~self._autoreset
        done = terminated | truncated
        self._observations[:] = obs
        info: dict[str, Any] = {}
        if self.autoreset_mode == AutoresetMode.SAME_STEP and done.any():
            # The ending step's observation and info move to final_obs / final_info; the sub-env restarts now.
            info["final_obs"] = obs.copy()
            info["final_info"] = _with_masks(step_info, done)
            info["_final_obs"] = info["_final_info"] = done
            reported = ~done
            self._reset_many(np.flatnonzero(done))
            obs = self._observations.copy()
        else:
            self._autoreset = done
        info.update(_with_masks(step_info, reported))
        return obs, reward, terminated, truncated, info

    def get_tasks(self) -> list[Task]:
        """The task of every sub-env (after the first reset, or when fixed at construction)."""
        for index in np.flatnonzero(self._unbuilt).tolist():
            self._tasks[index] = self._build_task(index)
        self._unbuilt[:] = False
        if any(task is None for task in self._tasks):
            raise InvalidTaskError("no tasks yet: call reset() first, or build the env with tasks=[...]")
        return list(self._tasks)  # type: ignore[arg-type]

    def set_tasks(self, tasks: Sequence[TaskLike]) -> None:
        """Fix one task per sub-env from now on; call ``reset`` to start their episodes."""
        _check_count(self.num_envs, tasks)
        checked = [self.family.coerce_task(task) for task in tasks]  # all valid before any sub-env changes
        for index, task in enumerate(checked):
            self._switch_task(index, task)
        self._fixed[:] = True

    def set_task(self, index: int, task: TaskLike) -> None:
        """Fix sub-env ``index``'s task from now on (every other sub-env keeps its own)."""
        self._switch_task(index, self.family.coerce_task(task))
        self._fixed[index] = True

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call (or read) ``name`` of every sub-env's task API (:class:`SubEnv`), one result per sub-env."""
        results = []
        for view in self._views(name):
            value = getattr(view, name)
            results.append(value(*args, **kwargs) if callable(value) else value)
        return tuple(results)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """``name`` of every sub-env's task API (:class:`SubEnv`)."""
        return tuple(getattr(view, name) for view in self._views(name))

    def set_attr(self, name: str, values: list[Any] | tuple[Any, ...] | object) -> None:
        """Set ``name`` (only ``"task"`` is settable) of every sub-env: one value each, or one for all."""
        if name != "task":
            raise UnknownNameError(f"set_attr: only 'task' can be set on a sub-env, got {name!r}")
        if isinstance(values, (list, tuple)):
            self.set_tasks(values)
        else:
            self.set_tasks([values] * self.num_envs)

    def _views(self, name: str) -> list[SubEnv]:
        if name not in SubEnv.API:
            raise UnknownNameError(f"sub-envs of a batched env have no {name!r}; they offer {', '.join(SubEnv.API)}")
        return [SubEnv(self, index) for index in range(self.num_envs)]

    # ------------------------------------------------------------------ internals

    def _stream(self, index: int) -> np.random.Generator | None:
        """Sub-env ``index``'s random stream, as a single env's would stand (``None`` before its first reset)."""
        self._settle_stream(index)
        return self._rngs[index]

    def _reset_many(self, indices: np.ndarray) -> None:
        drawing = indices[~self._fixed[indices]]
        if len(drawing):  # like a single env: the new task is drawn before the initial state
            self._draw_training_tasks(drawing)
        self._elapsed[indices] = 0
        first = self._reset_state(indices, [self._rngs[index] for index in indices])
        if self.task_observable:
            first = np.concatenate((first, self._encodings[indices]), axis=1)
        self._observations[indices] = first

    def _switch_task(self, index: int, task: Task) -> None:
        if self._unbuilt[index] or not same_parameters(self._tasks[index], task):
            self._unbuilt[index] = False
            self._configure(index, task)
            if self.task_observable:
                self._encodings[index] = self.family.space.encode(task.params)
        self._tasks[index] = task

    def _check_actions(self, actions: Any) -> np.ndarray:
        array = _action_batch(actions, self.action_space.shape)
        try:
            if self._symmetric_bound is not None:
                inside = bool(np.abs(array).max() <= self._symmetric_bound)  # NaN compares False
            else:
                space = self.single_action_space
                inside = bool(((array >= space.low) & (array <= space.high)).all())
        except TypeError:
            inside = False
        if not inside:
            space = self.single_action_space
            try:
                bad = ~np.all((array >= space.low) & (array <= space.high), axis=tuple(range(1, array.ndim)))
                which = f"actions of sub-env(s) {np.flatnonzero(bad).tolist()}"
            except TypeError:
                which = f"actions of dtype {array.dtype}"
            raise InvalidActionError(
                f"{which} are outside the action space "
                f"[{space.low.tolist()}, {space.high.tolist()}] or not finite; "
                "clip them before stepping (e.g. gymnasium.wrappers.vector.ClipAction)"
            )
        return array
