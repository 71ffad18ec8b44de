"""One trial: an agent meets one task, adapts for K episodes, then is evaluated for E episodes.

In the ``few-shot-demos`` protocol the agent is first shown the trial's demonstrations
(:mod:`tasksuite.evaluation.demonstrations`), through its optional ``observe_demonstration`` hook.

Every seed in a trial derives from ``(task id, seed, episode index)`` by
hashing (:func:`derive_seed`), so a trial is reproducible on its own: it does
not matter which process runs it, in which order, or whether the run was
interrupted and resumed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tasksuite.core.benchmark import Benchmark
from tasksuite.core.task import Task, canonical_json
from tasksuite.evaluation.agent import Agent, AgentBase, Demonstration, TaskContext, is_privileged
from tasksuite.evaluation.rollout import run_episode


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from JSON-able ``parts`` (e.g. a purpose, a task id, indices): stable across runs and machines."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def episode_seed(task: Task, seed: int, episode: int) -> int:
    """The env seed of episode ``episode`` of the trial of ``task`` with run seed ``seed``."""
    return derive_seed("episode", task.id, seed, episode)


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode of a trial, as saved in the results (one JSON line).

    Attributes:
        episode: index in the trial, from 0; adaptation episodes come first.
        adaptation: whether the agent was told it may adapt in this episode.
        env_seed: the ``reset`` seed of the episode.
        ret: undiscounted return.
        length: steps.
        success: the env's ``info["success"]`` at the last step.
    """

    episode: int
    adaptation: bool
    env_seed: int
    ret: float
    length: int
    success: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this value."""
        return asdict(self)


def run_trial(
    agent: Agent,
    benchmark: Benchmark,
    task: Task,
    seed: int,
    adapt_episodes: int,
    eval_episodes: int,
    demonstrations: Sequence[Demonstration] = (),
) -> list[EpisodeRecord]:
    """Run one trial of ``agent`` on ``task`` and return one record per episode.

    ``demonstrations`` are given to the agent's ``observe_demonstration`` hook after
    ``begin_task`` and before the first episode (the agent must have the hook).

    The agent sees the task in its :class:`TaskContext` only where the
    benchmark's setting exposes it (multi-task) or the agent is a
    :class:`~tasksuite.evaluation.agent.PrivilegedAgent`.
    """
    env = benchmark.make_env(task)
    try:
        context = TaskContext(
            family=benchmark.family.name,
            setting=benchmark.setting,
            task=task if benchmark.task_observable or is_privileged(agent) else None,
            observation_space=env.observation_space,
            action_space=env.action_space,
            horizon=benchmark.family.horizon,
            seed=derive_seed("agent", task.id, seed),
        )
        agent.begin_task(context)
        for demonstration in demonstrations:
            agent.observe_demonstration(demonstration)  # type: ignore[attr-defined]  # an optional hook
        # An agent that ignores transitions (AgentBase's observe) is not handed one per step.
        observe = None if getattr(type(agent), "observe", None) is AgentBase.observe else agent.observe
        records = []
        for index in range(adapt_episodes + eval_episodes):
            adaptation = index < adapt_episodes
            env_seed = episode_seed(task, seed, index)
            agent.begin_episode(adaptation)
            episode = run_episode(env, agent.act, seed=env_seed, observe=observe)
            agent.end_episode(adaptation)
            records.append(EpisodeRecord(index, adaptation, env_seed, episode.ret, episode.length, episode.success))
        return records
    finally:
        env.close()
