"""Demonstrations: whole episodes of a task played by its family's oracle, for the ``few-shot-demos`` protocol.

A trial's demonstrations are reproducible from ``(task id, run seed, index)`` alone, like its
episodes (:mod:`tasksuite.evaluation.trial`): demonstration ``i`` is the oracle of *that* task on
the env seeded ``demonstration_seed(task, seed, i)``, which is never the seed of one of the trial's
own episodes. The oracle sees the task (it is the reference of score 1); the observations it is
shown are those of the benchmark's env, so a demonstration looks exactly like an episode the agent
could have played itself.

Imperfect demonstrations: with ``noise > 0`` each oracle action gets independent Gaussian noise of
standard deviation ``noise`` times half the action box's width (per dimension), drawn from a
generator seeded by the demonstration, and is then clipped to the box, because the envs refuse
actions outside it. ``noise=0`` plays the oracle's own actions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tasksuite.core.benchmark import Benchmark
from tasksuite.core.checks import distinct_counts
from tasksuite.core.errors import TasksuiteError
from tasksuite.core.task import Task
from tasksuite.evaluation.agent import Demonstration, Transition
from tasksuite.evaluation.rollout import run_episode
from tasksuite.evaluation.trial import derive_seed

#: Demonstration counts swept by default (D).
DEFAULT_DEMONSTRATIONS: tuple[int, ...] = (0, 1, 3, 10)


def demonstration_seed(task: Task, seed: int, index: int) -> int:
    """The env seed of demonstration ``index`` of the trial of ``task`` with run seed ``seed``."""
    return derive_seed("demonstration", task.id, seed, index)


def check_demonstrations(counts: Sequence[int], noise: float) -> tuple[tuple[int, ...], float]:
    """The demonstration counts (sorted; a repeated one is refused) and noise level, checked.

    Raises :class:`TasksuiteError` naming the parameter, the value and what is allowed.
    """
    counts = distinct_counts("demonstrations", counts, 0)
    if type(noise) not in (int, float) or not math.isfinite(noise) or noise < 0:
        raise TasksuiteError(f"demo_noise={noise!r}: must be a finite number >= 0 (0: the oracle's own actions)")
    return counts, float(noise)


def make_demonstrations(
    benchmark: Benchmark, task: Task, seed: int, count: int, noise: float = 0.0
) -> list[Demonstration]:
    """The first ``count`` demonstrations of the trial of ``task`` with run seed ``seed``."""
    env = benchmark.make_env(task)
    low, high = env.action_space.low, env.action_space.high
    try:
        demonstrations = []
        for index in range(count):
            oracle = benchmark.family.oracle_policy(task)
            rng = np.random.default_rng(derive_seed("demonstration-noise", task.id, seed, index))

            def act(obs: np.ndarray, oracle=oracle, rng=rng) -> np.ndarray:
                action = np.asarray(oracle(obs), dtype=env.action_space.dtype)
                if noise == 0:
                    return action
                noisy = action + noise * (high - low) / 2 * rng.standard_normal(action.shape)
                return np.clip(noisy, low, high).astype(env.action_space.dtype)

            steps: list[Transition] = []
            env_seed = demonstration_seed(task, seed, index)
            run_episode(env, act, seed=env_seed, observe=steps.append)
            demonstrations.append(Demonstration(tuple(steps), env_seed, noise))
        return demonstrations
    finally:
        env.close()
