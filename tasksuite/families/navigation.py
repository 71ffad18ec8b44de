"""Point navigation: a 2-D point robot must reach a goal it cannot see.

Pure NumPy; rendering with pygame. The robot starts at the origin (as in the MAML
and PEARL tasks), its action is a velocity, and the reward tells it (densely or sparsely) how close it is
to the goal, so that a meta-RL agent must infer the goal from rewards.

Three registered variants share this module (see :data:`PRESETS`):

* ``navigation`` (``tasksuite/Navigation-v0``): goals on the upper half-disc of
  radius 1; OOD goals below it and beyond it.
* ``navigation-maml`` (``tasksuite/NavigationMAML-v0``): the 2-D navigation task
  of Finn et al. 2017 (MAML), exactly.
* ``point-robot-sparse`` (``tasksuite/PointRobotSparse-v0``): the sparse point
  robot of Rakelly et al. 2019 (PEARL), exactly.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import gymnasium as gym
import numpy as np

from tasksuite.core.env import TaskEnv, TaskLike
from tasksuite.core.errors import UnknownNameError, did_you_mean
from tasksuite.core.family import OODLevel, Policy, TaskFamily
from tasksuite.core.params import Categorical, Continuous, ParameterSpace, ParamValue
from tasksuite.core.task import Task
from tasksuite.core.vector import TaskVectorEnv

# Goals this close to the training region's boundary count as inside it: the
# samplers' sin/cos/sqrt can land one rounding error outside.
_SUPPORT_TOLERANCE = 1e-9
_MAX_ACTION_SCALE = 4.0


# ---------------------------------------------------------------------- goal regions (training supports)


class GoalRegion(Protocol):
    """The support of a preset's training goals."""

    def sample(self, rng: np.random.Generator) -> tuple[float, float]:
        """A goal from the training distribution."""
        ...

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """The goals of ``n`` successive :meth:`sample` calls, one row each, leaving ``rng`` as they leave it."""
        ...

    def distance(self, x: float, y: float) -> float:
        """Euclidean distance from ``(x, y)`` to the support (0 inside it)."""
        ...

    def outline(self) -> np.ndarray:
        """Points to draw the support: a polygon, or the support's points themselves."""
        ...


@dataclass(frozen=True)
class HalfDisc(GoalRegion):
    """Goals with ``y >= 0`` and norm ``<= radius``, area-uniform."""

    radius: float

    def sample(self, rng: np.random.Generator) -> tuple[float, float]:
        r = self.radius * math.sqrt(rng.random())
        angle = math.pi * rng.random()
        return r * math.cos(angle), r * math.sin(angle)

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        uniform = rng.random(2 * n).reshape(n, 2)  # the same doubles as n pairs of rng.random() calls
        r = self.radius * np.sqrt(uniform[:, 0])  # square roots are correctly rounded: math.sqrt's bits
        angles = (math.pi * uniform[:, 1]).tolist()
        # math's cos and sin, not NumPy's: its SIMD versions may round differently on some CPUs.
        return r[:, None] * np.array([[math.cos(a), math.sin(a)] for a in angles]).reshape(n, 2)

    def distance(self, x: float, y: float) -> float:
        if y >= 0.0:
            gap = math.hypot(x, y) - self.radius
        else:  # nearest point is on the flat edge [-radius, radius] x {0}
            gap = math.hypot(max(abs(x) - self.radius, 0.0), y)
        return gap if gap > _SUPPORT_TOLERANCE else 0.0

    def outline(self) -> np.ndarray:
        angles = np.linspace(0.0, math.pi, 64)
        return self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


@dataclass(frozen=True)
class Square(GoalRegion):
    """Goals uniform in ``[-half, half]^2``."""

    half: float

    def sample(self, rng: np.random.Generator) -> tuple[float, float]:
        # rng.uniform(-half, half, size=2)'s draws and arithmetic (its high - low is 2 * half exactly).
        u, v = rng.random(2).tolist()
        return -self.half + 2.0 * self.half * u, -self.half + 2.0 * self.half * v

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(-self.half, self.half, size=(n, 2))  # filled in order: n draws of size 2

    def distance(self, x: float, y: float) -> float:
        return math.hypot(max(abs(x) - self.half, 0.0), max(abs(y) - self.half, 0.0))

    def outline(self) -> np.ndarray:
        h = self.half
        return np.array([[-h, -h], [h, -h], [h, h], [-h, h]])


@dataclass(frozen=True)
class ArcPoints(GoalRegion):
    """``count`` goals equally spaced on the upper semicircle of ``radius``, angles 0..pi inclusive."""

    radius: float
    count: int

    @functools.cached_property
    def points(self) -> np.ndarray:
        """The ``count`` goals, one row each."""
        angles = np.linspace(0.0, math.pi, num=self.count)
        return self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def sample(self, rng: np.random.Generator) -> tuple[float, float]:
        return self._point_list[rng.integers(self.count)]

    @functools.cached_property
    def _point_list(self) -> list[tuple[float, float]]:
        return [(x, y) for x, y in self.points.tolist()]

    def sample_many(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # The generator keeps the unused half of a 64-bit draw across calls: n scalar draws make this sequence.
        return self.points[rng.integers(self.count, size=n)]

    @functools.cached_property
    def _point_set(self) -> frozenset[tuple[float, float]]:
        return frozenset(self._point_list)

    def distance(self, x: float, y: float) -> float:
        if (x, y) in self._point_set:  # a training goal: the minimum below is its hypot(0, 0)
            return 0.0
        return float(np.min(np.hypot(self.points[:, 0] - x, self.points[:, 1] - y)))

    def outline(self) -> np.ndarray:
        return self.points


@dataclass(frozen=True)
class Preset:
    """Everything that differs between the navigation variants."""

    horizon: int
    max_action: float  # the action space is [-max_action, max_action]^2
    displacement_per_action: float  # position change per unit of action, at action_scale 1
    goal_radius: float  # sparse-reward radius; info["success"] within it
    reward: str
    goal_region: GoalRegion
    ood_levels: tuple[OODLevel, ...]
    # OOD goals are proposed at any angle, at a radius in this range: never at the start,
    # where every policy, random included, would score like the oracle.
    ood_radii: tuple[float, float]
    terminate_within: float | None  # episode ends when |dx| and |dy| are both below this
    view: float  # rendering shows [-view, view]^2 (widened to fit far goals)
    training_doc: str
    source: str


PRESETS: dict[str, Preset] = {
    "default": Preset(
        horizon=50,
        max_action=1.0,
        displacement_per_action=0.1,
        goal_radius=0.1,
        reward="dense",
        goal_region=HalfDisc(radius=1.0),
        ood_levels=(
            OODLevel("near", 0.1, 0.5, "goals 0.1-0.5 m outside the half-disc: just beyond radius 1 or just below y=0"),
            OODLevel("far", 0.5, 1.5, "goals 0.5-1.5 m outside the half-disc: well below it or beyond radius 1.5"),
        ),
        ood_radii=(0.3, 2.5),
        terminate_within=None,
        view=2.5,
        training_doc="goal area-uniform on the upper half-disc of radius 1 (y >= 0); dense reward; action_scale 1",
        source="tasksuite's own variant: a half-disc training region leaves a held-out lower half for OOD tests.",
    ),
    "maml": Preset(
        horizon=100,
        max_action=0.1,
        displacement_per_action=1.0,
        goal_radius=0.1,
        reward="dense",
        goal_region=Square(half=0.5),
        ood_levels=(
            OODLevel("near", 0.1, 0.5, "goals 0.1-0.5 outside the square [-0.5, 0.5]^2"),
            OODLevel("far", 0.5, 1.5, "goals 0.5-1.5 outside the square [-0.5, 0.5]^2"),
        ),
        ood_radii=(0.5, 2.2),
        terminate_within=0.01,
        view=2.0,
        training_doc="goal uniform in [-0.5, 0.5]^2; dense reward; action_scale 1",
        source=(
            "Finn, Abbeel, Levine 2017, 'Model-Agnostic Meta-Learning', sec. 5.3 2-D navigation: start at the origin, "
            "actions (velocities) in [-0.1, 0.1]^2, reward = -distance to the goal, horizon 100; the episode ends "
            "when the agent is within 0.01 of the goal on both axes (cbfinn/maml_rl, point_env_randgoal.py)."
        ),
    ),
    "pearl-sparse": Preset(
        horizon=20,
        max_action=0.1,
        displacement_per_action=1.0,
        goal_radius=0.2,
        reward="sparse",
        goal_region=ArcPoints(radius=1.0, count=100),
        ood_levels=(
            OODLevel("near", 0.2, 0.5, "goals 0.2-0.5 from every training goal: beyond the arc or just below y=0"),
            OODLevel("far", 0.5, 1.0, "goals 0.5-1.0 from every training goal: far beyond the arc or below y=0"),
        ),
        ood_radii=(1.0, 1.9),
        terminate_within=None,
        view=2.0,
        training_doc="goal one of 100 points spaced evenly on the upper unit semicircle; sparse reward; action_scale 1",
        source=(
            "Rakelly et al. 2019, 'PEARL', sparse point robot (katerakelly/oyster, rlkit/envs/point_robot.py, "
            "configs/sparse-point-robot.json): start at the origin, actions in [-0.1, 0.1]^2, 100 goals at "
            "angles linspace(0, pi, 100) on the unit circle split 80 train / 20 test, horizon 20, reward "
            "1 - distance within radius 0.2 of the goal and 0 outside."
        ),
    ),
}


class Navigation(TaskFamily):
    """2-D point robot reaching a goal it must infer from rewards."""

    distance_unit = (
        "Euclidean norm of (goal metres outside the training region, |log2 action_scale|), + 1 for another reward type"
    )
    trusted_sampler = True  # training goals are drawn inside their region, at the preset's reward and scale 1

    def __init__(self, name: str, env_id: str, preset: str = "default") -> None:
        if preset not in PRESETS:
            raise UnknownNameError(
                f"unknown navigation preset {preset!r}{did_you_mean(preset, PRESETS)}; presets are {', '.join(PRESETS)}"
            )
        self.preset = PRESETS[preset]
        self.horizon = self.preset.horizon
        self.ood_levels = self.preset.ood_levels
        self.training_doc = self.preset.training_doc
        self.source = self.preset.source
        self.space = ParameterSpace(
            (
                Continuous("goal_x", -4.0, 4.0, default=0.0, unit="m", doc="goal position, x"),
                Continuous("goal_y", -4.0, 4.0, default=0.5, unit="m", doc="goal position, y"),
                Categorical(
                    "reward",
                    ("dense", "sparse"),
                    default=self.preset.reward,
                    doc=f"dense: -distance; sparse: 1 - distance within {self.preset.goal_radius} of the goal, else 0",
                ),
                Continuous(
                    "action_scale",
                    1.0 / _MAX_ACTION_SCALE,
                    _MAX_ACTION_SCALE,
                    default=1.0,
                    doc="dynamics: multiplies the displacement an action produces",
                ),
            )
        )
        super().__init__(name, env_id)

    def sample_training_params(self, rng: np.random.Generator) -> dict[str, ParamValue]:
        return self.training_params(*self.preset.goal_region.sample(rng))

    def training_params(self, goal_x: float, goal_y: float) -> dict[str, ParamValue]:
        """The parameters of the training task with this goal (training tasks differ in their goal only)."""
        return {"goal_x": goal_x, "goal_y": goal_y, "reward": self.preset.reward, "action_scale": 1.0}

    def propose_ood_params(self, rng: np.random.Generator) -> dict[str, ParamValue]:
        radius, angle = rng.uniform(*self.preset.ood_radii), rng.uniform(0.0, 2.0 * math.pi)
        return {
            "goal_x": radius * math.cos(angle),
            "goal_y": radius * math.sin(angle),
            "reward": self.preset.reward,
            "action_scale": 1.0,
        }

    def distance(self, params: Mapping[str, ParamValue]) -> float:
        goal = self.preset.goal_region.distance(float(params["goal_x"]), float(params["goal_y"]))
        dynamics = abs(math.log2(float(params["action_scale"])))
        reward = 0.0 if params["reward"] == self.preset.reward else 1.0
        return math.hypot(goal, dynamics) + reward

    def oracle_policy(self, task: Task) -> Policy:
        """Head straight for the goal at full speed and stop on it."""
        goal = np.array([task["goal_x"], task["goal_y"]])
        gain = self.preset.displacement_per_action * float(task["action_scale"])
        limit = self.preset.max_action

        def oracle(obs: np.ndarray) -> np.ndarray:
            action = (goal - obs[:2]) / gain
            largest = np.max(np.abs(action))
            if largest > limit:
                action *= limit / largest
            return action.astype(np.float32)

        return oracle


class NavigationEnv(TaskEnv):
    """Point navigation environment.

    * Observation: the robot's position ``(x, y)``, float32 (plus the task
      encoding when ``task_observable=True``). The goal is not observed.
    * Action: velocity ``(vx, vy)`` in the preset's box; the position moves by
      ``action * displacement_per_action * action_scale``.
    * Reward: ``-distance`` to the goal (dense) or ``1 - distance`` inside the
      goal radius and 0 outside (sparse), after the move. ``info["dense_reward"]``
      is ``-distance`` for either reward: methods that shape their learning with
      the dense signal on a sparse task (PEARL's critic on the sparse point robot)
      read it there, and are scored on the reward alone.
    * Episode: starts at the origin; truncated at the preset's horizon
      (MAML preset: terminates within 0.01 of the goal on both axes).
    * Info: ``success`` (within the goal radius), ``distance_to_goal`` and ``dense_reward``.

    Version history: v0, initial release.
    """

    family_class: ClassVar[type[TaskFamily]] = Navigation
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "human"], "render_fps": 20}
    render_size = 400

    def __init__(
        self,
        family: str | TaskFamily = "navigation",
        task: TaskLike | None = None,
        render_mode: str | None = None,
        task_observable: bool = False,
    ) -> None:
        super().__init__(family, task, render_mode, task_observable)
        assert isinstance(self.family, Navigation)
        preset = self.family.preset
        self._preset = preset
        self.action_space = gym.spaces.Box(-preset.max_action, preset.max_action, shape=(2,), dtype=np.float32)
        # Bounded by construction: no episode can carry the robot further.
        reach = preset.horizon * preset.max_action * preset.displacement_per_action * _MAX_ACTION_SCALE
        self.base_observation_space = gym.spaces.Box(-reach, reach, shape=(2,), dtype=np.float32)
        self._position = np.zeros(2)
        self._goal = np.zeros(2)
        self._gain = preset.displacement_per_action
        self._sparse = False
        self._trail: list[np.ndarray] = []
        self._window: Any = None
        self._clock: Any = None
        self._finish_init()

    def _configure(self, task: Task) -> None:
        params = task.params  # paid at every task switch: the mapping, not Task.__getitem__
        self._goal[0], self._goal[1] = params["goal_x"], params["goal_y"]  # in place: no new array per task
        # A NumPy float64, not a Python float: float32 actions must be scaled in double precision.
        self._gain = np.float64(self._preset.displacement_per_action * float(params["action_scale"]))
        self._sparse = params["reward"] == "sparse"

    def _reset_state(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._position = np.zeros(2)
        self._trail = [self._position.copy()]
        return self._position.astype(np.float32), {}

    def _advance(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._position += self._gain * action
        dx, dy = self._position - self._goal
        distance = math.sqrt(dx * dx + dy * dy)  # the batched env's arithmetic, so both agree to the bit
        inside = distance <= self._preset.goal_radius
        if self._sparse:
            reward = 1.0 - distance if inside else 0.0
        else:
            reward = -distance
        within = self._preset.terminate_within
        terminated = within is not None and abs(dx) < within and abs(dy) < within
        if self.render_mode is not None:
            self._trail.append(self._position.copy())
        return (
            self._position.astype(np.float32),
            reward,
            terminated,
            False,
            {"success": inside, "distance_to_goal": distance, "dense_reward": -distance},
        )

    # ------------------------------------------------------------------ rendering

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        canvas = self._draw()
        if self.render_mode == "rgb_array":
            import pygame

            return np.transpose(pygame.surfarray.array3d(canvas), (1, 0, 2))
        self._show(canvas)
        return None

    def _draw(self) -> Any:
        try:
            import pygame
        except ImportError as error:  # pragma: no cover - pygame is a core dependency
            raise ImportError(
                "rendering navigation needs pygame: pip install tasksuite (pygame is a dependency)"
            ) from error

        size = self.render_size
        extent = max(self._preset.view, float(np.max(np.abs(self._goal))) + 0.5)

        def to_screen(points: np.ndarray) -> list[tuple[int, int]]:
            pixels = (np.asarray(points).reshape(-1, 2) * [1.0, -1.0] / extent + 1.0) * (size / 2)
            return [(int(px), int(py)) for px, py in pixels]

        canvas = pygame.Surface((size, size))
        canvas.fill((250, 250, 250))
        for tick in np.arange(-math.floor(extent), math.floor(extent) + 1):
            (x0, y0), (x1, y1) = to_screen(np.array([[tick, -extent], [tick, extent]]))
            pygame.draw.line(canvas, (230, 230, 230), (x0, y0), (x1, y1))
            (x0, y0), (x1, y1) = to_screen(np.array([[-extent, tick], [extent, tick]]))
            pygame.draw.line(canvas, (230, 230, 230), (x0, y0), (x1, y1))
        region = self._preset.goal_region
        if isinstance(region, ArcPoints):
            for point in to_screen(region.outline()):
                pygame.draw.circle(canvas, (190, 200, 230), point, 2)
        else:
            pygame.draw.polygon(canvas, (215, 225, 245), to_screen(region.outline()))
        scale = size / (2 * extent)
        goal = to_screen(self._goal)[0]
        pygame.draw.circle(canvas, (120, 200, 120), goal, max(2, int(self._preset.goal_radius * scale)))
        pygame.draw.circle(canvas, (30, 120, 30), goal, 3)
        if len(self._trail) > 1:
            pygame.draw.lines(canvas, (120, 140, 220), False, to_screen(np.array(self._trail)), 2)
        pygame.draw.circle(canvas, (20, 50, 180), to_screen(self._position)[0], 6)
        return canvas

    def _show(self, canvas: Any) -> None:
        import pygame

        if self._window is None:
            pygame.display.init()
            pygame.display.set_caption(f"tasksuite {self.family.env_id}")
            self._window = pygame.display.set_mode((self.render_size, self.render_size))
            self._clock = pygame.time.Clock()
        pygame.event.pump()
        self._window.blit(canvas, (0, 0))
        pygame.display.flip()
        self._clock.tick(self.metadata["render_fps"])

    def close(self) -> None:
        if self._window is not None:
            import pygame

            pygame.display.quit()
            self._window = None
            self._clock = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_window"] = state["_clock"] = None  # a display is not state
        return state


class NavigationVectorEnv(TaskVectorEnv):
    """N navigation sub-envs, each on its own task, stepped by one set of NumPy operations.

    Bit-for-bit the same trajectories as ``SyncVectorEnv`` over
    :class:`NavigationEnv` (see :mod:`tasksuite.core.vector` for the semantics).

    Without ``tasks=``, every reset draws a training goal, and nothing else, from the sub-env's
    stream. So a sub-env draws :attr:`draw_ahead` goals at a time (the same numbers its next
    resets would draw one by one) and its resets take them with array operations over all
    sub-envs; their :class:`Task` objects are built only when asked for (``get_tasks``). Before
    anything else draws from the stream (``call("sample_tasks", n)``) it is rewound to where
    the goals taken so far leave it.
    """

    #: Training goals a sub-env draws at once from its stream.
    draw_ahead: ClassVar[int] = 32

    def __init__(self, family: str | TaskFamily = "navigation", num_envs: int = 1, **kwargs: Any) -> None:
        super().__init__(family, num_envs, **kwargs)
        assert isinstance(self.family, Navigation)
        self._preset = self.family.preset
        n = self.num_envs
        self._positions = np.zeros((n, 2))
        self._goals = np.zeros((n, 2))
        self._gains = np.full((n, 1), self._preset.displacement_per_action)
        self._sparse = np.zeros(n, dtype=bool)
        self._sparse_count = 0  # kept with _sparse: a reset of all N sub-envs must not sum it N times
        training = self.family.training_params(0.0, 0.0)
        self._training_gain = self._preset.displacement_per_action * float(training["action_scale"])
        self._training_sparse = training["reward"] == "sparse"
        self._ahead = np.zeros((n, self.draw_ahead, 2))  # each sub-env's goals drawn ahead
        self._ahead_taken = np.full(n, self.draw_ahead)  # how many of them its resets took
        self._ahead_version = np.full(n, -1)  # the _stream_version they were drawn from
        self._ahead_state: list[dict[str, Any] | None] = [None] * n  # the stream's state before the draw
        self._finish_init()

    def _draw_training_tasks(self, indices: np.ndarray) -> None:
        if self.task_observable:  # the encodings come from Task objects: build them now
            super()._draw_training_tasks(indices)
            return
        region = self._preset.goal_region
        taken = self._ahead_taken[indices]
        stale = (taken >= self.draw_ahead) | (self._ahead_version[indices] != self._stream_version[indices])
        for index in indices[stale].tolist():
            rng = self._rngs[index]
            assert rng is not None
            self._ahead_state[index] = rng.bit_generator.state
            self._ahead[index] = region.sample_many(rng, self.draw_ahead)
            self._ahead_version[index] = self._stream_version[index]
        taken[stale] = 0
        self._goals[indices] = self._ahead[indices, taken]
        self._ahead_taken[indices] = taken + 1
        self._gains[indices] = self._training_gain
        self._sparse_count += len(indices) * int(self._training_sparse) - int(np.count_nonzero(self._sparse[indices]))
        self._sparse[indices] = self._training_sparse
        self._unbuilt[indices] = True

    def _build_task(self, index: int) -> Task:
        goal_x, goal_y = self._goals[index].tolist()
        return self.family.task(**self.family.training_params(goal_x, goal_y))

    def _settle_stream(self, index: int) -> None:
        taken, state, rng = int(self._ahead_taken[index]), self._ahead_state[index], self._rngs[index]
        if taken < self.draw_ahead and self._ahead_version[index] == self._stream_version[index]:
            assert state is not None and rng is not None
            rng.bit_generator.state = state
            self._preset.goal_region.sample_many(rng, taken)  # draws again what the resets took
        self._ahead_taken[index] = self.draw_ahead

    def _configure(self, index: int, task: Task) -> None:
        self._goals[index] = task["goal_x"], task["goal_y"]
        self._gains[index] = self._preset.displacement_per_action * float(task["action_scale"])
        sparse = task["reward"] == "sparse"
        self._sparse_count += int(sparse) - int(self._sparse[index])
        self._sparse[index] = sparse

    def _reset_state(self, indices: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        self._positions[indices] = 0.0
        return np.zeros((len(indices), 2), dtype=np.float32)

    def _advance(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        positions = self._positions
        positions += self._gains * actions
        delta = positions - self._goals
        dx, dy = delta[:, 0], delta[:, 1]
        distance = np.sqrt(dx * dx + dy * dy)
        inside = distance <= self._preset.goal_radius
        reward = -distance
        if self._sparse_count:
            reward = np.where(self._sparse, np.where(inside, 1.0 - distance, 0.0), reward)
        within = self._preset.terminate_within
        if within is None:
            terminated = np.zeros(self.num_envs, dtype=bool)
        else:
            terminated = (np.abs(dx) < within) & (np.abs(dy) < within)
        truncated = np.zeros(self.num_envs, dtype=bool)
        return (
            positions.astype(np.float32),
            reward,
            terminated,
            truncated,
            {"success": inside, "distance_to_goal": distance, "dense_reward": -distance},
        )
