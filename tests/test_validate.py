"""``tasksuite validate``: the plans, one report from training and harness evaluation, and resuming.

Runs use tiny budgets and two tasks per split: they check the orchestration (what is trained,
evaluated, skipped and reported); that the baselines learn is tested in test_baselines.py.
"""

from __future__ import annotations

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

import tasksuite
from tasksuite.baselines import validate as validate_module
from tasksuite.baselines.validate import Job, Plan, Training, Transfer, full_plan, quick_plan, validate
from tasksuite.cli import main
from tasksuite.core.errors import TasksuiteError
from tasksuite.evaluation import harness

TINY_MAML = {"tasks_per_batch": 4, "episodes_per_task": 2}
TINY = Plan(
    "tiny",
    (
        Training("maml", "navigation-meta", 0, steps=1600, overrides=TINY_MAML),
        Training("maml", "navigation-meta", 1, steps=1600, overrides=TINY_MAML),
        Training("rl2", "navigation-meta", 0, steps=1600, overrides={"parallel_trials": 8, "episodes_per_trial": 2}),
        Training("multitask", "navigation-multitask", 0, steps=2000, overrides={"envs_per_task": 2}),
    ),
    (
        # A trainer from tests/evaluation_agents.py: the transfer protocol's table without a real training.
        Transfer("navigation-multitask", budget=100, trainer="evaluation_agents:mean_goal_trainer", max_tasks=2),
        Transfer("reaching-multitask", budget=100, trainer="tasksuite.baselines.multitask:no_such_trainer"),
    ),
    max_tasks=2,
)
SECTIONS = [
    "## Summary",
    "## Acceptance",
    "## Adaptation curves",
    "## Score vs OOD distance",
    "## Per training seed",
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


# ---------------------------------------------------------------------- plans


def test_quick_plan_is_maml_and_rl2_on_navigation_and_the_multitask_agent():
    plan = quick_plan()
    assert [(t.baseline, t.benchmark, t.seed, t.steps) for t in plan.trainings] == [
        ("maml", "navigation-meta", 0, 2_000_000),
        ("rl2", "navigation-meta", 0, 1_000_000),
        ("multitask", "navigation-multitask", 0, None),
    ]
    assert plan.transfers == () and plan.max_tasks is None
    assert len(quick_plan(seeds=2).trainings) == 6


def test_full_plan_trains_every_baseline_with_three_seeds_and_runs_transfer_on_every_multitask_benchmark():
    plan = full_plan()
    groups = plan.groups()
    assert {bench for name, bench in groups if name != "multitask"} == {"navigation-meta"}
    assert {name for name, _ in groups} == {"maml", "rl2", "pearl", "multitask"}
    assert {bench for name, bench in groups if name == "multitask"} == set(validate_module.MULTITASK_BENCHMARKS)
    assert all([t.seed for t in group] == [0, 1, 2] for group in groups.values())
    longest = {("pearl", "navigation-meta"), ("multitask", "warehouse-multitask")}
    assert {(t.baseline, t.benchmark) for t in plan.trainings[:6]} == longest  # first: packs the workers best
    for transfer in plan.transfers:
        tasks = len(tasksuite.make_benchmark(transfer.benchmark).train_tasks)
        (training, *_) = groups[("multitask", transfer.benchmark)]
        assert transfer.trainer == validate_module.MULTITASK_TRAINER
        assert transfer.budget * tasks == pytest.approx(training.budget, rel=0.01)  # the all-task agent's budget


def test_each_method_is_meta_tested_with_the_episodes_it_adapts_from_in_training():
    assert Training("maml", "navigation-meta").adapt_episodes == 10
    assert Training("maml", "navigation-meta", overrides={"episodes_per_task": 4}).adapt_episodes == 4
    assert Training("rl2", "navigation-meta").adapt_episodes == 2  # 3-episode trials: 2 adapt, 1 evaluated
    assert Training("pearl", "navigation-meta").adapt_episodes == 2
    assert Training("multitask", "navigation-multitask").adapt_episodes == 0
    assert Training("multitask", "navigation-multitask").protocols == ("multi-task", "ood-sweep")


def test_jobs_pickle_for_worker_processes(tmp_path):
    job = Job(tmp_path, TINY.trainings[0], 1, 2)
    assert pickle.loads(pickle.dumps(job)) == job


# ---------------------------------------------------------------------- one run, one report


def test_validate_writes_one_report_with_every_section_and_plot(tiny_run):
    out, summary = tiny_run
    report = (out / "report.md").read_text()
    positions = [report.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    for plot in ("adaptation", "ood"):
        assert f"(plots/{plot}.png)" in report
        assert (out / "plots" / f"{plot}.png").read_bytes().startswith(b"\x89PNG")
    assert "Not run: module 'tasksuite.baselines.multitask' has no attribute 'no_such_trainer'" in report
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["not_run"].keys() == {"transfer-reaching-multitask"} and not summary["errors"]
    assert [s["workers"] for s in summary["sessions"]] == [1]


def test_a_method_pools_its_training_seeds_and_matches_each_seeds_harness_results(tiny_run):
    out, summary = tiny_run
    maml = next(m for m in summary["methods"] if m["baseline"] == "maml")
    assert maml["seeds"] == [0, 1] and maml["adapt_episodes"] == 2
    assert maml["splits"]["test"]["tasks"] == 2 and maml["splits"]["test"]["runs"] == 4  # 2 tasks x 2 seeds
    assert [p["adaptation"] for p in maml["curve"]] == [True, True, False]
    for run in maml["runs"]:
        own = json.loads((out / "evaluations" / f"maml-navigation-meta-seed{run['seed']}" / "summary.json").read_text())
        splits = own["protocols"]["ood-sweep"]["splits"]
        assert run["test"] == splits["test"]["iqm"] and run["far"] == splits["far"]["iqm"]
        assert run["env_steps"] >= 1600 and run["train_s"] > 0
    multitask = next(m for m in summary["methods"] if m["baseline"] == "multitask")
    assert {"train", "test", "near", "far"} <= multitask["splits"].keys() and multitask["adapt_episodes"] == 0


def test_acceptance_is_checked_on_the_methods_that_ran(tiny_run):
    _, summary = tiny_run
    criteria = [c["criterion"] for c in summary["acceptance"]]
    assert any(c.startswith("MAML: post-adaptation") for c in criteria)
    assert any(c.startswith("RL²: last adaptation") for c in criteria)
    assert not any(c.startswith("PEARL") for c in criteria)  # not in the plan
    assert all(isinstance(c["passed"], bool) and c["value"] for c in summary["acceptance"])


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
    plan = Plan("one", TINY.trainings[2:3], max_tasks=2)  # in place: evaluations name their checkpoint's path
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


def test_a_failing_job_is_reported_and_the_others_stand(tmp_path):
    plan = Plan(
        "failing",
        (
            Training("multitask", "navigation-meta", 0, steps=2000),  # needs a multi-task benchmark
            Training("multitask", "navigation-multitask", 0, steps=2000, overrides={"envs_per_task": 2}),
        ),
        max_tasks=2,
    )
    summary = validate(plan, tmp_path, workers=1, progress=False)
    assert [e["job"] for e in summary["errors"]] == ["multitask-navigation-meta-seed0"]
    assert "InvalidTaskError" in summary["errors"][0]["error"]
    assert [m["benchmark"] for m in summary["methods"]] == ["navigation-multitask"]
    assert "## Errors" in (tmp_path / "report.md").read_text()


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
    assert "NOT RUN transfer-reaching-multitask" in printed.err
    sessions = json.loads((copy / "sessions.json").read_text())
    assert sessions[-1]["command"] == f"tasksuite validate --quick --out {copy} --workers 1"


def test_validate_help_explains_the_plans(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--quick" in text and "resumes" in text and "navigation-meta" in text


CRASH_PLAN_SCRIPT = """
import sys
from tasksuite.baselines.validate import Plan, Training, validate

PLAN = Plan(
    "crash",
    tuple(Training("maml", "navigation-meta", seed, steps=3200, overrides={"tasks_per_batch": 4, "episodes_per_task": 2,
                                                                       "checkpoint_every": 1}) for seed in (0, 1)),
    max_tasks=1,
)
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
