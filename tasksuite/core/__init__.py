"""The task model: parameter spaces, tasks, families, splits, benchmarks and the env base."""

from tasksuite.core.benchmark import Benchmark
from tasksuite.core.env import TaskEnv
from tasksuite.core.errors import (
    InvalidActionError,
    InvalidTaskError,
    ManifestError,
    TasksuiteError,
    UnknownNameError,
)
from tasksuite.core.family import OODLevel, Policy, TaskFamily
from tasksuite.core.params import Categorical, Continuous, ParameterSpace
from tasksuite.core.splits import Splits
from tasksuite.core.task import Task

__all__ = [
    "Benchmark",
    "Categorical",
    "Continuous",
    "InvalidActionError",
    "InvalidTaskError",
    "ManifestError",
    "OODLevel",
    "ParameterSpace",
    "Policy",
    "Splits",
    "Task",
    "TaskEnv",
    "TaskFamily",
    "TasksuiteError",
    "UnknownNameError",
]
