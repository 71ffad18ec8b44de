"""``tasksuite validate``: the plans, one report from training and harness evaluation, and resuming.

Runs use tiny budgets and two tasks per split: they check the orchestration (what is trained,
evaluated, skipped and reported); that the baselines learn is tested in test_baselines.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
from processes import assert_no_orphans, descendants

pytest.importorskip("torch", reason="the baselines need torch")

import tasksuite
from tasksuite.baselines import plan as plan_module
from tasksuite.baselines import validate as validate_module
from tasksuite.baselines.plan import Plan, Row, Training, Transfer, full_plan, quick_plan
from tasksuite.baselines.validate import Job, validate
from tasksuite.cli import main
from tasksuite.core.errors import OutputError, TasksuiteError
from tasksuite.core.folder import claim_folder
from tasksuite.evaluation import harness, validation

TINY_MAML = {"tasks_per_batch": 4, "episodes_per_task": 2}
TINY_RL2 = {"parallel_trials": 8, "episodes_per_trial": 2}
TINY_ROWS = (
    Row("maml", "navigation-meta", steps=1600, overrides=TINY_MAML, seeds=2),
    Row("rl2", "navigation-meta", steps=1600, overrides=TINY_RL2, seeds=1),
    Row("multitask", "navigation-multitask", steps=2000, overrides={"envs_per_task": 2}, seeds=1),
)
TINY = Plan(
    "tiny",
    tuple(t for row in TINY_ROWS for t in row.trainings()),
    (
        # A trainer from tests/evaluation_agents.py: the transfer protocol's table without a real training.
        Transfer("navigation-multitask", budget=100, trainer="evaluation_agents:mean_goal_trainer", max_tasks=2),
        Transfer("reaching-multitask", budget=100, trainer="tasksuite.baselines.multitask:no_such_trainer"),
    ),
    max_tasks=2,
)
SECTIONS = [
    "## navigation-meta",
    "## navigation-multitask",
    "## Acceptance of the suite",
    "## Learning curves",
    "## Adaptation curves",
    "## OOD",
    "## Sample efficiency",
    "## Per training seed",
    "## Raw returns",
    "## Transfer on navigation-multitask",
    "## Transfer on reaching-multitask",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny plan, run once in this process: (folder, summary)."""
    out = tmp_path_factory.mktemp("validate")
    with pytest.warns(UserWarning, match="transfer-reaching-multitask is not run"):
        summary = validate(TINY, out, workers=1, progress=False)
    return out, summary


def _forbid(monkeypatch, *names):
    def refuse(*args, **kwargs):
        raise AssertionError("finished work was redone")

    for name in names:
        monkeypatch.setattr(validate_module, name, refuse)


def _scores_only(method):
    """A method's summary without wall-clock times (which differ between runs)."""
    untimed = lambda run: {k: v for k, v in run.items() if k not in ("train_s", "eval_s")}  # noqa: E731
    held = method["held_out"] and untimed(method["held_out"])
    return {**method, "train_s": None, "runs": [untimed(r) for r in method["runs"]], "held_out": held}


def _method(summary, label, benchmark="navigation-meta"):
    return next(m for m in summary["methods"] if m["label"] == label and m["benchmark"] == benchmark)


# ---------------------------------------------------------------------- plans


def test_quick_plan_is_maml_and_rl2_on_navigation_and_the_multitask_agent():
    plan = quick_plan()
    assert [(t.row.method, t.row.benchmark, t.seed, t.budget) for t in plan.trainings] == [
        ("maml", "navigation-meta", 0, 2_000_000),
        ("rl2", "navigation-meta", 0, 1_000_000),
        ("multitask", "navigation-multitask", 0, 200_000),
    ]
    assert plan.transfers == () and plan.max_tasks is None and not any(t.held_out for t in plan.trainings)
    assert len(quick_plan(seeds=2).trainings) == 6


def test_full_plan_has_every_meta_rl_baseline_on_every_meta_benchmark_with_its_seeds_and_a_held_out_seed():
    plan = full_plan()
    pairs = {(t.row.label, t.row.benchmark) for t in plan.trainings}
    meta = {(m, b) for m in plan_module.META_METHODS for b in plan_module.META_BENCHMARKS}
    assert meta <= pairs
    assert {b for label, b in pairs if label == "multitask"} == set(plan_module.MULTITASK_BENCHMARKS)
    assert ("maml-pretrained", "maml-navigation") in pairs  # the MAML paper's comparison
    for label, bench in pairs:
        trainings = [t for t in plan.trainings if (t.row.label, t.row.benchmark) == (label, bench)]
        seeds = sorted(t.seed for t in trainings)
        if trainings[0].row.train_tasks is None:
            assert seeds == [*range(plan_module.SEEDS[trainings[0].row.method]), plan_module.HELD_OUT_SEED]
        else:  # the scaling study: sizes compared at the same seeds, no held-out seed
            assert seeds == list(range(plan_module.SCALING_SEEDS))
    scaling = sorted(t.row.train_tasks for t in plan.trainings if t.row.train_tasks and t.seed == 0)
    assert scaling == [10, 100, 1000, 10000]
    assert plan_module.SEEDS["maml"] >= 5 and plan_module.SEEDS["rl2"] >= 5
    assert plan_module.SEEDS["pearl"] >= 3 and plan_module.SEEDS["incontext"] >= 3
    for training in plan.trainings:
        meta_rl = training.row.method != "multitask" and not training.row.variant
        assert (training.control is not None) == meta_rl  # every meta-RL method beside its control
    for transfer in plan.transfers:
        tasks = len(tasksuite.make_benchmark(transfer.benchmark).train_tasks)
        row = next(r for r in plan_module.TABLE if r.method == "multitask" and r.benchmark == transfer.benchmark)
        assert transfer.budget * tasks == pytest.approx(Training(row, 0).budget, rel=0.01)


def test_a_benchmark_joins_the_validation_as_one_row_per_method():
    rows = [*plan_module.TABLE, Row("rl2", "navigation-multitask", steps=1000)]
    plan = full_plan(rows)
    added = [t for t in plan.trainings if t.row.benchmark == "navigation-multitask" and t.row.method == "rl2"]
    assert [t.seed for t in added] == [*range(plan_module.SEEDS["rl2"]), plan_module.HELD_OUT_SEED]
    assert added[0].control == plan_module.CONTROLS["rl2"] and added[0].budget == 1000


def test_parts_of_the_plan_are_selected_by_method_benchmark_and_seeds():
    plan = full_plan()
    part = plan.select(["maml"], ["maml-navigation"], seeds=2)
    assert sorted(w.name for w in part) == sorted(
        f"{label}-maml-navigation-seed{seed}" for label in ("maml", "maml-pretrained") for seed in (0, 1)
    )
    assert {w.name for w in plan.select(["multitask"], ["navigation-multitask"])} >= {"transfer-navigation-multitask"}
    with pytest.raises(TasksuiteError, match="unknown method"):
        plan.select(["mam"])
    with pytest.raises(TasksuiteError, match="unknown benchmark"):
        plan.select(None, ["navigation-met"])
    with pytest.raises(TasksuiteError, match="no job"):
        plan.select(["pearl"], ["navigation-multitask"])


def test_each_method_is_meta_tested_with_the_episodes_it_adapts_from_in_training():
    assert Training(Row("maml", "navigation-meta"), 0).adapt_episodes == 10
    assert Training(Row("maml", "navigation-meta", overrides={"episodes_per_task": 4}), 0).adapt_episodes == 4
    assert Training(Row("rl2", "navigation-meta"), 0).adapt_episodes == 2  # 3-episode trials: 2 adapt, 1 evaluated
    assert Training(Row("pearl", "navigation-meta"), 0).adapt_episodes == 2
    assert Training(Row("multitask", "navigation-multitask"), 0).adapt_episodes == 0
    assert Training(Row("multitask", "navigation-multitask"), 0).protocols == ("multi-task", "ood-sweep")


def test_jobs_pickle_for_worker_processes(tmp_path):
    job = Job(tmp_path, TINY.trainings[0], 1, 2)
    assert pickle.loads(pickle.dumps(job)) == job


# ---------------------------------------------------------------------- one run, one report


def test_validate_writes_one_report_with_every_section_and_plot(tiny_run):
    out, summary = tiny_run
    report = (out / "report.md").read_text()
    positions = [report.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    for plot in ("learning", "adaptation", "ood"):
        assert f"(plots/{plot}.png)" in report
        assert (out / "plots" / f"{plot}.png").read_bytes().startswith(b"\x89PNG")
    assert "Not run: module 'tasksuite.baselines.multitask' has no attribute 'no_such_trainer'" in report
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["not_run"].keys() == {"transfer-reaching-multitask"} and not summary["errors"]
    assert [s["workers"] for s in summary["sessions"]] == [1]


def test_a_method_pools_its_training_seeds_but_not_the_held_out_one(tiny_run):
    out, summary = tiny_run
    maml = _method(summary, "maml")
    assert maml["seeds"] == [0, 1] and maml["adapt_episodes"] == 2
    assert maml["splits"]["test"]["tasks"] == 2 and maml["splits"]["test"]["runs"] == 4  # 2 tasks x 2 seeds
    assert maml["splits"]["test"]["method"].startswith("two-level bootstrap")
    assert [p["adaptation"] for p in maml["curve"]] == [True, True, False]
    for run in maml["runs"]:
        own = json.loads((out / "evaluations" / f"maml-navigation-meta-seed{run['seed']}" / "summary.json").read_text())
        splits = own["protocols"]["ood-sweep"]["splits"]
        assert run["test"] == pytest.approx(splits["test"]["iqm"]) and run["far"] == pytest.approx(splits["far"]["iqm"])
        assert run["env_steps"] >= 1600 and run["train_s"] > 0
    held = maml["held_out"]
    assert held["seed"] == plan_module.HELD_OUT_SEED and isinstance(held["inside"], bool)
    low, high = maml["new_seed_range"]
    assert held["inside"] == (low <= held["test"] <= high)
    rl2 = _method(summary, "rl2")  # one seed: no interval over seeds, no range for a new one
    assert rl2["splits"]["test"]["method"].startswith("bootstrap over tasks") and rl2["new_seed_range"] is None
    multitask = _method(summary, "multitask", "navigation-multitask")
    assert {"train", "test", "near", "far"} <= multitask["splits"].keys() and multitask["adapt_episodes"] == 0


def test_each_method_is_evaluated_beside_its_control_on_the_same_tasks_and_seeds(tiny_run):
    out, summary = tiny_run
    for label, kwargs in (("maml", {"initialization": "random"}), ("rl2", {"memory": "episode"})):
        method = _method(summary, label)
        control = json.loads(
            (out / "evaluations" / f"{label}-navigation-meta-seed0" / "control" / "config.json").read_text()
        )
        own = json.loads((out / "evaluations" / f"{label}-navigation-meta-seed0" / "config.json").read_text())
        assert control["agent_kwargs"] == {**own["agent_kwargs"], **kwargs}
        assert control["adapt_episodes"] == own["adapt_episodes"] and control["max_tasks"] == own["max_tasks"]
        gain, test, base = method["gain"], method["splits"]["test"], method["control"]["test"]
        assert gain["iqm"] == pytest.approx(test["iqm"] - base["iqm"])
        assert gain["low"] <= gain["iqm"] <= gain["high"]
    assert _method(summary, "multitask", "navigation-multitask")["control"] is None


def test_learning_curves_evaluate_every_snapshot_of_every_pooled_seed(tiny_run):
    out, summary = tiny_run
    maml = _method(summary, "maml")
    snapshots = sorted(int(p.stem) for p in (out / "runs" / "maml-navigation-meta-seed0" / "snapshots").glob("*.pt"))
    assert [p["env_steps"] for p in maml["learning"]] == snapshots and snapshots[-1] == maml["env_steps"]
    assert maml["learning"][-1]["iqm"] == pytest.approx(maml["splits"]["test"]["iqm"])  # the last snapshot is final
    assert maml["steps_to"]["reached"].endswith("/2")


def test_acceptance_lists_every_planned_meta_method_with_a_measured_verdict(tiny_run):
    _, summary = tiny_run
    (check,) = summary["acceptance"]
    assert check["benchmark"] == "navigation-meta"
    assert [v["label"] for v in check["methods"]] == ["maml", "rl2"]
    for verdict in check["methods"]:  # tiny budgets: both fail, and say why with numbers
        assert verdict["passed"] is False and "< 0.6" in verdict["reason"]
    assert check["passed"] is False


def test_a_pair_that_did_not_run_stays_in_the_report_as_not_run(tmp_path):
    rows = (
        Row("maml", "navigation-meta", steps=1600, overrides=TINY_MAML, seeds=1),
        Row("rl2", "navigation-meta", seeds=1),
    )
    plan = Plan("part", tuple(t for row in rows for t in row.trainings(held_out=False)), max_tasks=2)
    summary = validate(plan, tmp_path, workers=1, progress=False, methods=["maml"])
    (check,) = summary["acceptance"]
    assert [(v["label"], v["reason"]) for v in check["methods"]][1] == ("rl2", "not run yet")
    assert check["methods"][1]["passed"] is None  # undecided, not failed
    # MAML failed (tiny budget): even if RL² passes, one method of two cannot make the benchmark pass.
    assert check["methods"][0]["passed"] is False and check["passed"] is False
    report = (tmp_path / "report.md").read_text()
    assert "| RL² | 2 | 0/1 |" in report and "| success (test) | OOD distance (near / far) |" in report


def test_a_folder_without_checkpoints_and_episode_records_still_reports_the_same(tiny_run, tmp_path):
    out, summary = tiny_run
    kept = tmp_path / "kept"
    shutil.copytree(out, kept)
    for pattern in ("**/*.pt", "**/episodes.jsonl", "**/references.json"):
        for path in kept.glob(pattern):
            path.unlink()
    for units in list(kept.glob("**/units")):
        shutil.rmtree(units)
    again = validation.write_report(kept, summary["not_run"])
    assert [_scores_only(m) for m in again["methods"]] == [_scores_only(m) for m in summary["methods"]]


def test_raw_returns_are_reported_beside_the_normalized_scores_they_give(tiny_run):
    out, summary = tiny_run
    job = validation.job_scores(out / "evaluations" / "maml-navigation-meta-seed0", control=True)
    normalized = job["splits"]["test"]["tasks"]
    assert job["returns"].keys() == job["references"].keys() == normalized.keys()
    for task, ret in job["returns"].items():
        ref = job["references"][task]
        assert (ret - ref["random"]) / (ref["oracle"] - ref["random"]) == pytest.approx(normalized[task])
    returns = _method(summary, "maml")["returns"]
    assert returns["test"]["low"] <= returns["test"]["iqm"] <= returns["test"]["high"]
    assert returns["random"] < returns["oracle"]
    section = (out / "report.md").read_text().split("## Raw returns")[1].split("\n## ")[0]
    assert "| navigation-meta | MAML | 2 |" in section and f"{returns['oracle']:.2f} |" in section


def test_the_transfer_protocols_table_is_in_the_report(tiny_run):
    out, summary = tiny_run
    transfer = summary["transfers"][0]["section"]
    assert len(transfer["tasks"]) == 2
    assert (out / "transfer" / "navigation-multitask" / "report.md").exists()
    report = (out / "report.md").read_text()
    assert "| task | id | all tasks | this task alone | ratio | negative transfer |" in report


# ---------------------------------------------------------------------- resuming


def test_rerun_skips_finished_trainings_and_evaluations(tiny_run, monkeypatch, tmp_path):
    out, summary = tiny_run
    again_dir = tmp_path / "again"
    shutil.copytree(out, again_dir)
    _forbid(monkeypatch, "train_baseline", "evaluate")
    with pytest.warns(UserWarning):
        again = validate(TINY, again_dir, workers=1, progress=False)
    assert again["methods"] == summary["methods"] and again["acceptance"] == summary["acceptance"]
    assert len(again["sessions"]) == 2


def test_rerun_runs_only_the_unfinished_evaluation_units(monkeypatch, tmp_path):
    plan = Plan("one", (TINY.trainings[3],), max_tasks=2)  # in place: evaluations name their checkpoint's path
    first = validate(plan, tmp_path, workers=1, progress=False)
    folder = tmp_path / "evaluations" / "rl2-navigation-meta-seed0"
    (folder / "evaluated.json").unlink()  # as if killed during the evaluation
    next((folder / "units" / "far").rglob("*.jsonl")).unlink()
    _forbid(monkeypatch, "train_baseline")
    ran = []
    real_run_unit = harness.run_unit
    monkeypatch.setattr(harness, "run_unit", lambda job: ran.append(job.unit.key) or real_run_unit(job))
    again = validate(plan, tmp_path, workers=1, progress=False)
    assert len(ran) == 1 and ran[0].startswith("far/")
    (method,), (before,) = again["methods"], first["methods"]
    assert method["splits"] == before["splits"] and method["curve"] == before["curve"]  # the same records
    assert method["gain"] == before["gain"] and method["learning"] == before["learning"]


def test_an_interrupted_training_resumes_from_its_checkpoint(tiny_run, monkeypatch, tmp_path):
    out, _ = tiny_run
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    (resumed / "runs" / "maml-navigation-meta-seed1" / "trained.json").unlink()
    calls = []
    real = validate_module.train_baseline
    monkeypatch.setattr(validate_module, "train_baseline", lambda *a, **k: calls.append(k) or real(*a, **k))
    with pytest.warns(UserWarning):
        validate(TINY, resumed, workers=1, progress=False)
    assert [call["resume"] for call in calls] == [True]
    assert (resumed / "runs" / "maml-navigation-meta-seed1" / "trained.json").exists()


def test_another_plan_in_the_same_folder_is_refused(tiny_run):
    out, _ = tiny_run
    other = Plan("tiny", TINY.trainings[:1], max_tasks=2)
    with pytest.raises(TasksuiteError, match="another plan"):
        validate(other, out, workers=1, progress=False)


def test_a_row_added_to_the_plan_joins_the_folder_and_a_changed_one_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "grown"
    first, second = TINY.trainings[0], TINY.trainings[1]
    validate(Plan("tiny", (first,), max_tasks=2), out, workers=1, progress=False)
    reworded = dataclasses.replace(first, row=dataclasses.replace(first.row, why="said another way"))
    calls = []
    real = validate_module.train_baseline
    monkeypatch.setattr(validate_module, "train_baseline", lambda *a, **k: calls.append(k) or real(*a, **k))
    summary = validate(Plan("tiny", (reworded, second), max_tasks=2), out, workers=1, progress=False)
    assert [call["seed"] for call in calls] == [second.seed]  # only the added row's training ran
    assert {m["label"] for m in summary["methods"] if m["seeds"]} == {first.row.label, second.row.label}
    for row in (
        dataclasses.replace(first.row, overrides={**first.row.overrides, "inner_lr": 0.2}),
        dataclasses.replace(first.row, steps=first.row.steps - 800),  # a run cannot be shortened
    ):
        with pytest.raises(TasksuiteError, match=f"another plan .*{first.name}"):
            validate(Plan("tiny", (dataclasses.replace(first, row=row), second), max_tasks=2), out, workers=1)


def test_a_larger_budget_trains_a_finished_run_on_and_redoes_its_evaluations(tmp_path, monkeypatch):
    out, first = tmp_path / "longer", TINY.trainings[0]
    validate(Plan("tiny", (first,), max_tasks=2), out, workers=1, progress=False)
    before = json.loads((out / "runs" / first.name / "trained.json").read_text())
    longer = dataclasses.replace(first, row=dataclasses.replace(first.row, steps=first.row.steps + 800))
    calls = []
    real = validate_module.train_baseline
    monkeypatch.setattr(validate_module, "train_baseline", lambda *a, **k: calls.append(k) or real(*a, **k))
    summary = validate(Plan("tiny", (longer,), max_tasks=2), out, workers=1, progress=False)
    assert [(call["steps"], call["resume"]) for call in calls] == [(longer.row.steps, True)]
    after = json.loads((out / "runs" / first.name / "trained.json").read_text())
    assert after["env_steps"] >= longer.row.steps > before["env_steps"] and after["wall_s"] > before["wall_s"]
    kept = out / "evaluations" / f"{first.name}@{first.budget}"
    assert (kept / "evaluated.json").exists()  # the shorter run's evaluations are kept, not overwritten
    (method,) = summary["methods"]
    assert method["env_steps"] == after["env_steps"] and method["budget"] == longer.row.steps


def test_a_training_not_started_yet_may_change_its_settings(tmp_path):
    out = tmp_path / "part"
    first, second = TINY.trainings[0], TINY.trainings[1]
    validate(Plan("tiny", (first, second), max_tasks=2), out, workers=1, progress=False, seeds=1)
    assert not (out / "runs" / second.name).exists()
    retuned = dataclasses.replace(second, row=dataclasses.replace(second.row, steps=(second.row.steps or 0) + 800))
    validate(Plan("tiny", (first, retuned), max_tasks=2), out, workers=1, progress=False, seeds=1)
    saved = {t["name"]: t["row"]["steps"] for t in json.loads((out / "plan.json").read_text())["trainings"]}
    assert saved[second.name] == retuned.row.steps


def test_the_scaling_study_trains_on_n_new_tasks_and_reports_the_benchmarks_own_splits(tmp_path, monkeypatch):
    rows = [
        Row("maml", "navigation-meta", steps=800, overrides=TINY_MAML, variant=f"train{n}", train_tasks=n, seeds=1)
        for n in (3, 6)
    ]
    plan = Plan("tiny", tuple(t for row in rows for t in row.trainings(held_out=False)), max_tasks=2)
    trained_on = []
    real = validate_module.train_baseline
    monkeypatch.setattr(
        validate_module, "train_baseline", lambda m, b, *a, **k: trained_on.append(b) or real(m, b, *a, **k)
    )
    summary = validate(plan, tmp_path, workers=1, progress=False)
    assert [len(b.train_tasks) for b in trained_on] == [3, 6]
    test_ids = {t.id for t in tasksuite.make_benchmark("navigation-meta").test_tasks}
    assert all({t.id for t in b.test_tasks} == test_ids for b in trained_on)
    assert all(not ({t.id for t in b.train_tasks} & test_ids) for b in trained_on)
    assert {m["train_tasks"] for m in summary["methods"]} == {3, 6} and not summary["acceptance"]
    report = (tmp_path / "report.md").read_text()
    assert "## Task-distribution scaling" in report and "scaling study: 3 training tasks" in report
    assert (tmp_path / "plots" / "scaling.png").exists()


def test_a_folder_saved_before_a_row_field_existed_holds_the_same_plan(tmp_path):
    plan = Plan("tiny", TINY.trainings[:1], max_tasks=2)
    saved = plan.to_dict()
    del saved["trainings"][0]["row"]["train_tasks"]  # a plan.json from before Row.train_tasks
    (tmp_path / "runs" / plan.trainings[0].name).mkdir(parents=True)  # a run of it exists
    (tmp_path / "plan.json").write_text(json.dumps(saved))
    validate_module._prepare(tmp_path, plan)  # the missing field is its default: no "another plan"
    assert json.loads((tmp_path / "plan.json").read_text()) == plan.to_dict()


def test_learning_curves_pool_the_ith_snapshot_of_seeds_whose_env_steps_differ(tiny_run, tmp_path):
    out, summary = tiny_run
    (before,) = [m for m in summary["methods"] if m["label"] == "maml"]
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    scores = copy / "evaluations" / "maml-navigation-meta-seed1" / "scores.json"
    job = json.loads(scores.read_text())
    job["curve"] = {str(int(steps) + 10): values for steps, values in job["curve"].items()}  # episodes ended early
    scores.write_text(json.dumps(job))
    (after,) = [m for m in validation.write_report(copy)["methods"] if m["label"] == "maml"]
    assert [p["env_steps"] for p in after["learning"]] == [p["env_steps"] + 5 for p in before["learning"]]
    assert [p["iqm"] for p in after["learning"]] == [p["iqm"] for p in before["learning"]]


def test_every_meta_rl_job_has_its_adaptation_sweep_in_the_report(tiny_run):
    out, summary = tiny_run
    swept = {m["label"]: m["sweep"] for m in summary["methods"] if m["seeds"] and m["method"] != "multitask"}
    assert swept and all(sweep is not None for sweep in swept.values())
    for label, sweep in swept.items():
        ks = [p["k"] for p in sweep["episodes"]]
        assert ks == sorted({0, 1, 2, 4, 8, 16, sweep["trained"]["episodes"]}), label
        assert bool(sweep["gradient_steps"]) == label.startswith("maml"), label
    report = (out / "report.md").read_text()
    assert "## Adaptation budget at test time" in report and (out / "plots" / "sweep.png").exists()


def test_rl2_and_the_incontext_agent_get_the_few_shot_demos_sweep_on_every_split(tiny_run):
    out, summary = tiny_run
    shown = {m["label"]: m["demonstrations"] for m in summary["methods"] if m["seeds"]}
    assert shown["rl2"] is not None and shown["maml"] is None and shown["multitask"] is None
    demos = shown["rl2"]
    assert demos["takes_demonstrations"] and list(demos["splits"]) == ["test", "near", "far"]
    for points in demos["splits"].values():
        assert [p["d"] for p in points] == [0, 1, 3, 10]
    records = [
        json.loads(line)
        for line in (out / "evaluations" / "rl2-navigation-meta-seed0" / "demos" / "episodes.jsonl").open()
    ]
    assert {r["variant"] for r in records} == {"demos-0", "demos-1", "demos-3", "demos-10"}
    assert all(r["demonstrations_shown"] == r["demonstrations"] for r in records)
    report = (out / "report.md").read_text()
    assert "## Few-shot adaptation from demonstrations" in report and (out / "plots" / "demos.png").exists()


def test_every_row_with_ood_levels_reports_its_robustness(tiny_run):
    _, summary = tiny_run
    for m in (m for m in summary["methods"] if m["seeds"] and m["benchmark"] == "navigation-meta"):
        found, splits = m["robustness"], m["splits"]
        assert found["levels"] == 3 and found["distance_range"] == [
            splits["test"]["distance"],
            splits["far"]["distance"],
        ]
        assert found["auc_low"] <= found["auc"] <= found["auc_high"], m["label"]


def test_one_validate_at_a_time_per_folder(tiny_run, tmp_path):
    out, _ = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with claim_folder(copy, "validate"), pytest.raises(OutputError, match=f"{os.getpid()}"):
        validate(TINY, copy, workers=1, progress=False)
    with pytest.raises(OutputError, match="did not create"):  # a user's folder is never written into
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("mine")
        validate(TINY, tmp_path / "mine", workers=1, progress=False)
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_a_failing_job_is_reported_and_the_others_stand(tmp_path):
    plan = Plan(
        "failing",
        (
            Training(Row("multitask", "navigation-meta", steps=2000), 0),  # needs a multi-task benchmark
            Training(Row("multitask", "navigation-multitask", steps=2000, overrides={"envs_per_task": 2}), 0),
        ),
        max_tasks=2,
    )
    summary = validate(plan, tmp_path, workers=1, progress=False)
    assert [e["job"] for e in summary["errors"]] == ["multitask-navigation-meta-seed0"]
    assert "InvalidTaskError" in summary["errors"][0]["error"]
    failed = _method(summary, "multitask", "navigation-meta")  # the failed pair stays, with its reason
    assert failed["seeds"] == [] and "InvalidTaskError" in failed["missing"][0]["error"]
    assert _method(summary, "multitask", "navigation-multitask")["seeds"] == [0]
    report = (tmp_path / "report.md").read_text()
    assert "## Errors" in report and "failed: InvalidTaskError" in report


def test_the_plan_run_in_parts_gives_what_one_run_gives(tiny_run, tmp_path):
    _, whole = tiny_run
    parts = tmp_path / "parts"
    validate(TINY, parts, workers=1, progress=False, methods=["maml"], seeds=1)
    validate(TINY, parts, workers=1, progress=False, methods=["maml", "rl2"])
    with pytest.warns(UserWarning):
        summary = validate(TINY, parts, workers=1, progress=False, methods=["multitask"])
    assert [_scores_only(m) for m in summary["methods"]] == [_scores_only(m) for m in whole["methods"]]
    assert [s["part"]["methods"] for s in summary["sessions"]] == [["maml"], ["maml", "rl2"], ["multitask"]]


RAY_RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
from test_validate import TINY, Plan
from tasksuite.baselines.validate import validate
validate(Plan("ray", TINY.trainings[:2], max_tasks=2), sys.argv[2], workers=2, progress=False, backend="ray")
"""


@pytest.mark.slow
def test_the_ray_backend_gives_the_local_backends_results(tmp_path):
    pytest.importorskip("ray")
    validate(Plan("ray", TINY.trainings[:2], max_tasks=2), tmp_path / "local", workers=1, progress=False)
    local = json.loads((tmp_path / "local" / "summary.json").read_text())
    # Ray is started from a fresh interpreter: its launcher forks (it sets a preexec_fn), and a fork
    # of this test process, grown by the whole suite, can fail with ENOMEM on a small CI machine
    tests_dir, out = os.path.dirname(__file__), tmp_path / "ray"
    subprocess.run([sys.executable, "-c", RAY_RUN, tests_dir, str(out)], check=True, timeout=600)
    remote = json.loads((out / "summary.json").read_text())
    assert [_scores_only(m) for m in remote["methods"]] == [_scores_only(m) for m in local["methods"]]
    assert remote["sessions"][0]["part"]["backend"] == "ray"


# ---------------------------------------------------------------------- the command


def test_validate_command_prints_the_scores_and_the_report_path(tiny_run, monkeypatch, tmp_path, capsys):
    out, _ = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    monkeypatch.setattr(validate_module, "quick_plan", lambda seeds: TINY)
    with pytest.warns(UserWarning):
        status = main(["validate", "--quick", "--out", str(copy), "--workers", "1", "--quiet"])
    printed = capsys.readouterr()
    assert status == 1  # the missing trainer: a plan that could not run completely
    assert "maml" in printed.out and "post-adaptation" in printed.out and str(copy / "report.md") in printed.out
    assert "FAIL  navigation-meta" in printed.out
    assert "test success" in printed.out and "near / far distance" in printed.out
    assert "NOT RUN transfer-reaching-multitask" in printed.err
    sessions = json.loads((copy / "sessions.json").read_text())
    assert sessions[-1]["command"] == f"tasksuite validate --quick --out {copy} --workers 1"


def test_validate_help_explains_the_plans(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--quick" in text and "resumes" in text and "navigation-meta" in text
    for option in ("--only", "--benchmarks", "--seeds", "--backend"):
        assert option in text


CRASH_PLAN_SCRIPT = """
import sys
from tasksuite.baselines.plan import Plan, Row
from tasksuite.baselines.validate import validate

ROW = Row("maml", "navigation-meta", steps=3200, overrides={"tasks_per_batch": 4, "episodes_per_task": 2,
                                                            "checkpoint_every": 1}, seeds=2)
PLAN = Plan("crash", tuple(ROW.trainings(held_out=False)), max_tasks=1)
if __name__ == "__main__":
    validate(PLAN, sys.argv[1], workers=int(sys.argv[2]), progress=False)
"""


@pytest.mark.slow
def test_a_validate_killed_at_a_random_point_leaves_no_job_running_and_resumes_to_the_same_results(tmp_path):
    script = tmp_path / "crash_plan.py"
    script.write_text(CRASH_PLAN_SCRIPT)

    def run(out, workers):
        return subprocess.Popen([sys.executable, str(script), str(out), str(workers)], start_new_session=True)

    killed = run(tmp_path / "killed", 2)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "killed").glob("runs/*/checkpoint.pt")):
        assert killed.poll() is None and time.monotonic() < deadline, "no training checkpointed in time"
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 3.0))  # a random point: in a training, between, or in an evaluation
    jobs = descendants(killed.pid)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert_no_orphans(jobs)
    for process in (run(tmp_path / "killed", 2), run(tmp_path / "straight", 1)):
        assert process.wait(timeout=300) == 0
    for relative in [
        *(
            f"runs/maml-navigation-meta-seed{seed}/{name}"
            for seed in (0, 1)
            for name in ("checkpoint.pt", "progress.csv")
        ),
        *(
            f"evaluations/maml-navigation-meta-seed{seed}/{name}"
            for seed in (0, 1)
            for name in ("episodes.jsonl", "summary.json")
        ),
    ]:
        assert (tmp_path / "killed" / relative).read_bytes() == (tmp_path / "straight" / relative).read_bytes(), (
            relative
        )
