"""Normalized scores and their aggregates: interquartile mean with bootstrap confidence intervals.

Following Agarwal et al. 2021 ("Deep RL at the edge of the statistical
precipice", the rliable recommendations), an aggregate is the interquartile
mean (IQM: the mean of the middle 50 % of all run x task scores) with a
percentile bootstrap confidence interval. Both come from ``scipy.stats``
(``trim_mean``, ``bootstrap``): no hand-written resampling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from tasksuite.evaluation.references import Reference

#: A task's references are degenerate when the oracle beats random by less than
#: this fraction of the returns' magnitude: a score would divide by ~0.
DEGENERATE_GAP = 1e-3
CONFIDENCE = 0.95
RESAMPLES = 2000
STRATIFIED = "stratified bootstrap over runs within each task"
OVER_TASKS = "bootstrap over tasks (one run per task)"
SINGLE = "single value: no interval"


def is_degenerate(reference: Reference) -> bool:
    """Whether the oracle does not clearly beat random on the task, so no score can be computed."""
    scale = max(1.0, abs(reference.oracle), abs(reference.random))
    return reference.oracle - reference.random <= DEGENERATE_GAP * scale


def normalize(ret: float, reference: Reference) -> float:
    """``(ret - R_random) / (R_oracle - R_random)``: 0 is uniform-random, 1 is the oracle.

    Raises ``ValueError`` on degenerate references (check :func:`is_degenerate` first).
    """
    if is_degenerate(reference):
        raise ValueError(
            f"task {reference.task_id}: oracle return {reference.oracle:.6g} does not beat random "
            f"{reference.random:.6g}; its normalized score is undefined"
        )
    return (ret - reference.random) / (reference.oracle - reference.random)


def iqm(values: Sequence[float] | np.ndarray, axis: int = -1) -> np.ndarray | float:
    """Interquartile mean: the mean after trimming 25 % from each end."""
    return stats.trim_mean(values, 0.25, axis=axis)


@dataclass(frozen=True)
class Aggregate:
    """IQM of a set of scores with its confidence interval.

    Attributes:
        iqm: interquartile mean of every (task, run) score.
        low, high: ends of the ``confidence`` bootstrap interval of the IQM.
        mean: plain mean, for reference.
        tasks: number of tasks; runs: number of scores.
        method: how the interval was bootstrapped.
    """

    iqm: float
    low: float
    high: float
    mean: float
    tasks: int
    runs: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this value."""
        return asdict(self)


def aggregate(scores_by_task: Mapping[str, Sequence[float]], seed: int = 0) -> Aggregate:
    """IQM and CI of per-task scores (each task: one score per run).

    With two or more runs on every task the runs are resampled within each task
    (stratified bootstrap, rliable's choice: the tasks are fixed, the runs are
    random). With one run per task the tasks are resampled instead (they are
    draws from the task distribution). The bootstrap is seeded: the same scores
    always give the same interval.
    """
    samples = [np.asarray(v, dtype=float) for v in scores_by_task.values() if len(v)]
    if not samples:
        raise ValueError("no scores to aggregate")
    flat = np.concatenate(samples)
    center = float(iqm(flat))
    if all(len(s) >= 2 for s in samples):
        data, method = samples, STRATIFIED
    elif len(samples) >= 2:
        data, method = [np.array([s.mean() for s in samples])], OVER_TASKS
    else:
        data, method = [], SINGLE
    if data and np.ptp(flat) > 0:
        result = stats.bootstrap(
            data,
            lambda *s, axis=-1: iqm(np.concatenate(s, axis=axis), axis=axis),
            vectorized=True,
            paired=False,
            confidence_level=CONFIDENCE,
            n_resamples=RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    else:
        low = high = center
    return Aggregate(center, low, high, float(flat.mean()), len(samples), int(flat.size), method)
