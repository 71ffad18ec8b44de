"""Rolling out a policy: the primitive every protocol is built on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from tasksuite.evaluation.agent import Transition

Policy = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Episode:
    """Summary of one episode."""

    ret: float
    length: int
    success: bool
    terminated: bool


class RandomPolicy:
    """Uniform random actions from ``action_space``, reproducible from ``seed``.

    The reference policy that defines a normalized score of 0.
    """

    def __init__(self, action_space: gym.spaces.Box, seed: int | None = None) -> None:
        self._space = action_space
        self._rng = np.random.default_rng(seed)
        # rng.uniform(low, high)'s draws and arithmetic (in double precision), without converting the bounds per call.
        self._low = action_space.low.astype(np.float64)
        self._width = action_space.high.astype(np.float64) - self._low

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return (self._low + self._width * self._rng.random(self._low.shape)).astype(self._space.dtype)


def run_episode(
    env: gym.Env,
    policy: Policy,
    seed: int | None = None,
    observe: Callable[[Transition], None] | None = None,
) -> Episode:
    """Run ``policy`` for one episode of ``env`` from ``reset(seed=seed)``.

    ``observe``, if given, receives every step's :class:`Transition` (an
    adapting agent's :meth:`~tasksuite.evaluation.agent.Agent.observe`).
    ``success`` is the env's ``info["success"]`` at the last step (``False``
    when the family reports none).
    """
    obs, _ = env.reset(seed=seed)
    total, length, done = 0.0, 0, False
    info: dict = {}
    terminated = False
    while not done:
        action = policy(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        if observe is not None:
            observe(Transition(obs, np.asarray(action), float(reward), next_obs, terminated, truncated, info))
        obs = next_obs
        total += float(reward)
        length += 1
        done = terminated or truncated
    return Episode(ret=total, length=length, success=bool(info.get("success", False)), terminated=bool(terminated))
