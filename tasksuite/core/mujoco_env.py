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
from abc import abstractmethod
from importlib import resources
from typing import Any, ClassVar

import numpy as np

from tasksuite.core.env import TaskEnv, TaskLike
from tasksuite.core.errors import TasksuiteError
from tasksuite.core.family import TaskFamily

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
        warning = self._mujoco.mjtWarning
        self._divergence_warnings = tuple(
            int(kind) for kind in (warning.mjWARN_BADQPOS, warning.mjWARN_BADQVEL, warning.mjWARN_BADQACC)
        )
        self.model = load_model(self.model_file)
        self.data = self._mujoco.MjData(self.model)
        self._warning_counts = self.data.warning.number  # a live view: read every step
        self.width, self.height = int(width), int(height)
        self.dt = self.model.opt.timestep * self.frame_skip
        self._renderer: Any = None
        self._viewer: Any = None
        self._last_obs: np.ndarray | None = None
        self._last_reward = 0.0

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
        # MuJoCo resets a diverging simulation and counts a warning (cleared by mj_resetData), also
        # within an episode's first step, where the clock would not show the jump. A state beyond
        # the declared bounds has exploded too; NaN fails both comparisons.
        counts = self._warning_counts
        bad_qpos, bad_qvel, bad_qacc = self._divergence_warnings
        space = self.base_observation_space
        if (
            counts.item(bad_qpos)
            or counts.item(bad_qvel)
            or counts.item(bad_qacc)
            or np.count_nonzero((obs >= space.low) & (obs <= space.high)) != obs.size  # cheaper than .all()
        ):
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
