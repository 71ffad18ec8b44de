"""Vector envs, registry-wide: one task per sub-env, and exactly SyncVectorEnv's trajectories."""

import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import tasksuite
from tasksuite import InvalidActionError, InvalidTaskError

FAMILIES = tasksuite.list_families()


def make_pair(family, tasks, mode, task_observable=False):
    """The family's registered vector env and the reference: Gymnasium's SyncVectorEnv over single envs."""
    native = gym.make_vec(
        family.env_id,
        num_envs=len(tasks) if tasks else 3,
        vectorization_mode="vector_entry_point",
        tasks=tasks,
        autoreset_mode=mode,
        task_observable=task_observable,
    )
    per_env = tasks or [None] * 3
    reference = gym.vector.SyncVectorEnv(
        [functools.partial(family.make_env, t, task_observable=task_observable) for t in per_env],
        autoreset_mode=mode,
    )
    return native, reference


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP], ids=["next-step", "same-step"])
@pytest.mark.parametrize("fixed_tasks", [True, False], ids=["tasks", "sampled"])
def test_vector_env_matches_sync_vector_env_exactly(name, mode, fixed_tasks):
    family = tasksuite.get_family(name)
    splits = family.splits(seed=4, n_train=2, n_test=1, n_ood=1)
    tasks = [splits.train[0], splits.test[0], splits.ood[-1]] if fixed_tasks else None
    native, reference = make_pair(family, tasks, mode, task_observable=fixed_tasks)
    obs_a, _ = native.reset(seed=10)
    obs_b, _ = reference.reset(seed=10)
    np.testing.assert_array_equal(obs_a, obs_b)
    rng = np.random.default_rng(0)
    space = reference.single_action_space
    for _ in range(2 * family.horizon + 3):  # crosses two autoresets
        actions = rng.uniform(space.low, space.high, size=(3, *space.shape)).astype(space.dtype)
        a, b = native.step(actions), reference.step(actions)
        for got, expected in zip(a[:4], b[:4], strict=True):
            np.testing.assert_array_equal(got, expected)
        none = np.zeros(3, dtype=bool)  # no sub-env reports success on a step that resets them all
        reported = b[4].get("_success", none)
        np.testing.assert_array_equal(a[4].get("_success", none), reported)
        if reported.any():
            np.testing.assert_array_equal(a[4]["success"][reported], b[4]["success"][reported])
        if mode == AutoresetMode.SAME_STEP and "final_obs" in b[4]:
            done = b[4]["_final_obs"]
            np.testing.assert_array_equal(a[4]["_final_obs"], done)
            np.testing.assert_array_equal(np.stack(a[4]["final_obs"][done]), np.stack(b[4]["final_obs"][done]))
            final_a, final_b = a[4]["final_info"], b[4]["final_info"]
            np.testing.assert_array_equal(final_a["success"][done], final_b["success"][done])
    assert native.get_tasks() == [env.unwrapped.get_task() for env in reference.envs]
    native.close()
    reference.close()


@pytest.mark.parametrize("name", FAMILIES)
def test_benchmark_vector_env_runs_one_task_per_sub_env(name):
    family = tasksuite.get_family(name)
    splits = family.splits(seed=2, n_train=3, n_test=1, n_ood=1)
    envs = tasksuite.Benchmark("tmp", family, splits).make_vec_env("train")
    assert envs.num_envs == 3
    obs, _ = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    obs, reward, *_ = envs.step(envs.action_space.sample())
    assert np.all(np.isfinite(obs)) and reward.shape == (3,)
    assert envs.get_tasks() == list(splits.train)
    envs.close()


@pytest.mark.parametrize("name", FAMILIES)
def test_reset_options_switch_tasks_and_reset_some_sub_envs(name):
    family = tasksuite.get_family(name)
    splits = family.splits(seed=3, n_train=4, n_test=2, n_ood=1)
    envs = tasksuite.Benchmark("tmp", family, splits).make_vec_env(list(splits.train[:2]))
    envs.reset(seed=0, options={"tasks": list(splits.test)})
    assert envs.get_tasks() == list(splits.test)
    obs, _ = envs.reset(seed=0)
    for _ in range(3):
        obs, *_ = envs.step(envs.action_space.sample())
    again, _ = envs.reset(seed=0, options={"reset_mask": np.array([True, False])})
    first, _ = envs.reset(seed=0)
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], obs[1])


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_vector_input_is_refused(name):
    family = tasksuite.get_family(name)
    tasks = list(family.splits(seed=0, n_train=2, n_test=1, n_ood=0).train)
    with pytest.raises(InvalidTaskError, match="num_envs=3 but 2 tasks"):
        gym.make_vec(family.env_id, num_envs=3, vectorization_mode="vector_entry_point", tasks=tasks)
    envs = gym.make_vec(family.env_id, num_envs=2, vectorization_mode="vector_entry_point", tasks=tasks)
    envs.reset(seed=0)
    actions = envs.action_space.sample()
    actions[1] = np.nan
    with pytest.raises(InvalidActionError, match=r"sub-env\(s\) \[1\]|outside the action space"):
        envs.step(actions)
