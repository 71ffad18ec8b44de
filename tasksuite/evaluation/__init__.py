"""Evaluation protocols, scores and reports.

* :mod:`~tasksuite.evaluation.agent`: the agent protocol any agent implements;
* :mod:`~tasksuite.evaluation.agents`: factory specs and the oracle / random reference agents;
* :mod:`~tasksuite.evaluation.trial`: one trial (K adaptation + E evaluation episodes);
* :mod:`~tasksuite.evaluation.references`: cached oracle and random reference returns;
* :mod:`~tasksuite.evaluation.scores`: normalized scores, IQM and bootstrap intervals;
* :mod:`~tasksuite.evaluation.protocols`: multi-task, meta-test, OOD sweep, transfer;
* :mod:`~tasksuite.evaluation.runner`: local process pool or Ray fan-out;
* :mod:`~tasksuite.evaluation.results` and :mod:`~tasksuite.evaluation.report`: the results folder.
* :mod:`~tasksuite.evaluation.style`: one colour and marker per method, in every figure.
"""

from typing import Any

from tasksuite.evaluation.agent import Agent, AgentBase, PolicyAgent, PrivilegedAgent, TaskContext, Transition
from tasksuite.evaluation.protocols import PROTOCOLS, Trainer


def __getattr__(name: str) -> Any:
    # The harness pulls in scipy and the report machinery: load it on first use only, so that
    # agents importing the protocol (and evaluation workers) start fast.
    if name in ("evaluate", "redraw_report"):
        from tasksuite.evaluation import harness

        return getattr(harness, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PROTOCOLS",
    "Agent",
    "AgentBase",
    "PolicyAgent",
    "PrivilegedAgent",
    "TaskContext",
    "Trainer",
    "Transition",
    "evaluate",
    "redraw_report",
]
