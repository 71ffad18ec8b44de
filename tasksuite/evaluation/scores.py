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

from tasksuite.evaluation.references import Reference

#: A task's references are degenerate when the oracle beats random by less than
#: this fraction of the returns' magnitude: a score would divide by ~0.
DEGENERATE_GAP = 1e-3
CONFIDENCE = 0.95
#: Bootstrap resamples of :func:`aggregate`: with 2,000 the interval ends moved by 0.002-0.004 between
#: bootstrap seeds, with 10,000 by < 0.002 (about 24 ms per aggregate).
RESAMPLES = 10_000
STRATIFIED = "stratified bootstrap over runs within each task"
OVER_TASKS = "bootstrap over tasks (one run per task)"
SINGLE = "single value: no interval"


def _stats() -> Any:
    # Imported when first needed: scipy.stats takes a second to import, which commands that
    # aggregate nothing (and tasksuite's own import) should not pay.
    from scipy import stats

    return stats


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
    return _stats().trim_mean(values, 0.25, axis=axis)


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


def _percentile_bootstrap(samples: Sequence[np.ndarray], statistic: Any, seed: int) -> tuple[float, float]:
    """The ``CONFIDENCE`` percentile interval of a vectorized ``statistic`` of independent ``samples``
    (each resampled on its own), from ``RESAMPLES`` seeded resamples."""
    result = _stats().bootstrap(
        samples,
        statistic,
        vectorized=True,
        paired=False,
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


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
        low, high = _percentile_bootstrap(data, lambda *s, axis=-1: iqm(np.concatenate(s, axis=axis), axis=axis), seed)
    else:
        low = high = center
    return Aggregate(center, low, high, float(flat.mean()), len(samples), int(flat.size), method)


# ---------------------------------------------------------------------- training seeds x tasks

#: Resamples of the two-level bootstrap: its interval ends move by < 0.002 between bootstrap seeds.
TWO_LEVEL_RESAMPLES = 10_000
TWO_LEVEL = "two-level bootstrap: training seeds and tasks resampled with replacement"
TASKS_ONLY = "bootstrap over tasks (one training seed: no seed variation covered)"


def two_level_aggregate(
    scores: np.ndarray, baseline: np.ndarray | None = None, seed: int = 0, resamples: int = TWO_LEVEL_RESAMPLES
) -> Aggregate:
    """IQM of a ``[training seeds, tasks]`` score matrix with an interval over both sources of variation.

    Each resample draws training seeds with replacement and, independently, tasks with
    replacement (seeds and tasks are crossed: every seed is evaluated on the same tasks), and takes
    the IQM of the resampled matrix: the interval covers what a re-run with new training seeds on
    new tasks from the same distribution would give. rliable's stratified bootstrap resamples runs
    within fixed tasks only; with one training seed this reduces to the bootstrap over tasks.

    With ``baseline`` (a matrix of the same shape: a control on the same seeds and tasks) the
    statistic is the paired difference ``IQM(scores) - IQM(baseline)``, both resampled alike.
    """
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2 or not matrix.size:
        raise ValueError(f"scores must be a non-empty [seeds, tasks] matrix, got shape {matrix.shape}")
    others = None if baseline is None else np.asarray(baseline, dtype=float)
    if others is not None and others.shape != matrix.shape:
        raise ValueError(f"baseline shape {others.shape} differs from scores shape {matrix.shape}")
    n_seeds, n_tasks = matrix.shape

    def statistic(m: np.ndarray, seeds: np.ndarray, tasks: np.ndarray) -> np.ndarray:
        picked = m[seeds[:, :, None], tasks[:, None, :]]
        return iqm(picked.reshape(len(seeds), -1), axis=1)

    center = float(iqm(matrix.ravel()) - (iqm(others.ravel()) if others is not None else 0.0))
    rng = np.random.default_rng(seed)
    seeds_drawn = rng.integers(n_seeds, size=(resamples, n_seeds))
    tasks_drawn = rng.integers(n_tasks, size=(resamples, n_tasks))
    boot = statistic(matrix, seeds_drawn, tasks_drawn)
    if others is not None:
        boot = boot - statistic(others, seeds_drawn, tasks_drawn)
    low, high = np.percentile(boot, [100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2])
    mean = float(matrix.mean() - (others.mean() if others is not None else 0.0))
    method = TWO_LEVEL if n_seeds > 1 else TASKS_ONLY
    return Aggregate(center, float(low), float(high), mean, n_tasks, int(matrix.size), method)


def new_seed_range(per_seed: Sequence[float]) -> tuple[float, float] | None:
    """Where one more training seed's score is expected to land (95 % prediction interval of a
    normal sample: ``mean ± t · sd · sqrt(1 + 1/n)``); ``None`` with fewer than two seeds."""
    values = np.asarray(per_seed, dtype=float)
    if values.size < 2:
        return None
    half = _stats().t.ppf((1 + CONFIDENCE) / 2, values.size - 1) * values.std(ddof=1) * np.sqrt(1 + 1 / values.size)
    return float(values.mean() - half), float(values.mean() + half)


# ---------------------------------------------------------------------- score vs distance

ROBUSTNESS = "bootstrap over trials (tasks x seeds) within each level, levels at their mean distances"


@dataclass(frozen=True)
class Robustness:
    """How a score holds up with the distance from the training support, in one number each.

    Attributes:
        auc: the area under the IQM-vs-distance line (test tasks at distance 0, then each OOD level
            at its mean distance; trapezoids), divided by the distance range covered: the average
            score over that range, 1 for an agent that scores 1 everywhere, 0 for random.
        auc_low, auc_high: its 95 % bootstrap interval.
        slope: the least-squares slope of the level IQMs against their distances (score per unit of
            distance; negative: the agent degrades).
        slope_low, slope_high: its 95 % bootstrap interval.
        distance_range: the range covered, ``(nearest, farthest)`` mean distance.
        levels: the number of levels used (test included).
        method: how the intervals were bootstrapped.
    """

    auc: float
    auc_low: float
    auc_high: float
    slope: float
    slope_low: float
    slope_high: float
    distance_range: tuple[float, float]
    levels: int
    method: str = ROBUSTNESS

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of this value."""
        return {**asdict(self), "distance_range": list(self.distance_range)}


def robustness(levels: Sequence[tuple[float, Sequence[float]]], seed: int = 0) -> Robustness | None:
    """:class:`Robustness` from ``(mean distance, trial scores)`` of each level (test tasks included).

    ``None`` with fewer than two levels or no distance range. Each level's trials are resampled on
    their own (``scipy.stats.bootstrap`` with one sample per level); the distances are fixed.
    """
    chosen = sorted(((float(d), np.asarray(v, dtype=float)) for d, v in levels if len(v)), key=lambda x: x[0])
    distances = np.array([d for d, _ in chosen])
    if len(chosen) < 2 or np.ptp(distances) <= 0:
        return None
    width = float(np.ptp(distances))
    centered = distances - distances.mean()

    def curve(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.stack([np.asarray(iqm(sample, axis=axis)) for sample in samples], axis=-1)

    def auc(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        y = curve(*samples, axis=axis)
        return np.sum((y[..., 1:] + y[..., :-1]) / 2 * np.diff(distances), axis=-1) / width

    def slope(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        y = curve(*samples, axis=axis)
        return np.sum(y * centered, axis=-1) / np.sum(centered**2)

    samples = [v for _, v in chosen]
    resampled = all(len(v) >= 2 for v in samples) and any(np.ptp(v) > 0 for v in samples)
    figures = []
    for statistic in (auc, slope):
        value = float(statistic(*samples))
        ends = _percentile_bootstrap(samples, statistic, seed) if resampled else (value, value)
        figures += [value, *ends]
    return Robustness(*figures, (float(distances[0]), float(distances[-1])), len(chosen))
