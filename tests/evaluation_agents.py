"""Hand-written agents and a trainer for the evaluation tests (factories resolved by import path).

Worker processes import this module as ``evaluation_agents``: pytest puts
``tests/`` on ``sys.path``; subprocesses get it through ``PYTHONPATH``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

import tasksuite
from tasksuite import Task
from tasksuite.evaluation.agent import AdaptationBudget, AgentBase, TaskContext, Transition
from tasksuite.evaluation.rollout import RandomPolicy

# One lap of a small square: positions that are never collinear, so three readings locate the goal.
_EXPLORE = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], dtype=np.float32)


def locate_goal(positions: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Trilateration: the point at the given distances from the positions (least squares).

    Subtracting the first circle equation from the others leaves the linear
    system ``2 (p_i - p_0) . g = |p_i|^2 - |p_0|^2 - d_i^2 + d_0^2``.
    """
    p0, d0 = positions[0], distances[0]
    lhs = 2.0 * (positions[1:] - p0)
    rhs = np.sum(positions[1:] ** 2, axis=1) - p0 @ p0 - distances[1:] ** 2 + d0**2
    goal, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
    return goal


def clamp_to_half_disc(point: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """The nearest point of the upper half-disc (navigation's training region)."""
    clamped = np.array([point[0], max(point[1], 0.0)])
    norm = np.linalg.norm(clamped)
    return clamped * (radius / norm) if norm > radius else clamped


def steer(position: np.ndarray, goal: np.ndarray, gain: float = 0.1) -> np.ndarray:
    """The action that moves straight toward ``goal`` at most at full speed (navigation's dynamics)."""
    action = (goal - position) / gain
    largest = np.max(np.abs(action))
    return (action / largest if largest > 1.0 else action).astype(np.float32)


class GoalFinder(AgentBase):
    """Explores its first episode of a task, locates the goal from the dense rewards, then goes there.

    With ``assume_training_region`` it trusts the training distribution and
    clamps its estimate to the upper half-disc: right on test tasks, wrong out
    of distribution (the failure mode of meta-RL outside its training support).
    """

    def __init__(self, assume_training_region: bool = True) -> None:
        self.assume_training_region = assume_training_region
        self.goal: np.ndarray | None = None
        self.readings: list[tuple[np.ndarray, float]] = []
        self.step = 0

    def begin_task(self, context: TaskContext) -> None:
        self.goal, self.readings = None, []

    def begin_episode(self, adaptation: bool) -> None:
        self.step = 0

    def act(self, obs: np.ndarray) -> np.ndarray:
        self.step += 1
        if self.goal is None:
            return _EXPLORE[(self.step - 1) % len(_EXPLORE)]
        return steer(obs[:2].astype(np.float64), self.goal)

    def observe(self, transition: Transition) -> None:
        if self.goal is None:
            self.readings.append((transition.next_obs[:2].astype(np.float64), -transition.reward))

    def end_episode(self, adaptation: bool) -> None:
        if self.goal is None:
            positions = np.array([p for p, _ in self.readings])
            goal = locate_goal(positions, np.array([d for _, d in self.readings]))
            self.goal = clamp_to_half_disc(goal) if self.assume_training_region else goal


def goal_finder(assume_training_region: bool = True) -> GoalFinder:
    return GoalFinder(assume_training_region)


class SeededRandom(AgentBase):
    """Uniform random actions seeded by the trial."""

    policy: RandomPolicy | None = None

    def begin_task(self, context: TaskContext) -> None:
        self.policy = RandomPolicy(context.action_space, seed=context.seed)

    def act(self, obs: np.ndarray) -> np.ndarray:
        assert self.policy is not None
        return self.policy(obs)


class CrashOnTask(SeededRandom):
    """Random actions, except that it raises on one task (multi-task setting: it sees the task)."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id

    def begin_task(self, context: TaskContext) -> None:
        if context.task is not None and context.task.id == self.task_id:
            raise RuntimeError(f"deliberate failure on {self.task_id}")
        super().begin_task(context)


def crash_on_task(task_id: str) -> CrashOnTask:
    return CrashOnTask(task_id)


class SlowRandom(SeededRandom):
    """Random actions, ``delay`` seconds per episode: slow enough to be interrupted mid-run."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def begin_episode(self, adaptation: bool) -> None:
        time.sleep(self.delay)


def slow_random(delay: float = 0.05) -> SlowRandom:
    return SlowRandom(delay)


def from_checkpoint(checkpoint: str) -> SlowRandom:
    """A random agent standing for one loaded from ``checkpoint`` (a file the harness fingerprints)."""
    return SlowRandom(0.0)


def greedy_policy(obs: np.ndarray) -> np.ndarray:
    """A plain ``obs -> action`` callable (no Agent methods): heads for (0, 0.5) at full speed."""
    return steer(obs[:2].astype(np.float64), np.array([0.0, 0.5]))


def plain_callable():
    return greedy_policy


class FixedGoal(AgentBase):
    """Goes to one fixed point: what :class:`MeanGoalTrainer` learns."""

    def __init__(self, goal: np.ndarray) -> None:
        self.goal = goal

    def act(self, obs: np.ndarray) -> np.ndarray:
        return steer(obs[:2].astype(np.float64), self.goal)


class MeanGoalTrainer:
    """Locates each training task's goal by probing it (``budget`` steps spread over the tasks) and
    learns a single, task-unconditioned target: the mean goal.

    Trained on one task it finds that task's goal (score ~1); trained on all
    tasks it aims between them: negative transfer on every task away from the mean.
    """

    def train(self, tasks: Sequence[Task], budget: int, seed: int) -> FixedGoal:
        steps = max(3, budget // len(tasks))
        goals = []
        for task in tasks:
            env = tasksuite.get_family(task.family).make_env(task)
            obs, _ = env.reset(seed=seed)
            positions, distances = [], []
            for step in range(min(steps, env.unwrapped.family.horizon)):
                obs, reward, *_ = env.step(_EXPLORE[step % len(_EXPLORE)])
                positions.append(obs[:2].astype(np.float64))
                distances.append(-float(reward))
            goals.append(locate_goal(np.array(positions), np.array(distances)))
        return FixedGoal(np.mean(goals, axis=0))


def mean_goal_trainer() -> MeanGoalTrainer:
    return MeanGoalTrainer()


class PatientGoalFinder(GoalFinder):
    """A :class:`GoalFinder` that learns only in adaptation episodes and declares the budget it needs
    (one episode): with K = 0 it explores every episode, with K >= 1 it goes to the goal."""

    adaptation_budget = AdaptationBudget(1)

    def end_episode(self, adaptation: bool) -> None:
        if adaptation:
            super().end_episode(adaptation)


def patient_goal_finder() -> PatientGoalFinder:
    return PatientGoalFinder()


class SteppedGoalFinder(PatientGoalFinder):
    """A :class:`PatientGoalFinder` standing for a gradient-based agent: with 0 test-time "gradient
    steps" it does not use what it learnt; it declares K = 1 and one step."""

    adaptation_budget = AdaptationBudget(1, gradient_steps=1, step_size=0.5)

    def __init__(self) -> None:
        super().__init__()
        self.steps = 1

    def set_gradient_steps(self, steps: int) -> None:
        self.steps = steps

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self.steps == 0:
            self.step += 1
            return _EXPLORE[(self.step - 1) % len(_EXPLORE)]
        return super().act(obs)


def stepped_goal_finder() -> SteppedGoalFinder:
    return SteppedGoalFinder()


#: The seeds ``seeded_goal_finder`` was called with, in this process (evaluations with workers=1).
FACTORY_SEEDS: list[int] = []


def seeded_goal_finder(seed: int) -> GoalFinder:
    """A factory that takes the run's seed: stands for loading the agent trained with that seed."""
    FACTORY_SEEDS.append(seed)
    return GoalFinder()


#: The checkpoint paths ``from_template`` was called with, in this process.
TEMPLATE_PATHS: list[str] = []


def from_template(checkpoint: str) -> GoalFinder:
    """A factory whose ``checkpoint`` argument names one trained agent per seed (``{seed}`` in it)."""
    TEMPLATE_PATHS.append(checkpoint)
    return GoalFinder()


class DemoFollower(SeededRandom):
    """Goes where its last demonstration ended; random without one (the ``few-shot-demos`` hook's user)."""

    def begin_task(self, context: TaskContext) -> None:
        super().begin_task(context)
        self.goal: np.ndarray | None = None

    def observe_demonstration(self, demonstration) -> None:
        self.goal = demonstration.transitions[-1].next_obs[:2].astype(np.float64)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return super().act(obs) if self.goal is None else steer(obs[:2].astype(np.float64), self.goal)


def demo_follower() -> DemoFollower:
    return DemoFollower()
