"""The adaptation budget through the harness: declared K, mismatch notices, the adaptation sweep,
training seeds reaching the factory, and the OOD robustness figures."""

from __future__ import annotations

import json

import evaluation_agents
import numpy as np
import pytest

from tasksuite import TasksuiteError
from tasksuite.cli import main
from tasksuite.evaluation import evaluate
from tasksuite.evaluation.agent import AdaptationBudget, declared_budget
from tasksuite.evaluation.harness import BudgetMismatchWarning
from tasksuite.evaluation.protocols import DEFAULT_ADAPT_EPISODES
from tasksuite.evaluation.scores import robustness

CHEAP = {"seeds": 1, "workers": 1, "progress": False, "max_tasks": 2, "eval_episodes": 1}
PATIENT = "evaluation_agents:patient_goal_finder"
STEPPED = "evaluation_agents:stepped_goal_finder"


def _units(out):
    return sorted(p.relative_to(out / "units").as_posix() for p in (out / "units").rglob("*.jsonl"))


def _records(out):
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------------- the declared budget


def test_without_adapt_episodes_the_agents_declared_budget_is_used(tmp_path):
    summary = evaluate(tmp_path / "run", PATIENT, "navigation-meta", "meta-test", **CHEAP)
    assert summary["adaptation"] == {
        "episodes": 1,
        "source": "declared",
        "declared": {"episodes": 1, "gradient_steps": None, "step_size": None},
        "notice": None,
    }
    records = _records(tmp_path / "run")
    assert [r["adaptation"] for r in records if r["seed"] == 0][:2] == [True, False]
    assert summary["protocols"]["meta-test"]["splits"]["test"]["iqm"] > 0.95  # K = 1 is what it needs
    assert "1 (the agent's trained budget)" in (tmp_path / "run" / "report.md").read_text()


def test_another_k_is_evaluated_with_a_notice_naming_both_budgets(tmp_path, capsys):
    with pytest.warns(BudgetMismatchWarning, match="K=0 adaptation episodes; the agent was trained for K=1"):
        summary = evaluate(tmp_path / "run", PATIENT, "navigation-meta", "meta-test", adapt_episodes=0, **CHEAP)
    assert summary["adaptation"]["source"] == "given"
    assert summary["protocols"]["meta-test"]["splits"]["test"]["iqm"] < 0.5  # without its episode it explores
    report = (tmp_path / "run" / "report.md").read_text()
    assert "the agent was trained for K=1" in report and "given; the agent trained for K=1" in report

    cheap = ["--max-tasks", "2", "--seeds", "1", "--eval-episodes", "1", "--workers", "1", "--quiet"]
    status = main(["evaluate", "--agent", PATIENT, "--adapt-episodes", "0", *cheap, "--out", str(tmp_path / "cli")])
    notices = [line for line in capsys.readouterr().out.splitlines() if "trained for" in line]
    assert status == 0 and notices == [f"notice: {summary['adaptation']['notice']}"]


def test_an_agent_without_a_declaration_gets_the_default_and_the_report_says_why(tmp_path):
    summary = evaluate(tmp_path / "run", "evaluation_agents:goal_finder", "navigation-meta", "meta-test", **CHEAP)
    assert summary["adaptation"]["episodes"] == DEFAULT_ADAPT_EPISODES
    assert summary["adaptation"]["source"] == "default" and summary["adaptation"]["notice"] is None
    assert "the harness default: the agent declares no budget" in (tmp_path / "run" / "report.md").read_text()


def test_a_budget_that_is_not_an_adaptation_budget_is_a_clear_error():
    class Wrong:
        adaptation_budget = 10

    with pytest.raises(TypeError, match="adaptation_budget is a int"):
        declared_budget(Wrong())
    with pytest.raises(ValueError, match="episodes=-1"):
        AdaptationBudget(-1)


# ---------------------------------------------------------------------- the sweep


def test_each_sweep_point_is_the_meta_test_of_that_budget(tmp_path):
    options = {**CHEAP, "seeds": 2}
    sweep = evaluate(
        tmp_path / "sweep", PATIENT, "navigation-meta", "adaptation-sweep", sweep_episodes=[0, 2], **options
    )
    points = {p["k"]: p for p in sweep["protocols"]["adaptation-sweep"]["splits"]["test"]["episodes"]}
    assert sorted(points) == [0, 1, 2]  # the run's (declared) K is always a point
    assert points[0]["iqm"] < 0.5 < 0.95 < points[1]["iqm"]
    for k in (0, 2):
        with pytest.warns(BudgetMismatchWarning):
            meta = evaluate(tmp_path / f"meta{k}", PATIENT, "navigation-meta", "meta-test", adapt_episodes=k, **options)
        test = meta["protocols"]["meta-test"]["splits"]["test"]
        assert {key: points[k][key] for key in ("iqm", "low", "high", "runs")} == {
            key: test[key] for key in ("iqm", "low", "high", "runs")
        }
    # K = 0 is the agent before any adaptation: its first episode in meta-test, with the same seeds.
    first = [r["normalized"] for r in _records(tmp_path / "meta2") if r["episode"] == 0]
    swept = [r["normalized"] for r in _records(tmp_path / "sweep") if r["adapt_episodes"] == 0]
    assert sorted(first) == pytest.approx(sorted(swept))


def test_the_sweep_sets_gradient_steps_where_the_agent_takes_them_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "run"
    summary = evaluate(out, STEPPED, "navigation-meta", "adaptation-sweep", sweep_episodes=[0, 1], **CHEAP)
    steps = {
        p["gradient_steps"]: p["iqm"]
        for p in summary["protocols"]["adaptation-sweep"]["splits"]["test"]["gradient_steps"]
    }
    assert sorted(steps) == [0, 1, 2, 3] and steps[0] < 0.5 < 0.95 < min(steps[1], steps[2], steps[3])
    assert "sweep/K1-G0/test" in " ".join(_units(out))
    report = (out / "report.md").read_text()
    assert "by test-time gradient steps" in report and "![sweep](plots/sweep.png)" in report
    assert (out / "plots" / "sweep.png").stat().st_size > 0

    from tasksuite.evaluation import protocols

    def refuse(job):
        raise AssertionError(f"finished unit {job.unit.key} was run again")

    monkeypatch.setattr(protocols, "run_unit", refuse)
    monkeypatch.setattr("tasksuite.evaluation.harness.run_unit", refuse)
    again = evaluate(out, STEPPED, "navigation-meta", "adaptation-sweep", sweep_episodes=[0, 1], **CHEAP)
    assert again["protocols"] == summary["protocols"]


def test_sweep_arguments_are_checked(tmp_path):
    with pytest.raises(TasksuiteError, match="takes no other number of gradient steps"):
        evaluate(tmp_path / "a", PATIENT, "navigation-meta", "adaptation-sweep", sweep_gradient_steps=[0, 1], **CHEAP)
    with pytest.raises(TasksuiteError, match=r"sweep_ood=\['farther'\].*near, far"):
        evaluate(tmp_path / "b", PATIENT, "navigation-meta", "adaptation-sweep", sweep_ood=["farther"], **CHEAP)
    with pytest.raises(TasksuiteError, match=r"sweep_episodes=\[1, 1\] repeats"):
        evaluate(tmp_path / "c", PATIENT, "navigation-meta", "adaptation-sweep", sweep_episodes=[1, 1], **CHEAP)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------- training seeds


def test_the_run_seed_reaches_a_factory_that_accepts_it(tmp_path):
    evaluation_agents.FACTORY_SEEDS.clear()
    summary = evaluate(
        tmp_path / "run", "evaluation_agents:seeded_goal_finder", "navigation-meta", **CHEAP | {"seeds": 3}
    )
    assert set(evaluation_agents.FACTORY_SEEDS) == {0, 1, 2}
    assert summary["runs"] == "training seeds"
    assert "resample training seeds within each task" in (tmp_path / "run" / "report.md").read_text()


def test_a_seed_placeholder_names_one_agent_per_run_and_each_file_is_fingerprinted(tmp_path):
    evaluation_agents.TEMPLATE_PATHS.clear()
    for seed in (0, 1):
        (tmp_path / f"agent{seed}.bin").write_bytes(bytes([seed]))
    template = str(tmp_path / "agent{seed}.bin")
    options = {**CHEAP, "seeds": 2, "agent_kwargs": {"checkpoint": template}}
    summary = evaluate(tmp_path / "run", "evaluation_agents:from_template", "navigation-meta", **options)
    assert set(evaluation_agents.TEMPLATE_PATHS) == {str(tmp_path / "agent0.bin"), str(tmp_path / "agent1.bin")}
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert sorted(config["files"]) == [str(tmp_path / "agent0.bin"), str(tmp_path / "agent1.bin")]
    assert config["agent_kwargs"] == {"checkpoint": template} and summary["runs"] == "training seeds"


def test_one_agent_for_every_run_is_reported_as_evaluation_seeds(tmp_path):
    summary = evaluate(tmp_path / "run", "evaluation_agents:goal_finder", "navigation-meta", **CHEAP)
    assert summary["runs"] == "evaluation seeds"
    assert "not training seeds" in (tmp_path / "run" / "report.md").read_text()


# ---------------------------------------------------------------------- robustness


def test_robustness_is_the_mean_score_over_the_distance_range_and_its_slope():
    flat = robustness([(0.0, [0.8, 0.8, 0.8]), (2.0, [0.8, 0.8, 0.8])])
    assert flat.auc == pytest.approx(0.8) and flat.slope == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    levels = [(d, 1.0 - 0.4 * d + rng.normal(0, 0.05, 40)) for d in (0.0, 0.5, 1.0, 2.0)]
    found = robustness(levels)
    # Trapezoids of the line 1 - 0.4 d over [0, 2], divided by the range: 0.6; slope -0.4.
    assert found.auc == pytest.approx(0.6, abs=0.03) and found.slope == pytest.approx(-0.4, abs=0.03)
    assert found.auc_low < found.auc < found.auc_high and found.slope_low < found.slope < found.slope_high
    assert found.distance_range == (0.0, 2.0) and found.levels == 4
    assert robustness([(0.0, [1.0])]) is None and robustness([(1.0, [1.0]), (1.0, [0.5])]) is None


def test_the_ood_sweep_reports_robustness_in_the_familys_unit(tmp_path):
    summary = evaluate(tmp_path / "run", "evaluation_agents:goal_finder", "navigation-meta", "ood-sweep", **CHEAP)
    found = summary["protocols"]["ood-sweep"]["robustness"]
    splits = summary["protocols"]["ood-sweep"]["splits"]
    assert found["levels"] == len(splits) and found["distance_range"][0] == splits["test"]["distance"] == 0
    assert found["slope"] < 0 and 0 < found["auc"] < splits["test"]["iqm"]  # it drops out of distribution
    report = (tmp_path / "run" / "report.md").read_text()
    unit = json.loads((tmp_path / "run" / "config.json").read_text())["distance_unit"]
    assert unit and f"per {unit}" in report and "area under score vs distance" in report


def test_a_zero_width_interval_is_called_no_spread_not_certainty(tmp_path):
    summary = evaluate(tmp_path / "run", "evaluation_agents:plain_callable", "navigation-meta", **CHEAP | {"seeds": 2})
    test = summary["protocols"]["meta-test"]["splits"]["test"]
    assert test["runs"] == 4 and test["low"] == test["high"]  # a deterministic policy on deterministic tasks
    assert "zero width" in (tmp_path / "run" / "report.md").read_text()
