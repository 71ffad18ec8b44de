"""Agent factories: resolving ``pkg.module:Factory`` specs, and the two reference agents.

``tasksuite evaluate --agent pkg.module:Factory`` imports ``Factory`` and calls
it (with ``--agent-kwargs`` as keyword arguments) in the worker, once per
trial, so every trial starts from a fresh agent. A factory may return an
:class:`~tasksuite.evaluation.agent.Agent` or a plain ``obs -> action``
callable, which is wrapped in a non-adaptive
:class:`~tasksuite.evaluation.agent.PolicyAgent`.

Built-in factories: ``tasksuite.evaluation.agents:oracle`` (the family's
scripted oracle: normalized score 1) and ``tasksuite.evaluation.agents:random``
(uniform-random actions: normalized score 0).

Training seeds: the harness's run ``k`` (seed ``k``) can be an agent trained with seed ``k``. A
factory that accepts a ``seed`` argument is called with it (unless ``--agent-kwargs`` sets it), and
the placeholder ``{seed}`` in a string keyword argument is replaced by it, e.g.
``{"checkpoint": "runs/maml-seed{seed}/checkpoint.pt"}``. Then the report's intervals cover
training seeds; otherwise every run is the same agent and they cover evaluation seeds only.

Reports and plots call a run's method by :meth:`Factory.method_name`: the
factory's name, unless the factory has a ``method_name(**kwargs) -> str``
attribute, which is asked (``tasksuite.baselines:load_agent`` answers with the
checkpoint's algorithm, e.g. ``"maml"``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tasksuite.core.errors import TasksuiteError, did_you_mean
from tasksuite.evaluation.agent import Agent, PolicyAgent, PrivilegedAgent, TaskContext
from tasksuite.evaluation.rollout import RandomPolicy
from tasksuite.registry import get_family

#: Replaced by the run's seed in the string keyword arguments of a factory (see the module docstring).
SEED_PLACEHOLDER = "{seed}"
ORACLE = "tasksuite.evaluation.agents:oracle"
RANDOM = "tasksuite.evaluation.agents:random"


def load_object(spec: str) -> Any:
    """Import ``"pkg.module:attribute"`` (the attribute may be dotted, e.g. ``module:Class.method``)."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise TasksuiteError(f"{spec!r} is not an import spec; write it as 'pkg.module:Factory'")
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise TasksuiteError(f"cannot import module {module_name!r} of {spec!r}: {error}") from error
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError as error:
            hint = did_you_mean(part, [name for name in dir(value) if not name.startswith("_")])
            raise TasksuiteError(
                f"module {module_name!r} has no attribute {attribute!r}{hint} (from {spec!r})"
            ) from error
    return value


def spec_of(factory: str | Callable[..., Any]) -> str:
    """The import spec of a factory given as a spec or as an importable module-level callable."""
    if isinstance(factory, str):
        return factory
    module, name = getattr(factory, "__module__", None), getattr(factory, "__qualname__", "")
    if not module or "<" in name:
        raise TasksuiteError(
            f"factory {factory!r} is not importable by name (a lambda or a local function?); "
            "define it at module level so that worker processes can import it"
        )
    return f"{module}:{name}"


def as_agent(value: Any, spec: str) -> Agent:
    """``value`` if it is an :class:`Agent`, a :class:`PolicyAgent` if it is a plain callable, else an error."""
    if isinstance(value, Agent):
        return value
    if callable(value):
        return PolicyAgent(value)
    missing = [m for m in ("begin_task", "begin_episode", "act", "observe", "end_episode") if not hasattr(value, m)]
    raise TasksuiteError(
        f"factory {spec!r} returned {type(value).__name__}, which is neither an Agent (missing {', '.join(missing)}; "
        "subclass tasksuite.evaluation.agent.AgentBase for no-op defaults) nor an obs -> action callable"
    )


@dataclass(frozen=True)
class Factory:
    """An import spec (``pkg.module:Factory``) and the keyword arguments to call it with (picklable)."""

    spec: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self) -> Callable[..., Any]:
        """The factory itself; raises a clear error when it cannot be imported or is not callable."""
        factory = load_object(self.spec)
        if not callable(factory):
            raise TasksuiteError(f"{self.spec!r} is a {type(factory).__name__}, not a factory (a class or a function)")
        return factory

    def method_name(self) -> str:
        """What reports call this factory's agents: its ``method_name(**kwargs)`` if it has one, else its name."""
        factory = self.resolve()
        describe = getattr(factory, "method_name", None)
        if callable(describe):
            return str(describe(**self.kwargs_for(0, with_seed_argument=False)))
        return self.spec.rpartition(":")[2].rpartition(".")[2]

    def takes_seed(self) -> bool:
        """Whether the factory is called with the run's seed: it has a ``seed`` parameter the kwargs leave free."""
        if "seed" in self.kwargs:
            return False
        try:
            parameters = inspect.signature(self.resolve()).parameters
        except (TypeError, ValueError):  # some builtins have no signature: they take no seed
            return False
        return "seed" in parameters

    def seed_reaches_agent(self) -> bool:
        """Whether run ``k`` builds its agent from seed ``k`` (a ``seed`` argument or the ``{seed}`` placeholder)."""
        templated = any(isinstance(v, str) and SEED_PLACEHOLDER in v for v in self.kwargs.values())
        return templated or self.takes_seed()

    def kwargs_for(self, seed: int | None, with_seed_argument: bool = True) -> dict[str, Any]:
        """The keyword arguments for run ``seed``: ``{seed}`` replaced, ``seed=`` added where the factory takes it."""
        if seed is None:
            return dict(self.kwargs)
        kwargs = {
            key: value.replace(SEED_PLACEHOLDER, str(seed)) if isinstance(value, str) else value
            for key, value in self.kwargs.items()
        }
        if with_seed_argument and self.takes_seed():
            kwargs["seed"] = seed
        return kwargs

    def build(self, seed: int | None = None) -> Any:
        """Call the factory with the keyword arguments (for run ``seed``, see :meth:`kwargs_for`)."""
        return self.resolve()(**self.kwargs_for(seed))

    def build_agent(self, seed: int | None = None) -> Agent:
        """A fresh agent for run ``seed`` (a plain callable becomes a :class:`PolicyAgent`)."""
        return as_agent(self.build(seed), self.spec)


# ---------------------------------------------------------------------- reference agents


class OracleAgent(PrivilegedAgent):
    """The family's scripted oracle for the trial's task: the agent of normalized score 1.

    It is privileged: the harness shows it the task even in the meta setting.
    """

    def __init__(self) -> None:
        self._policy: Callable[[np.ndarray], np.ndarray] | None = None

    def begin_task(self, context: TaskContext) -> None:
        if context.task is None:
            raise TasksuiteError("the oracle needs the task; run it through the evaluation harness")
        self._policy = get_family(context.family).oracle_policy(context.task)

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self._policy is None:
            raise RuntimeError("begin_task must be called before act")
        return self._policy(obs)


def oracle() -> OracleAgent:
    """Factory of :class:`OracleAgent` (``tasksuite.evaluation.agents:oracle``)."""
    return OracleAgent()


def random() -> PolicyAgent:
    """Factory of a uniform-random agent seeded per trial (``tasksuite.evaluation.agents:random``)."""
    return PolicyAgent(make_policy=lambda context: RandomPolicy(context.action_space, seed=context.seed))
