"""Navigation family: geometry of the supports and the two classic presets reproduced exactly."""

import math

import gymnasium as gym
import numpy as np
import pytest

import tasksuite
from tasksuite.evaluation.rollout import RandomPolicy, run_episode
from tasksuite.families.navigation import ArcPoints, HalfDisc, Square


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ((0.0, 0.5), 0.0),
        ((0.0, 1.0), 0.0),
        ((0.0, 1.5), 0.5),
        ((0.5, -0.3), 0.3),
        ((1.3, -0.4), 0.5),
        ((-2.0, 0.0), 1.0),
    ],
)
def test_half_disc_distance(point, expected):
    assert HalfDisc(1.0).distance(*point) == pytest.approx(expected)


def test_half_disc_samples_lie_inside_despite_rounding():
    rng = np.random.default_rng(0)
    region = HalfDisc(1.0)
    assert all(region.distance(*region.sample(rng)) == 0.0 for _ in range(20000))


def test_square_and_arc_distances():
    assert Square(0.5).distance(0.5, -0.5) == 0.0 and Square(0.5).distance(1.5, 0.0) == pytest.approx(1.0)
    arc = ArcPoints(1.0, 100)
    assert arc.distance(1.0, 0.0) == 0.0 and arc.distance(0.0, -1.0) == pytest.approx(math.sqrt(2))


def test_maml_preset_is_the_papers_2d_navigation():
    family = tasksuite.get_family("navigation-maml")
    env = gym.make("tasksuite/NavigationMAML-v0", task={"goal_x": 0.3, "goal_y": -0.2})
    assert family.horizon == 100
    np.testing.assert_array_equal(env.action_space.low, np.float32([-0.1, -0.1]))
    np.testing.assert_array_equal(env.action_space.high, np.float32([0.1, 0.1]))
    obs, _ = env.reset(seed=123)
    np.testing.assert_array_equal(obs, [0.0, 0.0])  # start at the origin, whatever the seed
    obs, reward, terminated, _, _ = env.step(np.array([0.1, -0.05], dtype=np.float32))
    assert reward == pytest.approx(-math.hypot(0.3 - 0.1, -0.2 + 0.05), abs=1e-7) and not terminated
    rng = np.random.default_rng(0)
    goals = np.array([[t["goal_x"], t["goal_y"]] for t in family.sample_tasks(rng, 2000)])
    assert goals.min() >= -0.5 and goals.max() <= 0.5 and goals.min() < -0.49 and goals.max() > 0.49
    episode = run_episode(env, family.oracle_policy(env.unwrapped.get_task()), seed=0)
    assert episode.terminated and episode.length == 3  # |dx| = 0.3 at 0.1 per step; ends within 0.01


def test_pearl_preset_is_the_sparse_point_robot():
    family = tasksuite.get_family("point-robot-sparse")
    assert family.horizon == 20
    benchmark = tasksuite.make_benchmark("pearl-sparse-point")
    goals = {(t["goal_x"], t["goal_y"]) for t in benchmark.train_tasks + benchmark.test_tasks}
    angles = np.linspace(0, np.pi, 100)
    assert goals == set(zip(np.cos(angles).tolist(), np.sin(angles).tolist(), strict=True))  # all 100, no overlap
    assert (len(benchmark.train_tasks), len(benchmark.test_tasks)) == (80, 20)
    env = family.make_env({"goal_x": 1.0, "goal_y": 0.0})
    np.testing.assert_array_equal(env.action_space.high, np.float32([0.1, 0.1]))
    env.reset(seed=0)
    rewards = [env.step(np.array([0.1, 0.0], dtype=np.float32))[1] for _ in range(10)]
    # 0 outside radius 0.2; 1 - distance inside (0.2 away after 8 steps, on the goal after 10)
    assert rewards[:7] == [0.0] * 7
    assert rewards[7:] == pytest.approx([0.8, 0.9, 1.0], abs=1e-6)


def test_dynamics_parameter_scales_the_motion():
    env = tasksuite.get_family("navigation").make_env({"action_scale": 2.0})
    obs, _ = env.reset(seed=0)
    after, *_ = env.step(np.array([1.0, 0.0], dtype=np.float32))
    assert after[0] - obs[0] == pytest.approx(0.2, abs=1e-6)


def test_human_rendering_opens_a_window_headlessly():
    env = tasksuite.get_family("navigation").make_env(render_mode="human")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert env.render() is None
    env.close()


@pytest.mark.parametrize("name", ["navigation-meta", "maml-navigation", "pearl-sparse-point"])
def test_oracle_reaches_the_goal_on_every_training_and_test_task(name):
    bench = tasksuite.make_benchmark(name)
    oracle, random = [], []
    for task in bench.train_tasks + bench.test_tasks:
        env = bench.make_env(task)
        oracle.append(run_episode(env, bench.family.oracle_policy(task), seed=0).success)
        random.append(run_episode(env, RandomPolicy(env.action_space, seed=0), seed=0).success)
    assert all(oracle)
    assert np.mean(random) < 0.1


@pytest.mark.parametrize("name", ["pearl-sparse-point", "navigation-meta"])
def test_info_reports_the_dense_reward_for_sparse_and_dense_tasks_in_single_and_vector_envs(name):
    bench = tasksuite.make_benchmark(name)
    tasks = bench.train_tasks[:4]
    envs = bench.make_vec_env(tasks)
    envs.reset(seed=0)
    singles = [bench.make_env(task) for task in tasks]
    for i, env in enumerate(singles):
        env.reset(seed=i)
    rng = np.random.default_rng(0)
    high = envs.single_action_space.high
    for _ in range(15):
        actions = (rng.uniform(-1, 1, (len(tasks), 2)) * high).astype(np.float32)
        _, reward, _, _, info = envs.step(actions)
        assert np.array_equal(info["dense_reward"], -info["distance_to_goal"])
        for i, env in enumerate(singles):
            _, single_reward, _, _, single_info = env.step(actions[i])
            assert single_info["dense_reward"] == info["dense_reward"][i] and single_reward == reward[i]
    sparse = bench.family.name == "point-robot-sparse"
    assert sparse == (not np.array_equal(reward, info["dense_reward"]))


@pytest.mark.parametrize("region", [HalfDisc(radius=1.0), Square(half=0.5), ArcPoints(radius=1.0, count=100)])
@pytest.mark.parametrize("n", [0, 1, 37])
def test_sample_many_draws_what_successive_samples_draw(region, n):
    one_by_one, at_once = np.random.default_rng(3), np.random.default_rng(3)
    expected = [region.sample(one_by_one) for _ in range(n)]
    got = region.sample_many(at_once, n)
    assert got.shape == (n, 2) and got.tolist() == [list(goal) for goal in expected]
    assert at_once.bit_generator.state == one_by_one.bit_generator.state
    assert at_once.integers(2**62) == one_by_one.integers(2**62)  # the half-used 32-bit draw too


@pytest.mark.parametrize("name", ["navigation", "navigation-maml", "point-robot-sparse"])
def test_vector_env_drawing_goals_ahead_plays_what_single_envs_play(name):
    """Many resets per sub-env (the goals drawn ahead run out and are drawn again), a reseed of
    some sub-envs and each sub-env's sample_tasks between resets: SyncVectorEnv's tasks exactly."""
    family = tasksuite.get_family(name)
    native = gym.make_vec(family.env_id, num_envs=3, vectorization_mode="vector_entry_point").unwrapped
    reference = gym.vector.SyncVectorEnv([family.make_env for _ in range(3)])
    actions = np.zeros((3, 2), dtype=np.float32)
    for envs in (native, reference):
        envs.reset(seed=4)
    episodes = 2 * native.draw_ahead + 5
    for episode in range(episodes):
        for _ in range(family.horizon):
            native.step(actions)
            reference.step(actions)
        assert native.get_tasks() == [env.unwrapped.task for env in reference.envs]
        if episode == native.draw_ahead // 2:
            assert native.call("sample_tasks", 2) == reference.call("sample_tasks", 2)
        if episode == native.draw_ahead + 3:
            for envs in (native, reference):
                envs.reset(seed=[None, 9, None])
