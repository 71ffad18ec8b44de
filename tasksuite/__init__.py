"""tasksuite: parameterized task families for multi-task and meta-reinforcement learning.

>>> import gymnasium as gym
>>> import tasksuite
>>> env = gym.make("tasksuite/Navigation-v0")
>>> obs, info = env.reset(seed=0)

Importing tasksuite registers every family with Gymnasium.
"""

from tasksuite.core import (
    Benchmark,
    InvalidActionError,
    InvalidTaskError,
    ManifestError,
    Splits,
    Task,
    TaskFamily,
    TasksuiteError,
    UnknownNameError,
)
from tasksuite.registry import get_family, list_benchmarks, list_families, make_benchmark, register_gymnasium_envs

__version__ = "0.1.0"

register_gymnasium_envs()

__all__ = [
    "Benchmark",
    "InvalidActionError",
    "InvalidTaskError",
    "ManifestError",
    "Splits",
    "Task",
    "TaskFamily",
    "TasksuiteError",
    "UnknownNameError",
    "__version__",
    "get_family",
    "list_benchmarks",
    "list_families",
    "make_benchmark",
]
