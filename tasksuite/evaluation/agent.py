"""The agent protocol: how any agent plugs into tasksuite's evaluation.

The harness drives an agent through *trials*. A trial is one task: the agent
is told that a task begins (:meth:`Agent.begin_task`), then plays episodes of
it. The first episodes of a trial may be *adaptation* episodes (meta-test
protocol: the agent may learn from them), the rest are *evaluation* episodes.
Within an episode the harness calls :meth:`Agent.act` and
:meth:`Agent.observe` each step; around it, :meth:`Agent.begin_episode` and
:meth:`Agent.end_episode` say which kind of episode it is.

Where the baselines adapt:

* MAML takes its gradient steps at the first ``begin_episode(adaptation=False)``
  of a trial, on the adaptation episodes it observed;
* PEARL updates its task posterior in ``end_episode(adaptation=True)``;
* RL² does nothing special: its recurrent state carries over between the
  episodes of a trial and is cleared in ``begin_task``.

Only :meth:`act` is required: :class:`AgentBase` supplies no-op defaults, and
:class:`PolicyAgent` wraps any plain ``obs -> action`` callable.

Two optional attributes tell the harness about an agent's adaptation:

* ``adaptation_budget``: an :class:`AdaptationBudget`, the test-time adaptation the agent was
  trained for (K adaptation episodes; for a gradient-based agent also its gradient steps and
  step size). ``tasksuite evaluate`` without ``--adapt-episodes`` then uses the declared K, and
  says when it is asked to use another. Every baseline checkpoint declares its budget.
* ``set_gradient_steps(steps)``: a gradient-based agent that accepts another number of test-time
  gradient steps; the ``adaptation-sweep`` protocol then sweeps them as well.

One more hook is optional: ``observe_demonstration(demonstration)``. In the
``few-shot-demos`` protocol the harness calls it after :meth:`Agent.begin_task`
and before the first episode, once per :class:`Demonstration` of the trial's
task (a whole episode played by the family's oracle, possibly with action
noise). An agent that does not define it (or inherits :class:`AgentBase`'s
no-op) is evaluated as if shown none, and the report says so
(:func:`takes_demonstrations`). No gradient step is asked of an agent: what it
does with a demonstration is its own business. Where the baselines use them:
PEARL adds the demonstration's transitions to its context and updates its
posterior; RL² reads each one as an earlier episode of its trial; MAML takes
its meta-trained policy-gradient step on them; the in-context transformer puts
them in its context, flagged as demonstrations.

Reference agents (the oracle that defines a normalized score of 1) need the
task even where the setting hides it. They subclass :class:`PrivilegedAgent`;
the harness then puts the task in their :class:`TaskContext` in every setting
and stamps their results ``privileged``, so that such numbers can never pass
for a meta-RL result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from tasksuite.core.task import Task


@dataclass(frozen=True)
class TaskContext:
    """What an agent is told when a trial (a new task) begins.

    Attributes:
        family: the family name.
        setting: ``"multi-task"`` or ``"meta"``.
        task: the task itself where the setting exposes it (multi-task), else
            ``None``: a meta-RL agent must infer the task from experience.
        observation_space: the env's observation space (it includes the task
            encoding where the setting exposes the task).
        action_space: the env's action space; actions outside it are refused.
        horizon: steps per episode.
        seed: a seed for the agent's own randomness in this trial.
    """

    family: str
    setting: str
    task: Task | None
    observation_space: gym.spaces.Box
    action_space: gym.spaces.Box
    horizon: int
    seed: int


@dataclass(frozen=True)
class AdaptationBudget:
    """The test-time adaptation an agent was meta-trained for (see the module docstring).

    Attributes:
        episodes: K, the adaptation episodes before evaluation (0: the agent does not adapt).
        gradient_steps: test-time gradient steps on them (gradient-based agents), else ``None``.
        step_size: the step size of those gradient steps, else ``None``.
    """

    episodes: int
    gradient_steps: int | None = None
    step_size: float | None = None

    def __post_init__(self) -> None:
        if type(self.episodes) is not int or self.episodes < 0:
            raise ValueError(f"AdaptationBudget episodes={self.episodes!r}: expected an integer >= 0")
        if self.gradient_steps is not None and (type(self.gradient_steps) is not int or self.gradient_steps < 0):
            raise ValueError(
                f"AdaptationBudget gradient_steps={self.gradient_steps!r}: expected an integer >= 0 or None"
            )

    def describe(self) -> str:
        """E.g. ``"K=10 adaptation episodes, 1 gradient step(s) of size 0.1"``."""
        text = f"K={self.episodes} adaptation episodes"
        if self.gradient_steps is not None:
            text += f", {self.gradient_steps} gradient step(s)"
            if self.step_size is not None:
                text += f" of size {self.step_size:g}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this value."""
        return asdict(self)


def declared_budget(agent: object) -> AdaptationBudget | None:
    """The agent's ``adaptation_budget`` attribute, ``None`` when it declares none.

    Raises :class:`TypeError` when the attribute is there but is not an :class:`AdaptationBudget`.
    """
    budget = getattr(agent, "adaptation_budget", None)
    if budget is not None and not isinstance(budget, AdaptationBudget):
        raise TypeError(
            f"{type(agent).__name__}.adaptation_budget is a {type(budget).__name__}; "
            "declare it as tasksuite.evaluation.agent.AdaptationBudget(episodes=..., ...) or leave it out"
        )
    return budget


def accepts_gradient_steps(agent: object) -> bool:
    """Whether the agent takes another number of test-time gradient steps (``set_gradient_steps``)."""
    return callable(getattr(agent, "set_gradient_steps", None))


@dataclass(frozen=True)
class Transition:
    """One environment step as the agent observes it."""

    obs: np.ndarray
    action: np.ndarray
    reward: float
    next_obs: np.ndarray
    terminated: bool
    truncated: bool
    info: dict[str, Any]


@dataclass(frozen=True)
class Demonstration:
    """One whole episode of the trial's task played by the family's oracle, shown to the agent before
    it plays (the ``few-shot-demos`` protocol).

    Attributes:
        transitions: every step, in order, as the agent would have observed it.
        env_seed: the ``reset`` seed of the episode (never one of the trial's own episodes).
        noise: standard deviation of the Gaussian noise added to each oracle action, in units of half
            the action box's width (0: the oracle's own actions); noisy actions are clipped to the box.
    """

    transitions: tuple[Transition, ...]
    env_seed: int
    noise: float

    @property
    def ret(self) -> float:
        """The demonstration's undiscounted return."""
        return float(sum(t.reward for t in self.transitions))


@runtime_checkable
class Agent(Protocol):
    """What the evaluation harness calls. Subclass :class:`AgentBase` to get no-op defaults."""

    def begin_task(self, context: TaskContext) -> None:
        """A new trial begins: forget the previous task's adaptation."""

    def begin_episode(self, adaptation: bool) -> None:
        """An episode begins; ``adaptation`` says whether it is an adaptation episode."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The action for ``obs``."""

    def observe(self, transition: Transition) -> None:
        """The outcome of the last action."""

    def end_episode(self, adaptation: bool) -> None:
        """The episode ended; ``adaptation`` as in :meth:`begin_episode`."""


class AgentBase:
    """Convenience base: every hook but :meth:`act` does nothing."""

    def begin_task(self, context: TaskContext) -> None:
        """Ignore the new task."""

    def begin_episode(self, adaptation: bool) -> None:
        """Nothing to prepare."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The action for ``obs``: the one hook every agent must implement."""
        raise NotImplementedError(f"{type(self).__name__} must implement act(obs)")

    def observe(self, transition: Transition) -> None:
        """Do not learn from the transition."""

    def end_episode(self, adaptation: bool) -> None:
        """Nothing to update."""

    def observe_demonstration(self, demonstration: Demonstration) -> None:
        """Ignore the demonstration (the optional hook: an agent that keeps this no-op is evaluated
        as if shown no demonstrations, see :func:`takes_demonstrations`)."""


def takes_demonstrations(agent: object) -> bool:
    """Whether ``agent`` has its own ``observe_demonstration`` hook (not :class:`AgentBase`'s no-op)."""
    hook = getattr(type(agent), "observe_demonstration", None)
    return callable(hook) and hook is not AgentBase.observe_demonstration


class PrivilegedAgent(AgentBase):
    """A reference agent that is shown the task in every setting (see the module docstring).

    Ordinary agents must not subclass it: results of privileged agents are
    marked as such in every record, summary and report.
    """

    privileged: ClassVar[bool] = True


def is_privileged(agent: object) -> bool:
    """Whether the harness shows ``agent`` the task even where the setting hides it."""
    return bool(getattr(agent, "privileged", False))


class PolicyAgent(AgentBase):
    """A non-adaptive agent from a plain ``obs -> action`` callable.

    ``make_policy``, if given, builds the callable for each trial from its
    :class:`TaskContext` (e.g. a seeded random policy); otherwise ``policy`` is
    used for every trial.
    """

    def __init__(
        self,
        policy: Callable[[np.ndarray], np.ndarray] | None = None,
        make_policy: Callable[[TaskContext], Callable[[np.ndarray], np.ndarray]] | None = None,
    ) -> None:
        if (policy is None) == (make_policy is None):
            raise ValueError("give exactly one of policy and make_policy")
        self._policy = policy
        self._make_policy = make_policy

    def begin_task(self, context: TaskContext) -> None:
        if self._make_policy is not None:
            self._policy = self._make_policy(context)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The wrapped policy's action."""
        if self._policy is None:
            raise RuntimeError("begin_task must be called before act")
        return self._policy(obs)
