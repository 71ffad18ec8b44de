"""A tasksuite agent factory for a saved Stable-Baselines3 model.

``tasksuite evaluate --agent sb3_agent:load --agent-kwargs '{"path": "ppo_navigation.zip"}'``
calls :func:`load` once per task and seed. It returns a plain ``obs -> action``
callable, which tasksuite wraps as a non-adaptive agent.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from stable_baselines3 import PPO


def load(path: str = "ppo_navigation.zip") -> Callable[[np.ndarray], np.ndarray]:
    model = PPO.load(path, device="cpu")

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(obs, deterministic=True)  # clipped to the action space by SB3
        return action

    return act
