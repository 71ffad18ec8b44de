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

Reports and plots call a run's method by :meth:`Factory.method_name`: the
factory's name, unless the factory has a ``method_name(**kwargs) -> str``
attribute, which is asked (``tasksuite.baselines:load_agent`` answers with the
checkpoint's algorithm, e.g. ``"maml"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tasksuite.core.errors import TasksuiteError, did_you_mean
from tasksuite.evaluation.agent import Agent, PolicyAgent, PrivilegedAgent, TaskContext
from tasksuite.evaluation.rollout import RandomPolicy
from tasksuite.registry import get_family

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
            return str(describe(**dict(self.kwargs)))
        return self.spec.rpartition(":")[2].rpartition(".")[2]

    def build(self) -> Any:
        """Call the factory with the keyword arguments."""
        return self.resolve()(**dict(self.kwargs))

    def build_agent(self) -> Agent:
        """A fresh agent (a plain callable becomes a :class:`PolicyAgent`)."""
        return as_agent(self.build(), self.spec)


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
