"""Normalized scores and IQM aggregates with bootstrap intervals."""

import numpy as np
import pytest
from scipy import stats

from tasksuite.evaluation.references import Reference
from tasksuite.evaluation.scores import OVER_TASKS, SINGLE, STRATIFIED, aggregate, is_degenerate, normalize


def reference(oracle, random):
    return Reference("navigation", 0, "navigation-000000000000", (1, 2), (oracle, oracle), (random, random))


def test_normalize_maps_random_to_zero_and_oracle_to_one():
    ref = reference(oracle=-10.0, random=-60.0)
    assert normalize(-60.0, ref) == 0.0 and normalize(-10.0, ref) == 1.0
    assert normalize(-35.0, ref) == pytest.approx(0.5)
    assert normalize(-85.0, ref) == pytest.approx(-0.5)  # worse than random is negative, not clipped


@pytest.mark.parametrize(("oracle", "random"), [(5.0, 5.0), (5.0, 5.001), (3.0, 4.0), (-100.0, -100.05)])
def test_degenerate_references_refuse_to_divide(oracle, random):
    ref = reference(oracle, random)
    assert is_degenerate(ref)
    with pytest.raises(ValueError, match="does not beat random"):
        normalize(oracle, ref)


def test_clear_gaps_are_not_degenerate():
    assert not is_degenerate(reference(oracle=0.2, random=0.0))
    assert not is_degenerate(reference(oracle=-90.0, random=-100.0))


def test_iqm_is_scipys_trimmed_mean_and_ignores_outliers():
    scores = {"a": [0.9, 1.0, 0.95], "b": [0.8, 0.85, 0.9], "c": [0.9, 0.95, -50.0]}
    agg = aggregate(scores)
    flat = np.concatenate(list(scores.values()))
    assert agg.iqm == pytest.approx(stats.trim_mean(flat, 0.25))
    assert agg.mean == pytest.approx(flat.mean()) and agg.mean < 0 < 0.85 < agg.iqm
    assert (agg.tasks, agg.runs, agg.method) == (3, 9, STRATIFIED)


def test_interval_brackets_the_iqm_narrows_with_more_runs_and_is_reproducible():
    rng = np.random.default_rng(0)
    few = {f"t{i}": list(rng.normal(0.5, 0.2, size=3)) for i in range(4)}
    many = {f"t{i}": list(rng.normal(0.5, 0.2, size=30)) for i in range(4)}
    small, large = aggregate(few), aggregate(many)
    assert small.low <= small.iqm <= small.high and large.low <= large.iqm <= large.high
    assert large.high - large.low < small.high - small.low
    assert aggregate(few) == small


def test_one_run_per_task_resamples_tasks_and_one_value_has_no_interval():
    spread = aggregate({"a": [0.1], "b": [0.5], "c": [0.9], "d": [0.7]})
    assert spread.method == OVER_TASKS and spread.low < spread.iqm < spread.high
    single = aggregate({"a": [0.4]})
    assert single.method == SINGLE and single.low == single.iqm == single.high == 0.4


def test_stratified_bootstrap_keeps_tasks_fixed():
    # Runs agree within each task: resampling runs inside tasks cannot move the IQM,
    # however different the tasks are (resampling tasks would).
    agg = aggregate({"easy": [1.0, 1.0], "hard": [0.0, 0.0]})
    assert agg.method == STRATIFIED and agg.low == agg.high == agg.iqm == 0.5


def test_no_scores_is_an_error():
    with pytest.raises(ValueError, match="no scores"):
        aggregate({"a": []})


# ---------------------------------------------------------------------- two-level bootstrap

from tasksuite.evaluation.scores import TASKS_ONLY, TWO_LEVEL, new_seed_range, two_level_aggregate  # noqa: E402


def test_two_level_interval_covers_seed_variation_that_the_stratified_one_misses():
    rng = np.random.default_rng(0)
    seed_offsets = rng.normal(0, 0.2, (5, 1))  # training seeds that differ as a whole
    scores = 0.6 + seed_offsets + rng.normal(0, 0.05, (5, 20))
    two = two_level_aggregate(scores)
    stratified = aggregate({f"t{j}": scores[:, j] for j in range(20)})
    assert two.method == TWO_LEVEL and two.low <= two.iqm <= two.high
    assert two.high - two.low > 2 * (stratified.high - stratified.low)
    assert two.iqm == pytest.approx(float(stats.trim_mean(scores.ravel(), 0.25)))


def test_two_level_bootstrap_is_seeded_and_its_ends_are_stable_across_bootstrap_seeds():
    scores = np.random.default_rng(1).normal(0.7, 0.1, (5, 20))
    assert two_level_aggregate(scores) == two_level_aggregate(scores)
    ends = np.array([(a.low, a.high) for a in (two_level_aggregate(scores, seed=s) for s in range(4))])
    assert np.ptp(ends, axis=0).max() < 0.004


def test_paired_difference_resamples_both_matrices_alike():
    scores = np.random.default_rng(2).normal(0.5, 0.3, (4, 10))
    same = two_level_aggregate(scores, scores - 0.25)
    assert same.iqm == pytest.approx(0.25) and same.low == pytest.approx(0.25) and same.high == pytest.approx(0.25)
    with pytest.raises(ValueError, match="shape"):
        two_level_aggregate(scores, scores[:, :5])


def test_one_training_seed_reduces_to_the_bootstrap_over_tasks():
    assert two_level_aggregate(np.array([[0.1, 0.5, 0.9, 0.4]])).method == TASKS_ONLY
    with pytest.raises(ValueError, match="matrix"):
        two_level_aggregate(np.array([0.1, 0.2]))


def test_a_new_seed_lands_in_the_predicted_range_about_95_percent_of_the_time():
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(400):
        seeds = rng.normal(0.6, 0.1, 6)
        low, high = new_seed_range(seeds[:5])
        hits += low <= seeds[5] <= high
    assert 0.9 <= hits / 400 <= 0.99
    assert new_seed_range([0.5]) is None
