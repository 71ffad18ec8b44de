"""The few-shot-demos protocol: the oracle's demonstrations of the trial's own task, through an optional hook."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tasksuite
from tasksuite import TasksuiteError
from tasksuite.cli import main
from tasksuite.evaluation import evaluate
from tasksuite.evaluation.agent import AgentBase, takes_demonstrations
from tasksuite.evaluation.agents import RANDOM
from tasksuite.evaluation.demonstrations import demonstration_seed, make_demonstrations
from tasksuite.evaluation.rollout import run_episode
from tasksuite.evaluation.trial import episode_seed, run_trial

META = tasksuite.make_benchmark("navigation-meta")
FOLLOWER = "evaluation_agents:demo_follower"
CHEAP = {"seeds": 1, "workers": 1, "progress": False, "eval_episodes": 1, "max_tasks": 2, "reference_episodes": 2}


def records_of(out) -> list[dict]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


def test_demonstrations_are_the_oracles_episodes_of_the_same_task_and_seed():
    task, other = META.tasks("test")[:2]
    demos = make_demonstrations(META, task, seed=1, count=3)
    env = META.make_env(task)
    for index, demo in enumerate(demos):
        assert demo.env_seed == demonstration_seed(task, 1, index)
        assert demo.env_seed not in {episode_seed(task, 1, e) for e in range(20)}  # never a trial's own episode
        replayed = []
        run_episode(env, META.family.oracle_policy(task), seed=demo.env_seed, observe=replayed.append)
        assert [t.action.tolist() for t in demo.transitions] == [t.action.tolist() for t in replayed]
        assert [t.reward for t in demo.transitions] == [t.reward for t in replayed]
        assert demo.transitions[-1].truncated or demo.transitions[-1].terminated
        assert demo.transitions[-1].info["success"]  # the oracle reaches the goal of *this* task
    others = make_demonstrations(META, other, seed=1, count=1)
    assert others[0].transitions[0].action.tolist() != demos[0].transitions[0].action.tolist()
    again = make_demonstrations(META, task, seed=1, count=3)
    assert [[t.action.tolist() for t in d.transitions] for d in again] == [
        [t.action.tolist() for t in d.transitions] for d in demos
    ]
    assert make_demonstrations(META, task, seed=2, count=1)[0].env_seed != demos[0].env_seed


def test_noisy_demonstrations_are_seeded_stay_in_the_action_box_and_differ_from_the_oracle():
    task = META.tasks("test")[0]
    clean = make_demonstrations(META, task, seed=0, count=1)[0]
    noisy = make_demonstrations(META, task, seed=0, count=1, noise=0.5)[0]
    assert noisy.noise == 0.5 and clean.noise == 0.0
    actions = np.array([t.action for t in noisy.transitions])
    space = META.make_env(task).action_space
    assert (actions >= space.low).all() and (actions <= space.high).all()
    assert not np.array_equal(actions, np.array([t.action for t in clean.transitions]))
    assert noisy.ret < clean.ret
    repeat = make_demonstrations(META, task, seed=0, count=1, noise=0.5)[0]
    assert np.array_equal(actions, np.array([t.action for t in repeat.transitions]))


def test_the_hook_is_optional_and_an_agent_without_it_is_evaluated_as_shown_none(tmp_path):
    assert not takes_demonstrations(AgentBase())
    summary = evaluate(tmp_path, RANDOM, META, "few-shot-demos", demonstrations=[0, 3], **CHEAP)
    section = summary["protocols"]["few-shot-demos"]
    assert section["agent_takes_demonstrations"] is False
    records = records_of(tmp_path)
    assert {r["demonstrations"] for r in records} == {0, 3}
    assert all(r["demonstrations_shown"] == 0 and r["demo_source"] == "oracle" for r in records)
    assert "every D was evaluated as D = 0" in (tmp_path / "report.md").read_text()


def test_an_agent_with_the_hook_gets_exactly_d_demonstrations_and_the_records_say_so(tmp_path):
    summary = evaluate(tmp_path, FOLLOWER, META, "few-shot-demos", demonstrations=[0, 1], demo_noise=0.1, **CHEAP)
    section = summary["protocols"]["few-shot-demos"]
    assert section["agent_takes_demonstrations"] is True and section["noise"] == 0.1
    assert set(section["splits"]) == {f"{s}, D={d}" for s in ("test", "near", "far") for d in (0, 1)}
    assert section["splits"]["test, D=1"]["iqm"] > 0.8 > section["splits"]["test, D=0"]["iqm"]
    records = records_of(tmp_path)
    assert all(r["demonstrations_shown"] == r["demonstrations"] and r["variant"] == f"demos-{r['demonstrations']}"
               for r in records)  # fmt: skip
    assert all(not r["adaptation"] for r in records)
    report = (tmp_path / "report.md").read_text()
    assert "Demonstrations were given" in report and "![demonstrations](plots/demonstrations.png)" in report


def test_zero_demonstrations_equal_meta_test_without_adaptation_episodes(tmp_path):
    evaluate(tmp_path, FOLLOWER, META, ["meta-test", "few-shot-demos"], adapt_episodes=0, demonstrations=[0], **CHEAP)
    records = records_of(tmp_path)
    meta = {(r["task_id"], r["seed"], r["episode"]): r for r in records if r["variant"] == "agent"}
    demos = {
        (r["task_id"], r["seed"], r["episode"]): r
        for r in records
        if r["variant"] == "demos-0" and r["split"] == "test"
    }
    assert meta.keys() == demos.keys() and meta
    for key, record in meta.items():
        assert (record["env_seed"], record["ret"], record["normalized"]) == (
            demos[key]["env_seed"], demos[key]["ret"], demos[key]["normalized"])  # fmt: skip


def test_demonstration_scores_never_enter_the_meta_test_summary(tmp_path):
    both = evaluate(tmp_path / "both", FOLLOWER, META, ["meta-test", "few-shot-demos"], demonstrations=[3], **CHEAP)
    alone = evaluate(tmp_path / "alone", FOLLOWER, META, "meta-test", **CHEAP)
    assert both["protocols"]["meta-test"] == alone["protocols"]["meta-test"]


def test_few_shot_demos_resumes_and_refuses_another_sweep(tmp_path):
    first = evaluate(tmp_path, FOLLOWER, META, "few-shot-demos", demonstrations=[0, 1], **CHEAP)
    unit = next((tmp_path / "units" / "demos1" / "test").glob("*/seed0.jsonl"))
    unit.unlink()
    assert evaluate(tmp_path, FOLLOWER, META, "few-shot-demos", demonstrations=[0, 1], **CHEAP) == first
    with pytest.raises(TasksuiteError, match="demonstrations"):
        evaluate(tmp_path, FOLLOWER, META, "few-shot-demos", demonstrations=[0, 3], **CHEAP)
    with pytest.raises(TasksuiteError, match="demo_noise"):
        evaluate(tmp_path, FOLLOWER, META, "few-shot-demos", demonstrations=[0, 1], demo_noise=0.2, **CHEAP)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"demonstrations": [1, -2]}, r"demonstrations must be an integer >= 0, got -2"),
        ({"demonstrations": [3, 1, 3]}, r"demonstrations=\[3, 1, 3\] repeats a value"),
        ({"demonstrations": []}, r"demonstrations=\[\].*non-empty list"),
        ({"demonstrations": "3"}, r"demonstrations='3'.*non-empty list of integers >= 0"),
        ({"demonstrations": [1.5]}, r"integer >= 0"),
        ({"demo_noise": -0.1}, r"demo_noise=-0.1.*finite number >= 0"),
        ({"demo_noise": float("nan")}, r"demo_noise=nan"),
    ],
)
def test_bad_demonstration_settings_name_parameter_value_and_what_is_allowed(tmp_path, options, named):
    with pytest.raises(TasksuiteError, match=named):
        evaluate(tmp_path, FOLLOWER, META, "few-shot-demos", **{**CHEAP, **options})
    assert not (tmp_path / "config.json").exists()


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--demos", "1,x"], "--demos: must be comma-separated integers"), (["--demo-noise", "-1"], "--demo-noise")],
)
def test_cli_refuses_bad_demonstration_flags_in_one_line(tmp_path, capsys, flags, named):
    with pytest.raises(SystemExit):
        main(["evaluate", "--agent", RANDOM, "--protocol", "few-shot-demos", "--out", str(tmp_path / "o"), *flags])
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_cli_help_explains_the_protocol_and_its_flags(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "few-shot-demos" in text and "observe_demonstration" in text
    assert "--demos" in text and "--demo-noise" in text and "half the action box" in text


def test_run_trial_gives_the_demonstrations_before_the_first_episode():
    calls = []

    class Recorder(AgentBase):
        def begin_task(self, context):
            calls.append("task")

        def begin_episode(self, adaptation):
            calls.append("episode")

        def observe_demonstration(self, demonstration):
            calls.append("demo")

        def act(self, obs):
            return np.zeros(2, np.float32)

    task = META.tasks("test")[0]
    run_trial(Recorder(), META, task, 0, 0, 1, make_demonstrations(META, task, 0, 2))
    assert calls == ["task", "demo", "demo", "episode"]
    assert takes_demonstrations(Recorder())
