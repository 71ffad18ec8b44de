"""A tasksuite agent factory for a saved Stable-Baselines3 model.

``tasksuite evaluate --agent sb3_agent:load --agent-kwargs '{"path": "ppo_navigation.zip"}'``
calls :func:`load` once per task and seed. It returns a plain ``obs -> action``
callable, which tasksuite wraps as a non-adaptive agent.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from stable_baselines3 import PPO


def load(path: str = "ppo_navigation.zip") -> Callable[[np.ndarray], np.ndarray]:
    """The model at ``path`` as an ``obs -> action`` callable (deterministic actions)."""
    # The harness runs one worker per core: one torch thread each, or the workers oversubscribe the cores.
    torch.set_num_threads(1)
    model = PPO.load(path, device="cpu")

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(obs, deterministic=True)  # clipped to the action space by SB3
        return action

    return act


def method_name(**kwargs: object) -> str:
    """What tasksuite's reports and plots call this agent (instead of the factory's name, ``load``)."""
    return "SB3 PPO"


load.method_name = method_name  # type: ignore[attr-defined]
