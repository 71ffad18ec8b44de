"""The evaluation harness end to end: acceptance numbers, protocols, failures, reports, CLI."""

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest

import tasksuite
from tasksuite import Benchmark, Splits, TasksuiteError
from tasksuite.cli import main
from tasksuite.evaluation import evaluate, redraw_report
from tasksuite.evaluation.agents import ORACLE, RANDOM
from tasksuite.evaluation.references import Reference
from tasksuite.evaluation.report import TRANSFER_TOLERANCE
from tasksuite.evaluation.rollout import RandomPolicy
from tasksuite.evaluation.scores import iqm

CHEAP = {"seeds": 1, "workers": 1, "progress": False}


def _per_task_scores(summary):
    """Every task's score over all splits, each task once (multi-task benchmarks test on train)."""
    scores = {}
    for section in summary["protocols"].values():
        for split in section["splits"].values():
            scores.update(split["per_task"])
    return scores


@pytest.mark.parametrize("name", tasksuite.list_benchmarks())
def test_oracle_scores_one_and_random_zero_on_every_benchmark(name, tmp_path):
    # Few tasks per split, but enough episodes that a random policy's noisy return averages out.
    options = {**CHEAP, "max_tasks": 4, "adapt_episodes": 0, "eval_episodes": 10, "reference_episodes": 20}
    protocols = ["multi-task", "ood-sweep"]
    oracle = evaluate(tmp_path / "oracle", ORACLE, name, protocols, **options)
    random = evaluate(tmp_path / "random", RANDOM, name, protocols, **options)
    for section in oracle["protocols"].values():
        for split, agg in section["splits"].items():
            assert agg["iqm"] == pytest.approx(1.0, abs=0.05), f"oracle on {name}/{split}"
    assert oracle["privileged"] and not random["privileged"]
    random_scores = _per_task_scores(random)
    assert len(random_scores) >= 4 * (1 + len(tasksuite.make_benchmark(name).family.ood_levels))
    assert iqm(list(random_scores.values())) == pytest.approx(0.0, abs=0.1), f"random on {name}"
    assert not oracle["errors"] and not random["errors"] and not random["degenerate_references"]


def test_adaptive_agent_learns_on_test_tasks_and_fails_out_of_distribution(tmp_path):
    options = {**CHEAP, "max_tasks": 4, "adapt_episodes": 1, "eval_episodes": 2}
    summary = evaluate(tmp_path / "clamped", "evaluation_agents:goal_finder", "navigation-meta", "ood-sweep", **options)
    section = summary["protocols"]["ood-sweep"]
    curve = [point["iqm"] for point in section["curves"]["test"]]
    assert [point["adaptation"] for point in section["curves"]["test"]] == [True, False, False]
    assert curve[0] < 0.3 and min(curve[1:]) > 0.95, curve  # explores, locates the goal, then reaches it
    score = {split: agg["iqm"] for split, agg in section["splits"].items()}
    assert score["test"] > 0.95 > score["near"] + 0.05 and score["near"] > score["far"] + 0.2, score
    distances = {split: agg["distance"] for split, agg in section["splits"].items()}
    assert distances["test"] == 0 < distances["near"] < distances["far"]
    # The same agent without its training-region assumption generalizes: the drop is the agent's, not the harness's.
    free = evaluate(
        tmp_path / "free",
        "evaluation_agents:goal_finder",
        "navigation-meta",
        "ood-sweep",
        agent_kwargs={"assume_training_region": False},
        **options,
    )
    assert all(agg["iqm"] > 0.95 for agg in free["protocols"]["ood-sweep"]["splits"].values())


def test_a_crashing_agent_is_reported_and_the_other_tasks_kept(tmp_path, capsys):
    bench = tasksuite.make_benchmark("navigation-multitask")
    bad = bench.train_tasks[1]
    argv = [
        "evaluate",
        "--agent",
        "evaluation_agents:crash_on_task",
        "--agent-kwargs",
        json.dumps({"task_id": bad.id}),
        "--benchmark",
        "navigation-multitask",
        "--protocol",
        "multi-task",
        "--max-tasks",
        "3",
        "--seeds",
        "2",
        "--workers",
        "1",
        "--quiet",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert f"FAILED train/{bad.id}/seed0: RuntimeError: deliberate failure on {bad.id}" in captured.err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sorted(e["unit"] for e in summary["errors"]) == [f"train/{bad.id}/seed{s}" for s in (0, 1)]
    assert all("evaluation_agents.py" in e["traceback"] and "RuntimeError" in e["traceback"] for e in summary["errors"])
    kept = summary["protocols"]["multi-task"]["splits"]["train"]
    assert set(kept["per_task"]) == {t.id for t in bench.train_tasks[:3]} - {bad.id} and kept["runs"] == 4
    report = (tmp_path / "report.md").read_text()
    assert "## Errors" in report and "deliberate failure" in report and "Traceback" in report
    # Re-running retries the failed units only.
    finished = {p: p.stat().st_mtime_ns for p in (tmp_path / "units").rglob("*.jsonl")}
    assert main(argv) == 1
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "units").rglob("*.jsonl")} == finished


def test_transfer_ratio_and_negative_transfer_on_a_known_case(tmp_path):
    # Three goals in a row; the trainer learns one task-unconditioned target, the mean goal (the middle one).
    family = tasksuite.get_family("navigation")
    tasks = tuple(family.task(goal_x=x, goal_y=0.5) for x in (-0.6, 0.0, 0.6))
    splits = Splits("navigation", family.version, 0, "multi-task", tasks, tasks, ())
    bench = Benchmark("three-goals", family, splits)
    summary = evaluate(
        tmp_path,
        trainer="evaluation_agents:mean_goal_trainer",
        benchmark=bench,
        protocols="transfer",
        budget=8,
        **CHEAP,
    )
    section = summary["protocols"]["transfer"]
    by_task = {t["task_id"]: t for t in section["tasks"]}
    left, middle, right = (by_task[t.id] for t in tasks)
    for t in (left, middle, right):
        assert t["single"] > 0.95  # trained on its own task, the agent finds that goal
        assert t["ratio"] == pytest.approx(t["all"] / t["single"])
        assert t["negative_transfer"] == (t["all"] < t["single"] - TRANSFER_TOLERANCE)
    assert middle["ratio"] == pytest.approx(1.0, abs=0.02) and not middle["negative_transfer"]
    assert left["ratio"] < 0.8 and right["ratio"] < 0.8
    assert section["negative_transfer"] == sorted([tasks[0].id, tasks[2].id])
    assert (tmp_path / "plots" / "transfer.png").stat().st_size > 0
    assert "Negative transfer" in (tmp_path / "report.md").read_text()


def test_results_folder_report_and_redraw(tmp_path):
    out = tmp_path / "run"
    options = {**CHEAP, "seeds": 2}
    summary = evaluate(out, RANDOM, "navigation-meta", "all", max_tasks=2, adapt_episodes=1, **options)
    assert set(summary["protocols"]) == {"multi-task", "meta-test", "ood-sweep"}
    lines = (out / "episodes.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    trials = 2 * 2  # tasks x seeds, per split
    assert len(records) == trials * 3 + 3 * trials * (1 + 3)  # train: E=3; test, near, far: K=1 + E=3
    assert {"unit", "split", "task_id", "seed", "episode", "adaptation", "ret", "normalized"} <= set(records[0])
    assert (out / "plots" / "adaptation.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "plots" / "ood.png").exists()
    report = (out / "report.md").read_text()
    assert "![adaptation](plots/adaptation.png)" in report and "![ood](plots/ood.png)" in report
    assert "| far |" in report
    saved = (out / "summary.json").read_text()
    (out / "summary.json").unlink()
    (out / "plots" / "ood.png").unlink()
    assert redraw_report(out) == summary
    assert (out / "summary.json").read_text() == saved and (out / "plots" / "ood.png").exists()


def test_resuming_with_other_settings_is_refused(tmp_path):
    evaluate(tmp_path, RANDOM, "navigation-meta", "meta-test", max_tasks=1, **CHEAP)
    with pytest.raises(TasksuiteError, match=r"different run .*eval_episodes: saved 3, now 4"):
        evaluate(tmp_path, RANDOM, "navigation-meta", "meta-test", max_tasks=1, eval_episodes=4, **CHEAP)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocols": "transfer"}, "needs a trainer factory"),
        ({"protocols": "nope"}, "unknown protocol"),
        ({"eval_episodes": 0}, "eval_episodes must be an integer >= 1"),
        ({"agent": None}, "need an agent factory"),
        ({"agent": "evaluation_agents:missing"}, "has no attribute 'missing'"),
    ],
)
def test_bad_arguments_fail_before_anything_runs(tmp_path, kwargs, message):
    arguments = {"agent": RANDOM, "benchmark": "navigation-meta", "protocols": "meta-test", **kwargs}
    with pytest.raises(TasksuiteError, match=message):
        evaluate(tmp_path / "out", **arguments)
    assert not (tmp_path / "out").exists()


def test_cli_evaluate_and_report(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["evaluate", "--agent", ORACLE, "--benchmark", "pearl-sparse-point", "--max-tasks", "2", "--seeds", "1"]
    assert main([*argv, "--workers", "1", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    header, _, row = printed.splitlines()[:3]
    assert header.split() == [
        "protocol",
        "split",
        "mean",
        "distance",
        "tasks",
        "runs",
        "score",
        "IQM",
        "95%",
        "CI",
        "success",
    ]
    assert row.split() == ["meta-test", "test", "0.00", "2", "2", "1.000", "[1.000,", "1.000]", "100%"]
    assert "privileged" in printed
    assert main(["report", str(out)]) == 0 and "report.md" in capsys.readouterr().out
    assert main(["report", str(tmp_path)]) == 2 and "not a results folder" in capsys.readouterr().err


def test_cli_rejects_bad_agent_kwargs(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--agent", RANDOM, "--agent-kwargs", "[1]", "--out", "x"])
    assert "must be a JSON object" in capsys.readouterr().err


def test_ray_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(TasksuiteError, match=r"pip install 'ray>=2.9'"):
        evaluate(tmp_path, RANDOM, "navigation-meta", max_tasks=1, seeds=1, backend="ray", progress=False)


def test_normalized_returns_in_the_records_match_the_references(tmp_path):
    evaluate(tmp_path, ORACLE, "navigation-meta", "meta-test", max_tasks=1, **CHEAP)
    refs = json.loads((tmp_path / "references.json").read_text())
    for line in (tmp_path / "episodes.jsonl").read_text().splitlines():
        record = json.loads(line)
        ref = refs[record["task_id"]]
        expected = (record["ret"] - ref["random"]) / (ref["oracle"] - ref["random"])
        assert record["normalized"] == pytest.approx(expected)
        assert ref["oracle"] == pytest.approx(np.mean(ref["oracle_returns"]))


def test_a_task_where_the_oracle_does_not_beat_random_is_flagged_not_divided_by(tmp_path):
    evaluate(tmp_path, RANDOM, "navigation-meta", "meta-test", max_tasks=2, **CHEAP)
    refs = json.loads((tmp_path / "references.json").read_text())
    flat = sorted(refs)[0]
    saved = Reference.from_dict(refs[flat])  # as if the oracle were no better than random:
    refs[flat] = dataclasses.replace(saved, oracle_returns=saved.random_returns).to_dict()
    (tmp_path / "references.json").write_text(json.dumps(refs))
    summary = redraw_report(tmp_path)
    assert summary["degenerate_references"] == [flat]
    assert set(summary["protocols"]["meta-test"]["splits"]["test"]["per_task"]) == set(refs) - {flat}
    records = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert all((r["normalized"] is None) == (r["task_id"] == flat) for r in records)
    assert f"`{flat}`" in (tmp_path / "report.md").read_text()


# ---------------------------------------------------------------------- the results folder is the run's own


def test_evaluate_refuses_a_users_folder_and_an_empty_path_without_touching_them(tmp_path, capsys):
    (tmp_path / "d" / "x").mkdir(parents=True)
    (tmp_path / "d" / "x" / ".keep.tmp").write_text("mine")
    args = ["evaluate", "--agent", RANDOM, "--max-tasks", "1", "--seeds", "1", "--workers", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "d")]) == 2
    assert "tasksuite did not create and it is not empty" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "d").rglob("*")] == ["x", ".keep.tmp"]
    assert main([*args, "--out", ""]) == 2 and "out is empty" in capsys.readouterr().err


def _evaluated(tmp_path):
    out = tmp_path / "run"
    evaluate(out, RANDOM, "navigation-meta", "meta-test", max_tasks=2, eval_episodes=1, **CHEAP)
    return out, sorted((out / "units").rglob("*.jsonl"))


def test_a_copied_or_edited_unit_file_is_refused_by_report_and_recomputed_by_evaluate(tmp_path):
    out, (first, second) = _evaluated(tmp_path)
    original = second.read_bytes()
    faked = [{**json.loads(line), "ret": 1e6} for line in first.read_text().splitlines()]
    second.write_text("".join(json.dumps(r) + "\n" for r in faked))  # fake returns: the digest no longer matches
    with pytest.raises(TasksuiteError, match=rf"1 unit file\(s\) .* do not check out.*{second.name}.*digest"):
        redraw_report(out)
    second.write_bytes(first.read_bytes())  # a copy: intact digests, but another unit's records
    with pytest.raises(TasksuiteError, match="a record of unit"):
        redraw_report(out)
    with pytest.warns(UserWarning, match="running unit .* again"):
        evaluate(out, RANDOM, "navigation-meta", "meta-test", max_tasks=2, eval_episodes=1, **CHEAP)
    assert second.read_bytes() == original


def test_a_unit_file_cut_short_by_a_crash_is_refused_and_run_again(tmp_path):
    out, (first, _) = _evaluated(tmp_path)
    original = first.read_bytes()
    lines = original.splitlines(keepends=True)
    assert len(lines) > 1
    for cut in (b"".join(lines[:-1]), original[: len(original) // 2], b""):  # at a line boundary, mid-line, empty
        first.write_bytes(cut)
        with pytest.raises(TasksuiteError, match=rf"1 unit file\(s\) .* do not check out.*{first.name}"):
            redraw_report(out)
        with pytest.warns(UserWarning, match="running unit .* again"):
            evaluate(out, RANDOM, "navigation-meta", "meta-test", max_tasks=2, eval_episodes=1, **CHEAP)
        assert first.read_bytes() == original


def test_units_of_another_configuration_or_with_nan_are_not_reported(tmp_path):
    out, (first, _) = _evaluated(tmp_path)
    other = tmp_path / "other"
    evaluate(other, RANDOM, "navigation-meta", "meta-test", max_tasks=2, eval_episodes=2, **CHEAP)
    copied = other / first.relative_to(out)
    first.write_bytes(copied.read_bytes())  # the same unit, run with E = 2: not this run's
    with pytest.raises(TasksuiteError, match="written by another configuration"):
        redraw_report(out)
    first.write_text(copied.read_text().replace('"ret": ', '"ret": NaN, "x": ', 1))
    with pytest.raises(TasksuiteError, match="NaN is not a number"):
        redraw_report(out)


def test_a_changed_agent_file_is_a_different_run(tmp_path):
    checkpoint = tmp_path / "agent.json"
    checkpoint.write_text("one")
    options = {"agent_kwargs": {"checkpoint": str(checkpoint)}, "max_tasks": 1, "eval_episodes": 1, **CHEAP}
    evaluate(tmp_path / "run", "evaluation_agents:from_checkpoint", "navigation-meta", "meta-test", **options)
    checkpoint.write_text("two")  # retrained into the same path: its units must not be mixed with the new ones
    with pytest.raises(TasksuiteError, match=r"different run .*files"):
        evaluate(tmp_path / "run", "evaluation_agents:from_checkpoint", "navigation-meta", "meta-test", **options)


def test_a_split_seed_with_a_manifest_is_an_error(tmp_path):
    path = tasksuite.make_benchmark("navigation-meta").save_manifest(tmp_path / "m.json")
    with pytest.raises(TasksuiteError, match="split_seed=3 cannot apply"):
        evaluate(tmp_path / "run", RANDOM, path, "meta-test", split_seed=3, **CHEAP)


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.Box(-1.0, 1.0, shape=(2,)),
        gym.spaces.Box(np.array([-0.1, 0.0, -3.0], np.float32), np.array([0.1, 2.5, 3.0], np.float32)),
    ],
)
def test_random_policy_draws_what_rng_uniform_draws(space):
    """The reference of score 0: its actions must stay those of ``rng.uniform(low, high)``."""
    policy, rng = RandomPolicy(space, seed=7), np.random.default_rng(7)
    for _ in range(50):
        expected = rng.uniform(space.low, space.high).astype(space.dtype)
        action = policy(None)
        assert action.dtype == expected.dtype and action.tobytes() == expected.tobytes()
