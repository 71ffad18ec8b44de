"""What every MuJoCo family shares: model loading, frame skip, the instability guard, rendering.

Physics, task and environment stay separate (as in dm_control): the MJCF in
``assets/`` is the physics, compiled once per process and copied per env; the
family's ``_configure`` writes a task's parameters into the env's own
``MjModel`` fields (never recompiling); this class steps it and keeps NaN and
exploding states away from the caller.
"""

from __future__ import annotations

import copy
import functools
import os
import statistics
import time
from abc import abstractmethod
from importlib import resources
from typing import Any, ClassVar

import numpy as np

from tasksuite.core.env import TaskEnv, TaskLike
from tasksuite.core.errors import InvalidTaskError, TasksuiteError
from tasksuite.core.family import TaskFamily
from tasksuite.core.vector import TaskVectorEnv

# MUJOCO_GL values that ask for offscreen rendering without a display.
_HEADLESS_GL = ("egl", "osmesa")


def _mujoco() -> Any:
    try:
        import mujoco
    except ImportError as error:  # pragma: no cover - mujoco is a core dependency
        raise ImportError("the MuJoCo families need mujoco: pip install tasksuite (mujoco is a dependency)") from error
    return mujoco


def asset_path(name: str) -> str:
    """Filesystem path of ``name`` inside the installed ``tasksuite.assets`` package."""
    path = resources.files("tasksuite.assets") / name
    if not path.is_file():
        raise FileNotFoundError(f"asset {name!r} is not installed in tasksuite.assets")
    return os.fspath(path)


@functools.cache
def divergence_warnings() -> tuple[int, ...]:
    """The MuJoCo warnings that mean a simulation diverged (MuJoCo then resets its state itself)."""
    warning = _mujoco().mjtWarning
    return tuple(int(kind) for kind in (warning.mjWARN_BADQPOS, warning.mjWARN_BADQVEL, warning.mjWARN_BADQACC))


class DivergenceGuard:
    """The one rule by which single and batched MuJoCo envs tell that a simulation diverged.

    A simulation diverged during a step if MuJoCo counted one of
    :func:`divergence_warnings` (counts are cleared by a reset only) or if its
    observation left the declared bounds (NaN included: it fails both
    comparisons).
    """

    def __init__(self, observation_space: Any) -> None:
        self.low, self.high = observation_space.low, observation_space.high
        self._bounds = list(zip(self.low.tolist(), self.high.tolist(), strict=True))
        self._warnings = divergence_warnings()

    def diverged(self, warning_counts: np.ndarray, obs: np.ndarray) -> bool:
        """One simulation: its ``(nwarning,)`` warning counts and its observation."""
        # Paid every step of a single env: for a few numbers, Python comparisons cost a third of NumPy's.
        for kind in self._warnings:
            if warning_counts.item(kind):
                return True
        for value, (low, high) in zip(obs.tolist(), self._bounds, strict=True):
            if not low <= value <= high:
                return True
        return False

    def diverged_rows(self, warning_counts: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """A batch: ``(nsim, nwarning)`` warning counts and observation rows; one bool per simulation."""
        inside = (obs >= self.low) & (obs <= self.high)
        if not warning_counts.any() and inside.all():  # the common case: whole-array reductions are cheaper
            return np.zeros(len(obs), dtype=bool)
        return warning_counts[:, self._warnings].any(axis=1) | ~inside.all(axis=1)


# The default thread count of each (vector env class, num_envs), measured by fastest_thread_count.
_DEFAULT_THREADS: dict[tuple[str, int], int] = {}


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def fastest_thread_count(model: Any, nsim: int, frame_skip: int, rounds: int = 3) -> int:
    """The thread count at which ``nsim`` simulations of ``model`` step fastest on this machine now.

    Candidates are 1, 2, 4, ... up to :func:`usable_cores` (and no more than ``nsim``), timed
    stepping ``frame_skip`` physics steps in alternating rounds on probe batches of at most 64
    simulations; the fastest median wins. Tens of milliseconds.
    """
    from mujoco import batch

    candidates = sorted({min(2**k, usable_cores(), nsim) for k in range(usable_cores().bit_length() + 1)})
    if len(candidates) == 1:
        return candidates[0]
    probes = {threads: batch.Batch(model, min(nsim, 64), threads) for threads in candidates}
    for probe in probes.values():
        probe.reset()
        probe.step(nstep=frame_skip)  # threads started, caches warm
    times: dict[int, list[float]] = {threads: [] for threads in candidates}
    for _ in range(rounds):
        for threads, probe in probes.items():
            start = time.perf_counter()
            probe.step(nstep=frame_skip)
            times[threads].append(time.perf_counter() - start)
    return min(candidates, key=lambda threads: statistics.median(times[threads]))


@functools.cache
def _compiled(name: str) -> Any:
    return _mujoco().MjModel.from_xml_path(asset_path(name))


def load_model(name: str) -> Any:
    """A private copy of the MJCF model ``name``, compiled once per process."""
    return copy.copy(_compiled(name))


class MujocoTaskEnv(TaskEnv):
    """Base environment of the MuJoCo families.

    Subclasses set ``model_file`` and ``frame_skip``, call ``super().__init__``
    (which loads ``self.model`` and ``self.data``), create their spaces, call
    ``_finish_init()``, and implement:

    * ``_configure(task)``: write the task's parameters into ``self.model``;
    * ``_reset_state()``: set ``self.data``'s initial state from ``np_random``;
    * ``_set_control(action)``: write the action into ``self.data.ctrl``;
    * ``_observation()``: the observation after a step;
    * ``_evaluate(obs)``: ``(reward, terminated, info)``, with ``info["success"]``.

    If the simulation diverges (MuJoCo resets itself on NaN or huge positions,
    velocities or accelerations, or an observation leaves
    ``base_observation_space``, NaN included), the step returns the last valid
    observation and reward, truncates the episode and sets
    ``info["physics_unstable"] = True``; so does every further step until the
    next ``reset``. Declare bounds the physics cannot reach unless it exploded.

    ``render_mode="rgb_array"`` renders offscreen with ``mujoco.Renderer``
    (headless: set ``MUJOCO_GL=egl`` or ``osmesa``); ``"human"`` opens MuJoCo's
    passive viewer, which needs a display (with no display but ``MUJOCO_GL``
    set headless, it draws offscreen and shows nothing, as pygame's dummy
    video driver does; with neither, it raises).
    """

    model_file: ClassVar[str]
    frame_skip: ClassVar[int]
    camera: ClassVar[str | int] = -1
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "human"], "render_fps": 50}

    def __init__(
        self,
        family: str | TaskFamily,
        task: TaskLike | None = None,
        render_mode: str | None = None,
        task_observable: bool = False,
        width: int = 480,
        height: int = 480,
    ) -> None:
        super().__init__(family, task, render_mode, task_observable)
        self._mujoco = _mujoco()
        self.model = load_model(self.model_file)
        self.data = self._mujoco.MjData(self.model)
        self._warning_counts = self.data.warning.number  # a live view: read every step
        self.width, self.height = int(width), int(height)
        self.dt = self.model.opt.timestep * self.frame_skip
        self._renderer: Any = None
        self._viewer: Any = None
        self._last_obs: np.ndarray | None = None
        self._last_reward = 0.0

    def _finish_init(self) -> None:
        self._guard = DivergenceGuard(self.base_observation_space)
        super()._finish_init()

    def set_model(self, model: Any, data: Any = None) -> None:
        """Simulate another compiled model (families whose tasks change geometry).

        ``data`` is an ``MjData`` of ``model`` to reuse (one kept from an earlier
        switch: allocating one costs more than a dozen physics steps); by default
        a new one is made. Reset it before simulating.
        """
        self.model = model
        self.data = self._mujoco.MjData(model) if data is None else data
        self._warning_counts = self.data.warning.number
        self._close_renderers()

    # ------------------------------------------------------------------ hooks

    @abstractmethod
    def _set_control(self, action: np.ndarray) -> None:
        """Write a validated action into ``self.data``."""

    @abstractmethod
    def _observation(self) -> np.ndarray:
        """The observation of the current state (float32, without the task encoding)."""

    @abstractmethod
    def _evaluate(self, obs: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        """``(reward, terminated, info)`` of the current state; ``info`` has ``success``."""

    # ------------------------------------------------------------------ stepping

    def _reset_physics(self) -> None:
        """Reset ``self.data`` to the model's initial state (call first in ``_reset_state``)."""
        self._mujoco.mj_resetData(self.model, self.data)

    def _start_episode(self) -> tuple[np.ndarray, dict[str, Any]]:
        """Finish ``_reset_state``: recompute derived quantities and return the first observation."""
        self._mujoco.mj_forward(self.model, self.data)
        obs = self._observation()
        self._last_obs, (self._last_reward, _, _) = obs, self._evaluate(obs)
        return obs, {}

    def _advance(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._set_control(action)
        self._mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        obs = self._observation()
        # MuJoCo resets a diverging simulation and counts a warning, also within an episode's first
        # step, where the clock would not show the jump; a state beyond the declared bounds has exploded too.
        if self._guard.diverged(self._warning_counts, obs):
            assert self._last_obs is not None
            return self._last_obs.copy(), self._last_reward, False, True, {"success": False, "physics_unstable": True}
        reward, terminated, info = self._evaluate(obs)
        self._last_obs, self._last_reward = obs, reward
        return obs, reward, terminated, False, info

    # ------------------------------------------------------------------ rendering

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self._offscreen_frame()
        if self.render_mode == "human":
            if self._viewer is None:
                if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
                    if os.environ.get("MUJOCO_GL") in _HEADLESS_GL:
                        # Headless on purpose (as pygame's dummy video driver): draw, show nothing.
                        self._offscreen_frame()
                        return None
                    raise TasksuiteError(
                        "render_mode='human' opens MuJoCo's viewer and needs a display; "
                        "use render_mode='rgb_array' on a headless machine"
                    )
                import mujoco.viewer

                self._viewer = mujoco.viewer.launch_passive(self.model, self.data)
            self._viewer.sync()
        return None

    def _offscreen_frame(self) -> np.ndarray:
        if self._renderer is None:
            self._renderer = self._mujoco.Renderer(self.model, self.height, self.width)
        self._renderer.update_scene(self.data, camera=self.camera)
        return self._renderer.render()

    def _close_renderers(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None

    def close(self) -> None:
        self._close_renderers()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_renderer"] = state["_viewer"] = None  # GL contexts and windows are not state
        state.pop("_mujoco")
        state.pop("_warning_counts")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._mujoco = _mujoco()
        self._warning_counts = self.data.warning.number


class MujocoTaskVectorEnv(TaskVectorEnv):
    """Base of the MuJoCo families' batched vector envs: N sub-envs stepped together by one ``mujoco.batch.Batch``.

    A sub-env simulates its task either on rows of the batch's model fields
    expanded per simulation (``Batch.expand``, ``Batch.set_const``: tasks that
    change parameters only share one model) or on its own ``MjModel``
    (``Batch.set_models``: one model per simulation, all of one ``MjData``
    layout), written in place by the code the single env uses. A step writes every sub-env's
    action into the batch's control rows, advances all simulations by
    ``frame_skip`` physics steps on the batch's threads (no Python loop per
    sub-env), and computes observations, rewards and the divergence check
    with array operations over all sub-envs. Trajectories are bit-for-bit
    those of ``SyncVectorEnv`` over :attr:`env_class` envs: ``mujoco.batch``
    matches a loop over one ``MjData`` per simulation at any thread count,
    and observations and rewards come from the functions the single env uses.

    * Arguments (by keyword through ``gym.make_vec``): ``num_envs``,
      ``tasks`` (one per sub-env; ``None``: each reset draws a training task),
      ``task_observable``, ``autoreset_mode`` and ``num_threads``.
    * Seeding (sub-env ``i`` from ``seed + i``),
      ``reset(options={"tasks": ..., "reset_mask": ...})`` and autoreset
      (Gymnasium 1.x ``AutoresetMode.NEXT_STEP``, the default: the step after
      an episode ends resets the sub-env; or ``SAME_STEP``: the ending step
      resets it and returns its last observation in ``info["final_obs"]``)
      are :mod:`tasksuite.core.vector`'s.
    * Divergence: a sub-env whose simulation diverges (see
      :class:`DivergenceGuard`) is truncated alone, as a single env would be:
      its step returns its last valid observation and reward, success False,
      ``info["physics_unstable"]`` True under the mask
      ``info["_physics_unstable"]`` (its other info entries are masked out,
      zero); the others step on undisturbed. Its next reset, autoreset
      included, starts it afresh. Observations are never NaN.
    * Threads: ``num_threads`` threads, the calling one included; results do
      not depend on it. Every step waits for the slowest thread, so where
      other processes keep the cores busy fewer threads are faster: the
      default is the count that stepped fastest when measured
      (:func:`fastest_thread_count`, once per process).
    * :attr:`batch` is the ``mujoco.batch.Batch``: bind more fields from it
      to read them (``batch.bind("cfrc_ext")``), or materialize a sub-env
      with ``batch.get_model(i)`` / ``batch.get_data(i)`` to render it.

    Subclasses set :attr:`env_class`, pass a model of the layout to
    ``__init__``, bind the fields they read, call ``_finish_init()`` and
    implement:

    * ``_configure(index, task)``: write the task into the sub-env's rows of
      expanded fields and call :meth:`_derive_constants`, or into the
      sub-env's own model and hand it to :meth:`_simulate`;
    * ``_reset_state(indices, rngs)``: :meth:`_reset_physics`, write the
      initial states into the bound state rows (``self._qpos[index]`` ...),
      return :meth:`_start_episodes`;
    * ``_observation(rows)`` and ``_evaluate(obs, rows)``: the single env's
      ``_observation`` and ``_evaluate`` over the sub-envs ``rows`` (a slice
      or indices), as arrays.
    """

    #: The single env whose trajectories this vector env reproduces (frame skip, spaces).
    env_class: ClassVar[type[MujocoTaskEnv]]

    def __init__(
        self,
        family: str | TaskFamily,
        num_envs: int,
        model: Any,
        *,
        num_threads: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(family, num_envs, **kwargs)
        from mujoco import batch

        if num_threads is None:  # measured once per process for each kind of vector env and size
            key = (type(self).__name__, self.num_envs)
            if key not in _DEFAULT_THREADS:
                _DEFAULT_THREADS[key] = fastest_thread_count(model, self.num_envs, self.env_class.frame_skip)
            num_threads = _DEFAULT_THREADS[key]
        if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
            raise InvalidTaskError(f"num_threads must be a positive integer, got {num_threads!r}")
        self._mujoco = _mujoco()
        self.frame_skip = self.env_class.frame_skip
        self.num_threads = min(int(num_threads), self.num_envs)
        self.batch = batch.Batch(model, self.num_envs, self.num_threads)
        self._model = model
        # Each sub-env's own model, once _simulate gave it one; until then all share the batch's.
        self._models: list[Any] | None = None
        self._models_changed = False
        self._constants_stale = np.zeros(self.num_envs, dtype=bool)
        self._warning_counts = self.batch.warning[..., 1]  # live (nsim, nwarning) view
        self._qpos, self._qvel, self._ctrl = (self.batch.bind(name) for name in ("qpos", "qvel", "ctrl"))
        self._guard = DivergenceGuard(self.base_observation_space)
        self._last_obs = np.zeros((self.num_envs, *self.base_observation_space.shape), dtype=np.float32)
        self._last_reward = np.zeros(self.num_envs)

    # ------------------------------------------------------------------ hooks

    @abstractmethod
    def _observation(self, rows: slice | np.ndarray) -> np.ndarray:
        """Observations (float32 rows, without the task encoding) of the sub-envs ``rows``."""

    @abstractmethod
    def _evaluate(self, obs: np.ndarray, rows: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """``(reward, terminated, info)`` arrays of the sub-envs ``rows``; ``info`` has ``success``."""

    # ------------------------------------------------------------------ for subclasses

    def _simulate(self, index: int, model: Any) -> None:
        """Step sub-env ``index`` on ``model`` from now on (call after every write to a sub-env's model)."""
        if self._models is None:
            self._models = [self._model] * self.num_envs
        self._models[index] = model
        self._models_changed = True

    def _derive_constants(self, index: int) -> None:
        """Recompute what ``mj_setConst`` derives for sub-env ``index`` before it next simulates (call after
        writing its rows of fields expanded with ``batch.expand``: the subclasses that share one model)."""
        self._constants_stale[index] = True

    def _reset_physics(self, indices: np.ndarray) -> None:
        """Reset these sub-envs to their models' initial states (call first in ``_reset_state``)."""
        self._sync_models()
        self.batch.reset(indices, stage=self._mujoco.mjtStage.mjSTAGE_NONE)

    def _start_episodes(self, indices: np.ndarray) -> np.ndarray:
        """Finish ``_reset_state``: recompute derived quantities and return the first observations."""
        self.batch.forward(indices)
        obs = self._observation(indices)
        self._last_obs[indices] = obs
        self._last_reward[indices] = self._evaluate(obs, indices)[0]
        return obs

    # ------------------------------------------------------------------ stepping

    def _sync_models(self) -> None:
        if self._models_changed:  # the batch reads its models' fields, but must be told of new ones
            self.batch.set_models(self._models)
            self._models_changed = False
        if self._constants_stale.any():
            self.batch.set_const(np.flatnonzero(self._constants_stale))
            self._constants_stale[:] = False

    def _advance(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        self._ctrl[:] = actions
        self._sync_models()
        self.batch.step(nstep=self.frame_skip)
        everyone = slice(None)
        obs = self._observation(everyone)
        unstable = self._guard.diverged_rows(self._warning_counts, obs)
        reward, terminated, info = self._evaluate(obs, everyone)
        if not unstable.any():
            self._last_obs[:] = obs
            self._last_reward[:] = reward
            return obs, reward, terminated, unstable, info
        # As SyncVectorEnv over single envs: the last valid observation and reward, success False, truncated,
        # flagged; the sub-env's other info entries unreported (masked out, zero: SyncVectorEnv's fill).
        stable = ~unstable
        self._last_obs[stable] = obs[stable]
        self._last_reward[stable] = reward[stable]
        obs[unstable] = self._last_obs[unstable]
        reward[unstable] = self._last_reward[unstable]
        terminated[unstable] = False
        for key, value in list(info.items()):
            value[unstable] = 0
            if key != "success":
                info[f"_{key}"] = stable
        info["physics_unstable"] = info["_physics_unstable"] = unstable
        return obs, reward, terminated, unstable.copy(), info
