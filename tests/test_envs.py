"""Registry-wide environment tests: every registered family gets them without new test code."""

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tasksuite
from tasksuite import InvalidActionError, InvalidTaskError
from tasksuite.evaluation.rollout import RandomPolicy, run_episode

FAMILIES = tasksuite.list_families()


def one_task_per_split(family):
    splits = family.splits(seed=7, n_train=1, n_test=1, n_ood=1)
    return {"train": splits.train[0], "test": splits.test[0], **{t.ood_level: t for t in splits.ood}}


def rollout(env, seed, steps, action_seed=0):
    """Observations, rewards, flags and infos of a seeded run with seeded random actions (resetting as needed)."""
    env.action_space.seed(action_seed)
    obs, info = env.reset(seed=seed)
    trace = [(obs.copy(), 0.0, False, False, info)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        trace.append((obs.copy(), float(reward), terminated, truncated, info))
        if terminated or truncated:
            obs, info = env.reset()
            trace.append((obs.copy(), 0.0, False, False, info))
    return trace


def assert_same_trace(a, b):
    assert len(a) == len(b)
    for (obs_a, *rest_a), (obs_b, *rest_b) in zip(a, b, strict=True):
        np.testing.assert_array_equal(obs_a, obs_b)
        assert rest_a == rest_b


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("task_observable", [False, True])
def test_env_checker_passes_on_every_split_without_warnings(name, task_observable):
    family = tasksuite.get_family(name)
    for task in one_task_per_split(family).values():
        env = gym.make(family.env_id, task=task, task_observable=task_observable)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(env.unwrapped)
        env.close()


@pytest.mark.parametrize("name", FAMILIES)
def test_same_task_and_seed_give_identical_trajectories(name):
    family = tasksuite.get_family(name)
    task = one_task_per_split(family)["test"]
    traces = [rollout(gym.make(family.env_id, task=task), seed=42, steps=2 * family.horizon) for _ in range(2)]
    assert_same_trace(*traces)
    other = rollout(gym.make(family.env_id, task=task), seed=42, steps=2 * family.horizon, action_seed=1)
    assert not np.array_equal(traces[0][5][0], other[5][0]), "actions must matter"


@pytest.mark.parametrize("name", FAMILIES)
def test_reset_seed_controls_the_sampled_task_and_initial_state(name):
    family = tasksuite.get_family(name)
    env = gym.make(family.env_id)
    tasks = {}
    for seed in (0, 1, 0):
        obs, info = env.reset(seed=seed)
        assert info["task_id"] == env.unwrapped.get_task().id
        assert env.unwrapped.get_task().ood_level is None
        tasks.setdefault(seed, []).append((info["task_id"], obs.copy()))
    (task_0, obs_0), (task_0_again, obs_0_again) = tasks[0]
    assert task_0 == task_0_again and np.array_equal(obs_0, obs_0_again)
    assert tasks[1][0][0] != task_0
    assert_same_trace(
        rollout(gym.make(family.env_id), 3, family.horizon), rollout(gym.make(family.env_id), 3, family.horizon)
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_task_switching_and_the_learn2learn_calls(name):
    family = tasksuite.get_family(name)
    env = gym.make(family.env_id)
    env.reset(seed=0)
    sampled = env.unwrapped.sample_tasks(3)
    assert len(sampled) == 3 and all(t.family == name and t.in_distribution for t in sampled)
    env.unwrapped.set_task(sampled[1])
    for seed in range(3):  # a set task stays fixed across resets
        env.reset(seed=seed)
        assert env.unwrapped.get_task() == sampled[1]
    ood = one_task_per_split(family)["far"]
    env.reset(seed=0, options={"task": ood.to_dict()})
    assert env.unwrapped.get_task() == ood
    # a switch through reset behaves exactly like a fresh env built on that task
    assert_same_trace(
        rollout(gym.make(family.env_id, task=ood), 9, family.horizon),
        (lambda e: (e.reset(options={"task": ood}), rollout(e, 9, family.horizon))[1])(
            gym.make(family.env_id, task=sampled[0])
        ),
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_env_pickles_mid_episode_and_continues_identically(name):
    family = tasksuite.get_family(name)
    env = gym.make(family.env_id, task=one_task_per_split(family)["train"]).unwrapped
    env.reset(seed=5)
    for _ in range(3):
        env.step(env.action_space.sample())
    clone = pickle.loads(pickle.dumps(env))
    actions = [env.action_space.sample() for _ in range(5)]
    for action in actions:
        a, b = env.step(action), clone.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:] == b[1:]


@pytest.mark.parametrize("name", FAMILIES)
def test_oracle_succeeds_and_random_does_not(name):
    family = tasksuite.get_family(name)
    splits = family.splits(seed=0, n_train=20, n_test=10, n_ood=0)
    oracle, random = [], []
    for i, task in enumerate(splits.train + splits.test):
        env = family.make_env(task)
        oracle.append(run_episode(env, family.oracle_policy(task), seed=i).success)
        random.append(run_episode(env, RandomPolicy(env.action_space, seed=i), seed=i).success)
    assert np.mean(oracle) >= 0.9, f"oracle success {np.mean(oracle):.0%}"
    assert np.mean(random) < 0.1, f"random success {np.mean(random):.0%}"


@pytest.mark.parametrize("name", FAMILIES)
def test_oracle_sees_through_the_task_encoding(name):
    family = tasksuite.get_family(name)
    task = one_task_per_split(family)["test"]
    env = family.make_env(task, task_observable=True)
    obs, _ = env.reset(seed=0)
    encoding = family.space.encode(task.params)
    np.testing.assert_array_equal(obs[-len(encoding) :], encoding)
    assert run_episode(env, family.oracle_policy(task), seed=0).success


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_actions_raise_instead_of_leaking_nan(name):
    family = tasksuite.get_family(name)
    env = family.make_env(one_task_per_split(family)["train"])
    env.reset(seed=0)
    space = env.action_space
    for bad in (
        np.full(space.shape, np.nan),
        np.full(space.shape, np.inf),
        space.high * 2 + 1,
        np.zeros(space.shape[0] + 1),
    ):
        with pytest.raises(InvalidActionError, match="action"):
            env.step(bad.astype(np.float32))
    with pytest.raises(InvalidActionError):
        env.step(np.array(["a"] * space.shape[0]))
    obs, *_ = env.step(space.sample())
    assert np.all(np.isfinite(obs))


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_task_input_is_refused_clearly(name):
    family = tasksuite.get_family(name)
    first = family.space.params[0]
    with pytest.raises(InvalidTaskError, match=f"parameter {first.name!r}"):
        family.make_env({first.name: "not-a-value" if hasattr(first, "low") else 123})
    with pytest.raises(InvalidTaskError, match="unknown parameter"):
        family.make_env({"no_such_parameter": 1.0})
    with pytest.raises(InvalidTaskError, match="unknown reset option"):
        family.make_env().reset(seed=0, options={"goal": 1})
    with pytest.warns(UserWarning, match="render_mode='ascii'"), pytest.raises(InvalidTaskError, match="render_mode"):
        family.make_env(render_mode="ascii")


@pytest.mark.parametrize("name", FAMILIES)
def test_rgb_frame_has_the_right_shape_and_is_not_blank(name):
    family = tasksuite.get_family(name)
    env = family.make_env(one_task_per_split(family)["far"], render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    frame = env.render()
    check_env(env.unwrapped)  # includes Gymnasium's render checks for rgb_array
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and min(frame.shape[:2]) >= 64
    assert frame.std() > 5.0, "frame is blank"
    env.close()


@pytest.mark.parametrize("name", FAMILIES)
def test_stable_baselines3_check_env_passes_on_every_split(name):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker", reason="the dev extra installs SB3")
    family = tasksuite.get_family(name)
    for task in one_task_per_split(family).values():
        env = gym.make(family.env_id, task=task)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            # Advice, not a conformance failure: the MAML paper's action box is [-0.1, 0.1].
            warnings.filterwarnings("ignore", message="We recommend you to use a symmetric and normalized Box")
            sb3_checker.check_env(env, warn=True)
        env.close()


@pytest.mark.parametrize("name", FAMILIES)
def test_the_spec_is_plain_data_with_the_horizon(name):
    family = tasksuite.get_family(name)
    task = one_task_per_split(family)["far"]
    env = gym.make(family.env_id, task=task)
    assert env.spec.max_episode_steps == family.horizon
    assert env.spec.kwargs["task"] == task.to_dict()
    rebuilt = gym.make(gym.envs.registration.EnvSpec.from_json(env.spec.to_json()))
    assert rebuilt.unwrapped.get_task() == task
    envs = gym.make_vec(family.env_id, 2, vectorization_mode="vector_entry_point", tasks=[task] * 2)
    assert envs.spec.to_json() and envs.spec.max_episode_steps == family.horizon
    envs.close()
    env.reset(seed=0)
    _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("mode", ["vector_entry_point", "sync"])
def test_vector_envs_reach_each_sub_envs_task_api(name, mode):
    family = tasksuite.get_family(name)
    splits = family.splits(seed=7, n_train=2, n_test=1, n_ood=1)
    envs = gym.make_vec(
        family.env_id, 2, vectorization_mode=mode, **({"tasks": splits.train} if mode != "sync" else {})
    )
    envs.reset(seed=0)
    envs.call("set_task", splits.test[0])  # learn2learn-style: one task for every sub-env
    envs.reset(seed=1)
    assert envs.call("get_task") == (splits.test[0],) * 2 and envs.get_attr("task") == (splits.test[0],) * 2
    envs.set_attr("task", list(splits.train))
    envs.reset(seed=2)
    assert list(envs.call("get_task")) == list(splits.train)
    sampled = envs.call("sample_tasks", 2)
    assert len(sampled) == 2 and all(len(tasks) == 2 for tasks in sampled)
    envs.close()
