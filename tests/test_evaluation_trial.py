"""The pieces under the harness: trials, factories, reference returns and their cache, the results folder."""

import json

import numpy as np
import pytest

import tasksuite
from tasksuite import TasksuiteError
from tasksuite.evaluation import references
from tasksuite.evaluation.agent import AgentBase, PolicyAgent
from tasksuite.evaluation.agents import Factory, OracleAgent, load_object, spec_of
from tasksuite.evaluation.results import ResultsDir, run_hash
from tasksuite.evaluation.trial import derive_seed, episode_seed, run_trial

META = tasksuite.make_benchmark("navigation-meta")
MULTI = tasksuite.make_benchmark("navigation-multitask")


class Recorder(AgentBase):
    """Logs every call the harness makes."""

    def __init__(self, privileged=False):
        self.calls = []
        self.context = None
        self.privileged = privileged

    def begin_task(self, context):
        self.context = context
        self.calls.append("task")

    def begin_episode(self, adaptation):
        self.calls.append(f"begin {'A' if adaptation else 'E'}")

    def act(self, obs):
        return np.zeros(2, dtype=np.float32)

    def observe(self, transition):
        self.calls.append("step")

    def end_episode(self, adaptation):
        self.calls.append(f"end {'A' if adaptation else 'E'}")


def _episodes(calls):
    return [c for c in calls if c != "step"]


def test_trial_drives_the_protocol_in_order():
    agent = Recorder()
    records = run_trial(agent, META, META.test_tasks[0], seed=0, adapt_episodes=2, eval_episodes=1)
    horizon = META.family.horizon
    assert _episodes(agent.calls) == ["task", "begin A", "end A", "begin A", "end A", "begin E", "end E"]
    assert agent.calls.count("step") == 3 * horizon
    expected = [(0, True, horizon), (1, True, horizon), (2, False, horizon)]
    assert [(r.episode, r.adaptation, r.length) for r in records] == expected


def test_meta_setting_hides_the_task_multitask_setting_and_privileged_agents_see_it():
    hidden, shown, privileged = Recorder(), Recorder(), Recorder(privileged=True)
    run_trial(hidden, META, META.test_tasks[0], 0, 0, 1)
    run_trial(shown, MULTI, MULTI.train_tasks[0], 0, 0, 1)
    run_trial(privileged, META, META.test_tasks[0], 0, 0, 1)
    assert hidden.context.task is None and hidden.context.setting == "meta"
    assert hidden.context.observation_space.shape == (2,)
    assert shown.context.task == MULTI.train_tasks[0]
    assert shown.context.observation_space.shape == (2 + MULTI.family.space.encoding_size,)
    assert privileged.context.task == META.test_tasks[0] and privileged.context.observation_space.shape == (2,)


def test_trial_is_reproducible_and_its_seeds_depend_on_task_seed_and_episode():
    task = META.test_tasks[0]
    make = Factory("tasksuite.evaluation.agents:random")
    first = run_trial(make.build_agent(), META, task, seed=1, adapt_episodes=1, eval_episodes=2)
    again = run_trial(make.build_agent(), META, task, seed=1, adapt_episodes=1, eval_episodes=2)
    other = run_trial(make.build_agent(), META, task, seed=2, adapt_episodes=1, eval_episodes=2)
    assert first == again
    assert [r.env_seed for r in first] == [episode_seed(task, 1, i) for i in range(3)]
    assert len({r.env_seed for r in first + other}) == 6 and [r.ret for r in first] != [r.ret for r in other]
    assert derive_seed("a", 1) == derive_seed("a", 1) != derive_seed("a", 2)
    assert 0 <= derive_seed("x") < 2**63


def test_factories_build_agents_and_adapt_plain_callables():
    assert isinstance(Factory("tasksuite.evaluation.agents:oracle").build_agent(), OracleAgent)
    adapted = Factory("evaluation_agents:plain_callable").build_agent()
    assert isinstance(adapted, PolicyAgent)
    records = run_trial(adapted, META, META.test_tasks[0], 0, 0, 1)
    assert records[0].length == META.family.horizon
    assert spec_of(OracleAgent) == "tasksuite.evaluation.agents:OracleAgent"
    assert spec_of("a.b:c") == "a.b:c"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "not an import spec"),
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("tasksuite.evaluation.agents:nope", "has no attribute 'nope'"),
        ("tasksuite.evaluation.agents:ORACLE", "not a factory"),
    ],
)
def test_bad_factory_specs_are_clear_errors(spec, message):
    with pytest.raises(TasksuiteError, match=message):
        Factory(spec).build_agent()


def test_a_factory_returning_neither_agent_nor_callable_is_refused():
    with pytest.raises(TasksuiteError, match="neither an Agent"):
        Factory("builtins:dict").build_agent()
    with pytest.raises(TasksuiteError, match="not importable by name"):
        spec_of(lambda: None)
    assert load_object("tasksuite.evaluation.agents:Factory.build_agent") is Factory.build_agent


def test_references_are_measured_once_then_read_from_the_cache(monkeypatch, tmp_path):
    family, task = META.family, META.test_tasks[0]
    assert references.load_cached(family, task, 3, tmp_path) is None
    measured = references.measure_reference(family, task, 3)
    references.store(family, task, measured, tmp_path)
    assert references.load_cached(family, task, 3, tmp_path) == measured
    assert references.load_cached(family, task, 4, tmp_path) is None  # other episode seeds: another key
    path = references.cache_path(family, task, 3, tmp_path)
    assert path.parent.name == f"v{family.version}" and path.name.startswith(task.id)
    assert measured.oracle > measured.random and len(set(measured.random_returns)) == 3
    assert measured == references.measure_reference(family, task, 3)  # deterministic
    path.write_text("{truncated")
    with pytest.warns(UserWarning, match="not valid JSON"):
        assert references.load_cached(family, task, 3, tmp_path) is None


def _edited(data, **changes):
    return {**data, **changes}


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: _edited(d, oracle_returns=[1e3] * 3), "digest"),  # returns edited by hand
        (lambda d: _edited(d, oracle=1e3), "digest"),
        (lambda d: json.loads(json.dumps(d).replace(str(d["oracle_returns"][0]), "NaN")), "NaN"),
        (lambda d: _edited(d, task_id="navigation-000000000000"), "digest"),
        (lambda d: {k: v for k, v in d.items() if k != "check"}, "exactly the keys"),
        (lambda d: [d], "exactly the keys"),
    ],
    ids=["returns", "mean", "nan", "task-id", "no-digest", "not-an-object"],
)
def test_a_tampered_reference_cache_is_measured_again_with_a_warning(tmp_path, edit, reason):
    family, task = META.family, META.test_tasks[0]
    measured = references.measure_reference(family, task, 3)
    references.store(family, task, measured, tmp_path)
    path = references.cache_path(family, task, 3, tmp_path)
    data = json.loads(path.read_text())
    assert data["family"] == family.name and data["family_version"] == family.version and data["task_id"] == task.id
    edited = edit(data)
    path.write_text(edited if isinstance(edited, str) else json.dumps(edited))
    with pytest.warns(UserWarning, match=reason):
        assert references.load_cached(family, task, 3, tmp_path) is None


def test_a_reference_cached_for_another_task_is_not_used(tmp_path):
    family, (task, other) = META.family, META.test_tasks[:2]
    references.store(family, task, references.measure_reference(family, other, 3), tmp_path)  # misfiled
    with pytest.warns(UserWarning, match=f"not that of task {task.id}: task_id"):
        assert references.load_cached(family, task, 3, tmp_path) is None


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TASKSUITE_CACHE", str(tmp_path))
    assert references.cache_dir() == tmp_path
    monkeypatch.delenv("TASKSUITE_CACHE")
    assert references.cache_dir().parts[-2:] == (".cache", "tasksuite")


def test_results_dir_refuses_to_mix_runs_and_cleans_only_its_own_interrupted_writes(tmp_path):
    results = ResultsDir(tmp_path / "run")
    with results.claim():
        results.prepare({"agent": "a:b", "seeds": 2, "workers": 2})
    stale = results.units / "test" / ".seed0.jsonl.abc.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"half": ')
    stale_config = results.root / ".config.json.abc.tmp"
    stale_config.write_text("{")
    foreign = results.root / "notes" / ".draft.tmp"  # not a temporary of the folder's own files
    foreign.parent.mkdir()
    foreign.write_text("mine")
    with results.claim():
        results.prepare({"agent": "a:b", "seeds": 2, "workers": 8})  # execution settings may change
        assert not stale.exists() and not stale_config.exists() and foreign.read_text() == "mine"
        with pytest.raises(TasksuiteError, match=r"different run \(seeds: saved 2, now 3\)"):
            results.prepare({"agent": "a:b", "seeds": 3, "workers": 2})
        results.save_error("test/x/seed0", "boom", "Traceback ...")
        results.save_unit("test/x/seed0", [{"unit": "test/x/seed0", "task_id": "x", "episode": 0}])
        assert results.is_finished("test/x/seed0") and results.read_errors() == []
        assert results.read_records() == [{"unit": "test/x/seed0", "task_id": "x", "episode": 0}]
        saved = json.loads(results.unit_file("test/x/seed0").read_text())
        assert saved["run"] == run_hash({"agent": "a:b", "seeds": 2}) and len(saved["check"]) == 16
