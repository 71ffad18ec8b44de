"""Every speed scenario of tasksuite.speed (all families and benchmarks), as pytest-benchmark tests."""

import importlib.util
import os

import numpy as np
import pytest

import tasksuite
from tasksuite import speed

SCENARIOS = speed.scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_speed(against, scenario):
    subject, reference = scenario.build()
    against(subject, reference, reference_name=scenario.reference, units=scenario.units, unit=scenario.unit)


FOOTPRINTS = [(family, speed.memory_num_envs(family)) for family in tasksuite.list_families()]
FOOTPRINTS.append(speed.LARGE_VECTOR_ENV)


@pytest.mark.parametrize(("family", "num_envs"), FOOTPRINTS, ids=[f"{f}-{n}" for f, n in FOOTPRINTS])
def test_vector_env_footprint(benchmark, summary_line, family, num_envs):
    footprint = benchmark.pedantic(speed.vector_env_footprint, args=(family, num_envs), rounds=1)
    benchmark.extra_info.update(footprint.to_dict())
    summary_line(
        f"{family} x {num_envs} sub-envs: build + first reset {footprint.build_s:.2f} s, "
        f"peak RSS {footprint.peak_rss_mb:.0f} MB (fresh process, interpreter included)"
    )


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="tasksuite train needs torch")
@pytest.mark.parametrize("algorithm", ["maml", "rl2", "pearl"])
def test_train_start_up(benchmark, summary_line, algorithm):
    start_up = benchmark.pedantic(speed.train_start_up, args=(algorithm,), rounds=1)
    benchmark.extra_info.update(start_up.to_dict())
    summary_line(start_up.summary())


def test_against_metaworld(benchmark, request, summary_line):
    """Meta-World's reach/push steps and ML10 construction, measured in its own virtualenv, its rounds
    alternating with ours."""
    python = request.config.getoption("--metaworld-python")
    if python is None:
        pytest.skip("pass --metaworld-python PATH (a virtualenv with metaworld) to compare with Meta-World")
    metaworld = speed.MetaWorld(python)
    chosen = [s for s in SCENARIOS if metaworld.between_rounds(s) is not None or s.name.endswith("/build")]
    try:
        ours = benchmark.pedantic(
            lambda: [speed.measure(s, between=metaworld.between_rounds(s)) for s in chosen], rounds=1
        )
    finally:
        metaworld.close()
    rows = speed.metaworld_comparison(ours, metaworld.figures())
    benchmark.extra_info["metaworld"] = rows
    for row in rows:
        summary_line(f"{row['what']}: {row['speedup']:.3g}x")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the baselines need torch")
def test_baseline_agent_acts_on_one_torch_thread(against, tmp_path):
    """``tasksuite.baselines.load_agent`` runs torch on one thread: an RL² agent's steps (one
    observation each, as the harness calls them) on one thread against the same steps on torch's
    default of one thread per core."""
    import torch

    from tasksuite.baselines import load_agent, train_baseline
    from tasksuite.evaluation.agent import TaskContext

    bench = tasksuite.make_benchmark("navigation-meta")
    checkpoint = train_baseline("rl2", bench, tmp_path, steps=1600, parallel_trials=8, episodes_per_trial=2)
    agent, cores = load_agent(checkpoint), os.cpu_count() or 1
    env = bench.make_env(bench.test_tasks[0])
    space = {"observation_space": env.observation_space, "action_space": env.action_space}
    agent.begin_task(TaskContext(bench.family.name, bench.setting, None, **space, horizon=bench.family.horizon, seed=0))
    agent.begin_episode(adaptation=False)
    obs, _ = env.reset(seed=0)

    def steps(threads: int) -> None:
        torch.set_num_threads(threads)
        for _ in range(50):
            agent.act(obs)

    against(lambda: steps(1), lambda: steps(cores), reference_name=f"torch on {cores} threads", units=50)
    torch.set_num_threads(1)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the baselines need torch")
def test_baselines_adam_updates_all_parameters_in_one_batched_step(against):
    """The baselines' optimizer (``tasksuite.baselines.common.Adam``: the same numbers, see
    tests/test_baselines.py) on PEARL's networks against torch's per-tensor loop, CPU torch's default."""
    import torch

    from tasksuite.baselines import pearl
    from tasksuite.baselines.common import Adam

    torch.set_num_threads(1)
    params = list(pearl.SAC(2, 2, pearl.Config()).parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    batched, per_tensor = Adam(params, 1e-3), torch.optim.Adam(params, lr=1e-3, foreach=False)
    against(batched.step, per_tensor.step, reference_name="torch.optim.Adam(foreach=False)", unit="update")


def test_task_id_hashes_json_written_directly(against):
    """A reaching task's id as ``Task.id`` hashes it (its JSON written by ``task_identity``) against the same
    id hashed from the JSON encoder's output (``canonical_json``, what ids hashed before); the same string."""
    import hashlib

    from tasksuite.core.task import Task, canonical_json, task_identity

    params = tasksuite.get_family("reaching").training_task(np.random.default_rng(0)).params

    def task_id(identity: str) -> str:
        return f"reaching-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"

    def written() -> str:
        return task_id(task_identity("reaching", params))

    def encoded() -> str:
        return task_id(canonical_json({"family": "reaching", "params": dict(params)}))

    assert written() == encoded() == Task("reaching", params).id
    against(written, encoded, reference_name="the same id from canonical_json", unit="id")


@pytest.mark.parametrize("family", ["navigation", "reaching", "warehouse"])
def test_training_task_trusts_the_families_sampler(against, family):
    """``family.training_task`` (the sampler trusted, ``trusted_sampler``) against validating the same draws
    with ``family.task``, as resets did before; the same tasks (tests/test_task.py)."""
    family = tasksuite.get_family(family)
    trusted, checked = np.random.default_rng(0), np.random.default_rng(0)
    against(
        lambda: family.training_task(trusted),
        lambda: family.task(**family.sample_training_params(checked)),
        reference_name="family.task(**sample_training_params(rng))",
        unit="task",
    )


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the baselines need torch")
def test_maml_trains_faster_on_two_threads(against, tmp_path):
    """MAML's training on ``navigation-meta`` (two meta-batches, 40k env steps) with ``threads=2`` against
    the default ``threads=1`` (docs/performance.md: a second thread pays off for MAML on NumPy families,
    whose 10,000-row meta-batches are large enough to split; the results then round differently)."""
    import itertools

    import torch

    from tasksuite.baselines import maml

    bench, runs = tasksuite.make_benchmark("navigation-meta"), itertools.count()

    def train(threads: int) -> None:
        maml.train(maml.Config(total_env_steps=40_000, threads=threads), bench, tmp_path / f"run-{next(runs)}")

    against(lambda: train(2), lambda: train(1), reference_name="threads=1", units=40_000, rounds=3)
    torch.set_num_threads(1)
