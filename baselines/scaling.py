"""Task-distribution scaling: does a meta-learner adapt better because it trained on more tasks?

The claim that in-context learning works *because* the pretraining task distribution is large is
testable here: train the same baseline, with the same config (so the same budget of env steps and,
for a baseline with a fixed batch per iteration such as ``incontext`` or ``rl2``, the same number of
gradient steps), on training sets of 10, 100, 1,000 and 10,000 tasks, and score each on the *same*
test and OOD tasks.

* :func:`scaling_benchmark` keeps a benchmark's test and OOD tasks and draws ``n_train`` training tasks
  from the family's training distribution, distinct from each other and from the test tasks. The draws
  are one seeded stream, so the sets are nested: the 10 tasks are the first 10 of the 100.
* :func:`train_scaling` trains one run per training-set size; :func:`scaling_scores` evaluates each with
  the harness (ood-sweep: test tasks and every OOD level) and returns the score per size and split;
  :func:`scaling_figure` draws score vs number of training tasks.

>>> from tasksuite.baselines.scaling import scaling_scores, train_scaling  # doctest: +SKIP
>>> runs = train_scaling("incontext", "navigation-meta", "runs/scaling")  # doctest: +SKIP
>>> rows = scaling_scores(runs, "navigation-meta", "results/scaling")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tasksuite
from tasksuite.baselines import train_baseline
from tasksuite.core.benchmark import Benchmark
from tasksuite.core.errors import TasksuiteError
from tasksuite.core.task import Task

#: Training-set sizes of the scaling study.
DEFAULT_SIZES: tuple[int, ...] = (10, 100, 1000, 10000)


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
        task = family.task(**family.sample_training_params(rng))
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


def train_scaling(
    algorithm: str,
    benchmark: str | Benchmark,
    out_dir: str | os.PathLike[str],
    sizes: Sequence[int] = DEFAULT_SIZES,
    seed: int = 0,
    resume: bool = False,
    **overrides: Any,
) -> dict[int, Path]:
    """Train ``algorithm`` once per training-set size, with the same config (``overrides``) and seed, into
    ``out_dir/train<n>``; returns each size's checkpoint. ``resume`` resumes every run that has one."""
    checkpoints = {}
    for n_train in sizes:
        out = Path(out_dir) / f"train{n_train}"
        again = resume and (out / "checkpoint.pt").exists()
        checkpoints[n_train] = train_baseline(
            algorithm, scaling_benchmark(benchmark, n_train), out, seed=seed, resume=again, **overrides
        )
    return checkpoints


def scaling_scores(
    checkpoints: Mapping[int, str | os.PathLike[str]],
    benchmark: str | Benchmark,
    out_dir: str | os.PathLike[str],
    agent_kwargs: Mapping[str, Any] | None = None,
    **evaluate_options: Any,
) -> list[dict[str, Any]]:
    """Evaluate each size's checkpoint on ``benchmark``'s test tasks and OOD levels (``ood-sweep``, into
    ``out_dir/train<n>``; ``evaluate_options`` go to :func:`~tasksuite.evaluation.evaluate`). One row per
    size and split: ``n_train``, ``split``, ``distance`` and the score's ``iqm``, ``low``, ``high``."""
    from tasksuite.evaluation import evaluate

    rows = []
    for n_train, checkpoint in sorted(checkpoints.items()):
        summary = evaluate(
            Path(out_dir) / f"train{n_train}",
            agent="tasksuite.baselines:load_agent",
            agent_kwargs={"checkpoint": str(checkpoint), **(agent_kwargs or {})},
            benchmark=_benchmark(benchmark),
            protocols="ood-sweep",
            **evaluate_options,
        )
        for split, agg in summary["protocols"]["ood-sweep"]["splits"].items():
            if agg is not None:
                row = {"iqm": agg["iqm"], "low": agg["low"], "high": agg["high"], "distance": agg["distance"]}
                rows.append({"n_train": n_train, "split": split, **row})
    return rows


def scaling_figure(rows: Sequence[Mapping[str, Any]], title: str = "") -> Any:
    """Score (IQM, 95% CI) vs number of training tasks (log scale), one line per split."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2))
    ax = figure.subplots()
    for split in dict.fromkeys(row["split"] for row in rows):
        points = sorted((row for row in rows if row["split"] == split), key=lambda row: row["n_train"])
        ax.errorbar(
            [p["n_train"] for p in points],
            [p["iqm"] for p in points],
            yerr=[[p["iqm"] - p["low"] for p in points], [p["high"] - p["iqm"] for p in points]],
            marker="o",
            capsize=3,
            label=split,
        )
    ax.set_xscale("log")
    ax.set(xlabel="training tasks", ylabel="normalized score", title=title)
    ax.legend(fontsize=8)
    return figure
