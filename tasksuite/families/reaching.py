"""Reaching: a 3-DoF MuJoCo arm must bring its end effector to a 3-D target it cannot see.

The arm (``assets/reaching.xml``) stands on a pedestal: base yaw, shoulder
pitch and elbow pitch joints, two 0.35 m links, DC motors (torque falls with
speed, to zero at the no-load speed), gravity. A task fixes the target
position and the arm's dynamics: the payload welded to the end effector, the
joints' viscous damping and the motors' voltage. Tasks are applied by writing
those numbers into the env's compiled ``MjModel``; the XML is compiled once
per process, never per task.

Timing: physics steps of 10 ms (implicitfast integration, stable for every
accepted task), 5 per env step, so the agent acts at 20 Hz; 50 steps make a
2.5 s episode (250 physics steps). The oracle gets within the success radius
in under 1 s, so an episode leaves time to explore and then hold.

Training tasks put the target in a box in front of the arm and vary the
dynamics a little; out-of-distribution tasks move the target out of that box
(beside, behind, above or beyond it, always within reach) and/or make the
payload heavier, the joints stiffer or slacker, the motors weaker or stronger.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from tasksuite.core.env import TaskLike
from tasksuite.core.family import OODLevel, Policy, TaskFamily, uniform
from tasksuite.core.mujoco_env import MujocoTaskEnv, MujocoTaskVectorEnv, load_model
from tasksuite.core.params import Continuous, ParameterSpace, ParamValue
from tasksuite.core.task import Task

MODEL_FILE = "reaching.xml"
SUCCESS_RADIUS = 0.05  # m: the end effector counts as on the target within this distance
# Arm geometry, as in the MJCF (tests/test_reaching.py checks that they agree): the
# samplers must not compile the model just to know where the arm can reach.
SHOULDER = (0.0, 0.0, 0.3)  # m, world position of the yaw and shoulder axes
REACH = 0.7  # m, shoulder to end effector with the arm stretched
HOME_POSE = (0.0, math.pi / 2, -math.pi / 2)  # rad: upper arm vertical, forearm horizontal
START_NOISE = 0.05  # initial joint angles (rad) and velocities (rad/s) are perturbed uniformly by this much
# Observation bounds: no motion of a stable simulation comes near them (joint limits are soft
# and overshot by < 0.2 rad, joints turn < 35 rad/s under any accepted task and any actions).
JOINT_LIMIT_SLACK = 0.5  # rad
MAX_JOINT_SPEED = 100.0  # rad/s
PAYLOAD_DENSITY = 7850.0  # kg/m^3: the payload is drawn as a steel ball of its mass
TARGET_UNIT = 0.1  # m of target outside the training box per unit of distance


@dataclass(frozen=True)
class Box:
    """An axis-aligned box of target positions, uniform sampling, Euclidean distance to it."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]

    def sample(self, rng: np.random.Generator) -> tuple[float, float, float]:
        """A target uniform in the box."""
        # The draws and arithmetic of rng.uniform(low, high), without its conversion of the tuples.
        x, y, z = (self._low + self._width * rng.random(3)).tolist()
        return x, y, z

    @functools.cached_property
    def _low(self) -> np.ndarray:
        return np.array(self.low)

    @functools.cached_property
    def _width(self) -> np.ndarray:
        return np.subtract(self.high, self.low)

    def distance(self, point: tuple[float, float, float]) -> float:
        """Metres from ``point`` to the box (0 inside)."""
        gaps = (max(lo - p, p - hi, 0.0) for p, lo, hi in zip(point, self.low, self.high, strict=True))
        return math.hypot(*gaps)

    @property
    def centre(self) -> tuple[float, ...]:
        """The box's centre."""
        return tuple((lo + hi) / 2 for lo, hi in zip(self.low, self.high, strict=True))

    @property
    def half_size(self) -> tuple[float, ...]:
        """Half the box's extent along each axis."""
        return tuple((hi - lo) / 2 for lo, hi in zip(self.low, self.high, strict=True))


@dataclass(frozen=True)
class Workspace:
    """Targets the arm can reach: a spherical shell around the shoulder, above the floor."""

    inner: float
    outer: float
    min_height: float

    def sample(self, rng: np.random.Generator) -> tuple[float, float, float]:
        """A reachable target, uniform in the shell's volume above the floor."""
        while True:  # rejection: the floor cuts the lower part of the shell
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            radius = rng.uniform(self.inner**3, self.outer**3) ** (1 / 3)  # volume-uniform
            x, y, z = np.add(SHOULDER, radius * direction)
            if z >= self.min_height:
                return float(x), float(y), float(z)


@dataclass(frozen=True)
class Interval:
    """The training interval of a dynamics parameter; distance counted in interval widths."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        """A value uniform in the interval."""
        return uniform(rng, self.low, self.high)

    def excess(self, value: float) -> float:
        """How far ``value`` lies outside the interval, in interval widths (0 inside)."""
        return max(self.low - value, value - self.high, 0.0) / (self.high - self.low)


TRAINING_TARGETS = Box(low=(0.25, -0.3, 0.1), high=(0.5, 0.3, 0.45))
TRAINING_DYNAMICS: dict[str, Interval] = {
    "payload_mass": Interval(0.0, 0.5),
    "joint_damping": Interval(0.5, 2.0),
    "actuator_gain": Interval(0.8, 1.2),
}
# OOD targets: anywhere the arm reaches without folding its elbow past its limit.
OOD_TARGETS = Workspace(inner=0.2, outer=0.66, min_height=0.05)
TARGET_NAMES = ("target_x", "target_y", "target_z")


SPACE = ParameterSpace(
    (
        Continuous("target_x", -0.8, 0.8, default=0.4, unit="m", doc="target position, x (forward)"),
        Continuous("target_y", -0.8, 0.8, default=0.0, unit="m", doc="target position, y (left)"),
        Continuous("target_z", 0.0, 1.0, default=0.3, unit="m", doc="target position, z (up; floor at 0)"),
        Continuous("payload_mass", 0.0, 2.0, default=0.25, unit="kg", doc="mass welded to the end effector"),
        Continuous("joint_damping", 0.0, 5.0, default=1.0, unit="N m s/rad", doc="viscous damping of every joint"),
        Continuous(
            "actuator_gain",
            0.5,
            2.0,
            default=1.0,
            doc="motor voltage: scales every motor's stall torque (nominal 20, 50, 30 N m) and no-load speed "
            "(nominal 10 rad/s)",
        ),
    )
)


def target_of(params: Mapping[str, ParamValue]) -> tuple[float, float, float]:
    """The target position ``(x, y, z)`` of a task's parameters."""
    x, y, z = (float(params[name]) for name in TARGET_NAMES)
    return x, y, z


def _training_support() -> list[tuple[str, str, str]]:
    """(parameters, training range, what one unit of distance is): the table behind the docs."""
    box = TRAINING_TARGETS
    spans = " x ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(box.low, box.high, strict=True))
    rows = [("target (x, y, z)", f"box {spans} m", f"{TARGET_UNIT:g} m outside the box")]
    for name, interval in TRAINING_DYNAMICS.items():
        unit = SPACE[name].unit  # type: ignore[union-attr]
        unit = f" {unit}" if unit else ""
        rows.append((name, f"[{interval.low:g}, {interval.high:g}]{unit}", f"{interval.high - interval.low:g}{unit}"))
    return rows


class Reaching(TaskFamily):
    """3-DoF MuJoCo arm reaching a hidden 3-D target; payload, joint damping and motor strength vary."""

    horizon = 50
    space = SPACE
    trusted_sampler = True  # targets drawn in the training box, dynamics in their training intervals
    ood_levels = (
        OODLevel(
            "near", 0.5, 1.5, "target 5-15 cm outside the training box, or dynamics 0.5-1.5 training widths outside"
        ),
        OODLevel(
            "far",
            1.5,
            5.0,
            "target 15-50 cm outside the box (beside, behind, above the arm) and/or far heavier payload, "
            "much weaker or stronger motors, other damping",
        ),
    )
    training_doc = "; ".join(f"{name} uniform in {span}" for name, span, _ in _training_support())
    distance_unit = (
        f"Euclidean norm of (target metres outside the training box / {TARGET_UNIT:g} m) and, for each "
        "dynamics parameter, its excess outside the training interval in interval widths"
    )

    def sample_training_params(self, rng: np.random.Generator) -> dict[str, ParamValue]:
        params: dict[str, ParamValue] = dict(zip(TARGET_NAMES, TRAINING_TARGETS.sample(rng), strict=True))
        params.update((name, interval.sample(rng)) for name, interval in TRAINING_DYNAMICS.items())
        return params

    def propose_ood_params(self, rng: np.random.Generator) -> dict[str, ParamValue]:
        """A training task with its target, its dynamics, or both moved anywhere the env accepts."""
        params = self.sample_training_params(rng)
        shift = ("target", "dynamics", "both")[int(rng.integers(3))]
        if shift != "dynamics":
            params.update(zip(TARGET_NAMES, OOD_TARGETS.sample(rng), strict=True))
        if shift != "target":
            for name in TRAINING_DYNAMICS:
                accepted = self.space[name]
                params[name] = float(rng.uniform(accepted.low, accepted.high))  # type: ignore[union-attr]
        return params

    def distance(self, params: Mapping[str, ParamValue]) -> float:
        target_gap = TRAINING_TARGETS.distance(target_of(params)) / TARGET_UNIT
        dynamics = (interval.excess(float(params[name])) for name, interval in TRAINING_DYNAMICS.items())
        return math.hypot(target_gap, *dynamics)

    def oracle_policy(self, task: Task) -> Policy:
        """Closed-form inverse kinematics (elbow up) to the target, then joint-space control that cancels
        gravity, payload, Coriolis forces, damping and back-EMF with a private copy of the task's model."""
        return ReachingOracle(task)

    def extra_sections(self) -> dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
        return {
            "Training support (distance: one unit per row)": (
                ("parameter", "training", "1 unit ="),
                _training_support(),
            )
        }


# ---------------------------------------------------------------------- the model, shared by env and oracle


class ArmModel:
    """The ids of a reaching ``MjModel`` and the one way a task's parameters are written into it.

    ``scratch`` is an ``MjData`` of the model's layout for ``mj_setConst`` to
    work in, which arms may share; by default the arm makes its own.
    """

    def __init__(self, model: Any, scratch: Any = None) -> None:
        import mujoco

        self.model = model
        # allocating an MjData per task would cost ~1 ms
        self._scratch = mujoco.MjData(model) if scratch is None else scratch
        self.nominal_stall_torque = model.actuator_gainprm[:, 0].copy()
        self.target_site = model.site("target").id
        self.end_effector_site = model.site("end_effector").id
        self.payload_body = model.body("payload").id
        self.payload_geom = model.geom("payload").id
        region = model.site("training_region").id  # drawn only: the box of training targets
        model.site_pos[region] = TRAINING_TARGETS.centre
        model.site_size[region] = TRAINING_TARGETS.half_size

    #: The model fields a task writes (:meth:`write`).
    TASK_FIELDS = (
        "site_pos",
        "body_mass",
        "body_inertia",
        "geom_size",
        "geom_rbound",
        "dof_damping",
        "actuator_gainprm",
    )

    def apply(self, params: Mapping[str, ParamValue]) -> None:
        """Make the model simulate a task: mutate fields, never recompile."""
        import mujoco

        self.write(self.model, params)
        # Recompute what the compiler derives from masses (subtree masses, the constraint
        # solver's inverse weights), so that a task behaves the same whatever came before it.
        mujoco.mj_setConst(self.model, self._scratch)

    def write(self, fields: Any, params: Mapping[str, ParamValue]) -> None:
        """Write a task's parameters into ``fields``: this arm's model, or anything with its
        :attr:`TASK_FIELDS` as attributes (one simulation's rows of a batch's expanded fields).
        Run ``mj_setConst`` on them afterwards."""
        fields.site_pos[self.target_site] = target_of(params)
        mass = float(params["payload_mass"])
        radius = (3.0 * mass / (4.0 * math.pi * PAYLOAD_DENSITY)) ** (1 / 3)
        fields.body_mass[self.payload_body] = mass
        fields.body_inertia[self.payload_body] = 0.4 * mass * radius**2  # solid ball
        fields.geom_size[self.payload_geom, 0] = fields.geom_rbound[self.payload_geom] = max(radius, 1e-3)
        fields.dof_damping[:] = float(params["joint_damping"])
        fields.actuator_gainprm[:, 0] = self.nominal_stall_torque * float(params["actuator_gain"])


# ---------------------------------------------------------------------- one env's or many: the same arithmetic


def initial_joint_state(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An episode's first joint angles and velocities: the home pose and rest, perturbed by up to ``START_NOISE``."""
    qpos = np.add(HOME_POSE, rng.uniform(-START_NOISE, START_NOISE, size=len(HOME_POSE)))
    return qpos, rng.uniform(-START_NOISE, START_NOISE, size=len(HOME_POSE))


def arm_observation(qpos: np.ndarray, qvel: np.ndarray, end_effector: np.ndarray) -> np.ndarray:
    """The observation (float32) from joint angles, joint velocities and end-effector position: vectors or rows."""
    return np.concatenate((qpos, qvel, end_effector), axis=-1, dtype=np.float32)


def distance_to_target(end_effector: Any, target: Any) -> Any:
    """Metres from the end effector ``(x, y, z)`` to the target ``(x, y, z)``: floats, or columns over sub-envs.

    Elementwise IEEE arithmetic (square roots are correctly rounded), the same
    on a float as on an array entry: single and batched envs agree to the bit.
    """
    (ex, ey, ez), (tx, ty, tz) = end_effector, target
    dx, dy, dz = ex - tx, ey - ty, ez - tz
    return np.sqrt(dx * dx + dy * dy + dz * dz)


def reward_and_success(distance: Any) -> tuple[Any, Any]:
    """The reward (minus the distance) and success (within ``SUCCESS_RADIUS``) of a distance or an array of them."""
    return -distance, distance <= SUCCESS_RADIUS


def inverse_kinematics(model: Any, target: tuple[float, float, float]) -> np.ndarray:
    """Joint angles (yaw, shoulder, elbow) putting the end effector on ``target``, elbow up.

    Closed form: the yaw faces the target, then the shoulder and elbow solve a
    planar two-link problem. Targets out of reach give the stretched arm
    pointing at them.
    """
    upper = float(model.body("forearm").pos[0])
    fore = float(model.site("end_effector").pos[0])
    x, y, z = np.subtract(target, model.body("base").pos)
    horizontal = math.hypot(x, y)
    reach = min(math.hypot(horizontal, z), upper + fore)
    cos_elbow = (reach**2 - upper**2 - fore**2) / (2 * upper * fore)
    elbow = -math.acos(min(1.0, max(-1.0, cos_elbow)))  # negative: the elbow stays above the line to the target
    shoulder = math.atan2(z, horizontal) - math.atan2(fore * math.sin(elbow), upper + fore * math.cos(elbow))
    return np.array([math.atan2(y, x), shoulder, elbow])


class ReachingOracle:
    """Scripted controller knowing the task: inverse kinematics, then computed-torque joint PD.

    The joint-space goal is the closed-form inverse kinematics of the target.
    Each step the torque is ``M(q) (Kp (q* - q) - Kd dq) + bias(q, dq) - passive(dq)``,
    computed on a private ``MjModel`` with the task's payload, damping and
    gains applied: gravity, Coriolis forces and damping are cancelled exactly
    and the arm converges like a critically damped spring (natural frequency
    10 rad/s, settling within about half a second when the motors do not
    saturate). Observations must start with the joint angles and velocities.
    """

    stiffness = 100.0  # 1/s^2
    damping = 20.0  # 1/s: 2 sqrt(stiffness), critical damping

    def __init__(self, task: Task) -> None:
        import mujoco

        self._mujoco = mujoco
        self._arm = ArmModel(load_model(MODEL_FILE))
        self._arm.apply(task.params)
        self._model = self._arm.model
        self._data = mujoco.MjData(self._model)
        self._dofs = self._model.nv
        self._goal = inverse_kinematics(self._model, target_of(task.params))
        # Motor i drives joint i: torque_i = stall_i * command_i + back_emf_i * velocity_i (back_emf_i < 0).
        self._stall_torque = self._model.actuator_gainprm[:, 0].copy()
        self._back_emf = self._model.actuator_biasprm[:, 2].copy()
        self._torque = np.zeros(self._dofs)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        n, data = self._dofs, self._data
        data.qpos[:] = obs[:n]
        data.qvel[:] = obs[n : 2 * n]
        self._mujoco.mj_forward(self._model, data)
        acceleration = self.stiffness * (self._goal - data.qpos) - self.damping * data.qvel
        self._mujoco.mj_mulM(self._model, data, self._torque, acceleration)
        torque = self._torque + data.qfrc_bias - data.qfrc_passive - self._back_emf * data.qvel
        return np.clip(torque / self._stall_torque, -1.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------- the environment


class ReachingEnv(MujocoTaskEnv):
    """Reaching environment: a 3-DoF arm under gravity must hold its end effector on a target.

    * Observation (float32, 9): joint angles (yaw, shoulder, elbow; rad), joint
      velocities (rad/s), end-effector position (x, y, z; m), plus the task
      encoding when ``task_observable=True``. The target is not observed.
    * Action (3): motor commands in ``[-1, 1]`` (yaw, shoulder, elbow). A
      motor's torque is ``stall * command - back_emf * joint velocity``:
      command 1 at rest gives the stall torque (20, 50, 30 N m times
      ``actuator_gain``), and no command turns a joint faster than the
      no-load speed (10 rad/s times ``actuator_gain``).
    * Reward: ``-distance`` (m) from the end effector to the target after the step.
    * Episode: starts near the home pose (upper arm up, forearm forward) with
      joint angles and velocities perturbed by up to 0.05; 50 steps of 0.05 s
      (5 physics steps of 10 ms each); never terminates early.
    * Info: ``success`` (end effector within 5 cm of the target) and
      ``distance_to_target``; ``physics_unstable`` when the simulation
      diverged (the step is then truncated, see :class:`MujocoTaskEnv`).

    Arguments: ``family``, ``task``, ``render_mode`` and ``task_observable`` as
    in :class:`tasksuite.core.env.TaskEnv`; ``width``/``height`` of rendered
    frames. Rendered frames show the target (red sphere of the success radius)
    and the training box (translucent blue): do not train from pixels on the
    hidden-target variant.

    Version history: v0, initial release.
    """

    family_class: ClassVar[type[TaskFamily]] = Reaching
    model_file = MODEL_FILE
    frame_skip = 5
    camera = "overview"
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "human"], "render_fps": 20}

    def __init__(
        self,
        family: str | TaskFamily = "reaching",
        task: TaskLike | None = None,
        render_mode: str | None = None,
        task_observable: bool = False,
        width: int = 480,
        height: int = 480,
    ) -> None:
        super().__init__(family, task, render_mode, task_observable, width, height)
        self._arm = ArmModel(self.model)
        dofs = self.model.nv
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.model.nu,), dtype=np.float32)
        # Bounds that only an exploded simulation leaves (MujocoTaskEnv then truncates): joint
        # angles within their soft limits plus slack, speeds far above the motors' no-load speed,
        # the end effector within the arm's reach of the shoulder.
        limits = self.model.jnt_range
        speed = np.full(dofs, MAX_JOINT_SPEED)
        self.base_observation_space = gym.spaces.Box(
            low=np.concatenate(
                [limits[:, 0] - JOINT_LIMIT_SLACK, -speed, np.subtract(SHOULDER, REACH)], dtype=np.float32
            ),
            high=np.concatenate([limits[:, 1] + JOINT_LIMIT_SLACK, speed, np.add(SHOULDER, REACH)], dtype=np.float32),
            dtype=np.float32,
        )
        self._target = (0.0, 0.0, 0.0)
        self._bind_views()
        self._finish_init()

    def _bind_views(self) -> None:
        # Views into self.data, read every step without re-fetching them through the bindings.
        self._qpos, self._qvel, self._ctrl = self.data.qpos, self.data.qvel, self.data.ctrl
        self._end_effector = self.data.site_xpos[self._arm.end_effector_site]

    def _configure(self, task: Task) -> None:
        self._arm.apply(task.params)
        self._target = target_of(task.params)

    def _reset_state(self) -> tuple[np.ndarray, dict[str, Any]]:
        self._reset_physics()
        self._qpos[:], self._qvel[:] = initial_joint_state(self.np_random)
        return self._start_episode()

    def _set_control(self, action: np.ndarray) -> None:
        self._ctrl[:] = action

    def _observation(self) -> np.ndarray:
        return arm_observation(self._qpos, self._qvel, self._end_effector)

    def _evaluate(self, obs: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        # A list of floats: cheaper to unpack and compute on than an array.
        distance = float(distance_to_target(self._end_effector.tolist(), self._target))
        reward, success = reward_and_success(distance)
        return reward, False, {"success": success, "distance_to_target": distance}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._bind_views()


class ReachingVectorEnv(MujocoTaskVectorEnv):
    """N reaching sub-envs, each on its own task, stepped together by one MuJoCo batch on threads.

    ``gym.make_vec("tasksuite/Reaching-v0", num_envs=N,
    vectorization_mode="vector_entry_point", tasks=[...])``: bit for bit the
    trajectories of ``SyncVectorEnv`` over :class:`ReachingEnv`; arguments,
    threads, autoreset and divergence as in
    :class:`~tasksuite.core.mujoco_env.MujocoTaskVectorEnv`. Every sub-env
    simulates the one compiled model: the fields a task writes
    (:attr:`ArmModel.TASK_FIELDS`: payload, damping, motor gains) are expanded
    to one row per sub-env, into which :class:`ArmModel` writes each of its
    tasks, and ``Batch.set_const`` derives the sub-env's constants from them.
    Switching tasks never compiles or copies a model, and N sub-envs hold a
    few kB each instead of a model each.
    """

    env_class = ReachingEnv

    def __init__(self, family: str | TaskFamily = "reaching", num_envs: int = 1, **kwargs: Any) -> None:
        import types

        template = load_model(MODEL_FILE)
        self._arm = ArmModel(template)  # before the batch copies the model: it marks the training region
        super().__init__(family, num_envs, template, **kwargs)
        expanded = {name: self.batch.expand(name) for name in ArmModel.TASK_FIELDS}
        self._task_fields = [
            types.SimpleNamespace(**{name: rows[index] for name, rows in expanded.items()})
            for index in range(self.num_envs)
        ]
        self._targets = np.zeros((self.num_envs, 3))
        self._end_effector = self.batch.bind("site_xpos")[:, template.site("end_effector").id]
        self._finish_init()

    def _configure(self, index: int, task: Task) -> None:
        self._arm.write(self._task_fields[index], task.params)
        self._targets[index] = target_of(task.params)
        self._derive_constants(index)

    def _reset_state(self, indices: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        self._reset_physics(indices)
        for index, rng in zip(indices, rngs, strict=True):  # each sub-env's generator, drawn as by a single env
            self._qpos[index], self._qvel[index] = initial_joint_state(rng)
        return self._start_episodes(indices)

    def _observation(self, rows: slice | np.ndarray) -> np.ndarray:
        return arm_observation(self._qpos[rows], self._qvel[rows], self._end_effector[rows])

    def _evaluate(self, obs: np.ndarray, rows: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        distance = distance_to_target(self._end_effector[rows].T, self._targets[rows].T)
        reward, success = reward_and_success(distance)
        terminated = np.zeros(len(distance), dtype=bool)
        return reward, terminated, {"success": success, "distance_to_target": distance}
