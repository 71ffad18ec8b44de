"""MuJoCo batched vector envs: what the registry-wide comparison (tests/test_vector.py) cannot see.

Divergence of one sub-env, per-sub-env models, no recompiles on task switches, thread counts.
"""

import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import tasksuite
from tasksuite import InvalidTaskError
from tasksuite.core import mujoco_env
from tasksuite.families import warehouse
from tasksuite.speed import is_mujoco

MUJOCO_FAMILIES = [name for name in tasksuite.list_families() if is_mujoco(name)]


def native_env(family, tasks, **kwargs):
    return gym.make_vec(
        family.env_id, num_envs=len(tasks), vectorization_mode="vector_entry_point", tasks=tasks, **kwargs
    )


def sync_env(family, tasks, mode):
    return gym.vector.SyncVectorEnv([functools.partial(family.make_env, task) for task in tasks], autoreset_mode=mode)


def assert_same_info(got, expected):
    """Every entry SyncVectorEnv reports, with its mask, and nothing else.

    Single envs' reset infos carry ``task_id``, which the batched envs do not report (as NavigationVectorEnv).
    """
    expected = {key: value for key, value in expected.items() if key not in ("task_id", "_task_id")}
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        if key.startswith("_"):
            np.testing.assert_array_equal(got[key], value, err_msg=key)
        elif key == "final_obs":
            done = expected["_final_obs"]
            np.testing.assert_array_equal(np.stack(got[key][done]), np.stack(value[done]))
        elif isinstance(value, dict):
            assert_same_info(got[key], value)
        else:
            reported = expected[f"_{key}"]
            np.testing.assert_array_equal(got[key][reported], value[reported], err_msg=key)


def assert_same_step(got, expected):
    for a, b in zip(got[:4], expected[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    assert_same_info(got[4], expected[4])


@pytest.fixture
def mujoco_log_elsewhere(tmp_path, monkeypatch):
    """MuJoCo appends its instability warnings to MUJOCO_LOG.TXT in the working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("mujoco_log_elsewhere")
@pytest.mark.parametrize("name", MUJOCO_FAMILIES)
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP], ids=["next-step", "same-step"])
@pytest.mark.parametrize("mujoco_noticed", [False, True], ids=["beyond-the-bounds", "beyond-mujoco-limit"])
def test_a_diverging_sub_env_is_truncated_alone_as_in_sync_vector_env(name, mode, mujoco_noticed):
    family = tasksuite.get_family(name)
    tasks = family.sample_tasks(np.random.default_rng(0), 3)
    native, reference = native_env(family, tasks, autoreset_mode=mode), sync_env(family, tasks, mode)
    native.reset(seed=5)
    reference.reset(seed=5)
    rng = np.random.default_rng(1)
    space = reference.single_action_space

    def step():
        actions = rng.uniform(space.low, space.high, size=(3, *space.shape)).astype(space.dtype)
        got, expected = native.step(actions), reference.step(actions)
        assert_same_step(got, expected)
        return got

    before = step()[0]
    if mujoco_noticed:  # a speed MuJoCo calls diverged: it warns and resets the state mid-step
        native.batch.bind("qvel")[1] = 1e12
        reference.envs[1].unwrapped.data.qvel[:] = 1e12
    else:  # the first observed coordinate thrown well beyond its bound: only the bounds check notices
        beyond = reference.single_observation_space.high[0] + 3.0
        native.batch.bind("qpos")[1, 0] = reference.envs[1].unwrapped.data.qpos[0] = beyond
    obs, reward, _, truncated, info = step()
    if mode == AutoresetMode.NEXT_STEP:  # (SAME_STEP has reset the sub-env, and its warnings, already)
        assert native.batch.warning[1, :, 1].any() == mujoco_noticed
    np.testing.assert_array_equal(truncated, [False, True, False])
    assert np.isfinite(obs).all() and np.isfinite(reward).all()
    last = obs[1]
    if mode == AutoresetMode.SAME_STEP:  # the ending step's observation and info moved to final_obs / final_info
        last, info = info["final_obs"][1], info["final_info"]
    np.testing.assert_array_equal(last, before[1])  # sub-env 1's last valid observation
    np.testing.assert_array_equal(info["_physics_unstable"], [False, True, False])
    assert info["physics_unstable"][1] and info["_success"][1] and not info["success"][1]
    others = [key for key in info if key[0] != "_" and key not in ("success", "physics_unstable")]
    assert not any(info[f"_{key}"][1] for key in others)  # its distance is not reported
    for _ in range(5):  # the sub-env restarts; all three go on as in SyncVectorEnv
        _, _, _, truncated, info = step()
        assert "physics_unstable" not in info and not truncated.any()


@pytest.mark.parametrize("name", MUJOCO_FAMILIES)
def test_every_sub_env_simulates_its_own_task_on_the_single_envs_model(name):
    family = tasksuite.get_family(name)
    tasks = family.sample_tasks(np.random.default_rng(3), 4)
    native = native_env(family, tasks)
    native.reset(seed=0)
    models = [native.batch.get_model(index) for index in range(len(tasks))]  # the fields it simulates
    for task, model in zip(tasks, models, strict=True):
        single = family.make_env(task).unwrapped
        single.reset(seed=0)
        fields = [f for f in dir(model) if not f.startswith("_") and isinstance(getattr(model, f), np.ndarray)]
        different = [f for f in fields if not np.array_equal(getattr(model, f), getattr(single.model, f))]
        assert not different, f"{task}: {different}"
    # ... and the tasks' dynamics really differ between the sub-envs' models
    assert not np.array_equal(models[0].body_mass, models[1].body_mass)


def _compilations(name):
    if name == "warehouse":
        return warehouse.shape_model.cache_info().misses
    return mujoco_env._compiled.cache_info().misses


@pytest.mark.parametrize("name", MUJOCO_FAMILIES)
def test_switching_tasks_back_and_forth_compiles_and_copies_nothing_after_the_first_time(name):
    family = tasksuite.get_family(name)
    first, second = (family.sample_tasks(np.random.default_rng(seed), 4) for seed in (1, 2))
    if name == "warehouse":
        assert not {t["shape"] for t in first} & {t["shape"] for t in second}, "pick seeds with other shapes"
    native = native_env(family, first)

    def models():  # reaching's sub-envs share the batch's model (None): there is nothing to copy
        return None if native.batch.models is None else {id(model) for model in native.batch.models}

    native.reset(seed=0)
    models_first = models()
    native.reset(seed=0, options={"tasks": second})
    models_second = models()
    compiled = _compilations(name)
    for _ in range(2):
        native.reset(seed=0, options={"tasks": first})
        assert models() == models_first
        native.step(native.action_space.sample())
        native.reset(seed=0, options={"tasks": second})
        assert models() == models_second
    assert _compilations(name) == compiled
    assert (models_first is None) == (name == "reaching")


@pytest.mark.parametrize("name", MUJOCO_FAMILIES)
def test_results_do_not_depend_on_the_thread_count(name):
    family = tasksuite.get_family(name)
    tasks = family.sample_tasks(np.random.default_rng(4), 5)
    envs = [native_env(family, tasks, num_threads=threads) for threads in (1, 3)]
    assert [env.num_threads for env in envs] == [1, 3]
    first = [env.reset(seed=2)[0] for env in envs]
    np.testing.assert_array_equal(*first)
    actions = envs[0].action_space.sample()
    for _ in range(10):
        one, three = (env.step(actions) for env in envs)
        for a, b in zip(one[:4], three[:4], strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", MUJOCO_FAMILIES)
@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(name, threads):
    family = tasksuite.get_family(name)
    with pytest.raises(InvalidTaskError, match="num_threads must be a positive integer"):
        native_env(family, family.sample_tasks(np.random.default_rng(0), 2), num_threads=threads)


def test_sub_env_count_caps_the_threads():
    family = tasksuite.get_family(MUJOCO_FAMILIES[0])
    tasks = family.sample_tasks(np.random.default_rng(0), 1)
    assert native_env(family, tasks, num_threads=8).num_threads == 1


def test_the_default_thread_count_is_measured_among_the_usable_cores():
    model = mujoco_env.load_model("reaching.xml")
    assert mujoco_env.fastest_thread_count(model, nsim=1, frame_skip=5) == 1
    chosen = mujoco_env.fastest_thread_count(model, nsim=8, frame_skip=5)
    assert 1 <= chosen <= min(8, mujoco_env.usable_cores())
    family = tasksuite.get_family("reaching")
    envs = native_env(family, family.sample_tasks(np.random.default_rng(0), 3))
    assert 1 <= envs.num_threads <= min(3, mujoco_env.usable_cores())
