"""Task-distribution scaling: does a meta-learner adapt better because it trained on more tasks?

The claim that in-context learning works *because* the pretraining task distribution is large is
testable here: train the same baseline, with the same config (so the same budget of env steps and,
for a baseline with a fixed batch per iteration such as ``incontext`` or ``rl2``, the same number of
gradient steps), on training sets of 10, 100, 1,000 and 10,000 tasks, and score each on the *same*
test and OOD tasks. :func:`scaling_benchmark` makes those training sets; the study itself is rows of
``tasksuite validate``'s plan (:class:`tasksuite.baselines.plan.Row` with ``train_tasks``), so each
size is trained with several seeds, evaluated by the harness and reported with intervals and a figure.

>>> from tasksuite.baselines.scaling import scaling_benchmark
>>> [len(scaling_benchmark("navigation-meta", n).train_tasks) for n in (10, 100)]
[10, 100]
"""

from __future__ import annotations

import dataclasses

import numpy as np

import tasksuite
from tasksuite.core.benchmark import Benchmark
from tasksuite.core.errors import TasksuiteError
from tasksuite.core.task import Task


def _benchmark(benchmark: str | Benchmark) -> Benchmark:
    return tasksuite.make_benchmark(benchmark) if isinstance(benchmark, str) else benchmark


def scaling_benchmark(benchmark: str | Benchmark, n_train: int, seed: int = 0) -> Benchmark:
    """``benchmark`` with its test and OOD tasks and ``n_train`` new training tasks (see the module
    docstring), named ``<name>-train<n_train>``."""
    base = _benchmark(benchmark)
    if type(n_train) is not int or n_train < 1:
        raise TasksuiteError(f"n_train={n_train!r}: must be an integer >= 1")
    if base.setting != "meta":
        raise TasksuiteError(f"benchmark {base.name!r} is {base.setting}: scaling needs a meta benchmark")
    family = base.family
    taken = {family.disjointness_key(task) for task in base.test_tasks}
    rng = np.random.default_rng([seed, 14])  # one stream for every size: the training sets are nested
    train: list[Task] = []
    for _ in range(max(1000, 100 * n_train)):
        if len(train) == n_train:
            break
        task = family.training_task(rng)
        if family.disjointness_key(task) not in taken:
            taken.add(family.disjointness_key(task))
            train.append(task)
    if len(train) < n_train:
        raise TasksuiteError(
            f"n_train={n_train}: the training distribution of {family.name!r} yielded only {len(train)} "
            "tasks distinct from each other and from the test tasks"
        )
    splits = dataclasses.replace(base.splits, train=tuple(train))
    splits.check(family.disjointness_key)
    return Benchmark(name=f"{base.name}-train{n_train}", family=family, splits=splits)
