"""Navigation: single-env step cost against a minimal plain Gymnasium env doing the same arithmetic."""

import functools

import gymnasium as gym
import numpy as np
import pytest

import tasksuite


class PlainPointEnv(gym.Env):
    """The least a point-navigation env can do: the reference our env is measured against."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(-10, 10, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1, 1, (2,), np.float32)
        self._position = np.zeros(2)
        self._goal = np.array([0.5, 0.5])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._position = np.zeros(2)
        return self._position.astype(np.float32), {}

    def step(self, action):
        self._position += 0.1 * action
        reward = -float(np.hypot(*(self._position - self._goal)))
        return self._position.astype(np.float32), reward, False, False, {}


def test_navigation_step(against):
    env = tasksuite.get_family("navigation").make_env({"goal_x": 0.5, "goal_y": 0.5}).unwrapped
    plain = PlainPointEnv()
    action = np.zeros(2, dtype=np.float32)
    env.reset(seed=0)
    plain.reset(seed=0)
    env_step, plain_step = env.step, plain.step  # stepping on past the horizon keeps returning truncated
    against(lambda: env_step(action), lambda: plain_step(action), reference_name="a plain gymnasium point env")


@pytest.mark.parametrize("num_envs", [1, 64, 1024])
def test_navigation_batched_step(against, num_envs):
    """N sub-envs, every one on a different task, against Gymnasium's SyncVectorEnv over the same tasks."""
    family = tasksuite.get_family("navigation")
    tasks = family.splits(seed=0, n_train=num_envs, n_test=1, n_ood=0).train
    batched = gym.make_vec(family.env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", tasks=tasks)
    sync = gym.vector.SyncVectorEnv([functools.partial(family.make_env, task) for task in tasks])
    batched.reset(seed=0)
    sync.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(num_envs, 2)).astype(np.float32)
    calls = (family.horizon + 1) * max(1, 256 // num_envs)  # whole episodes: autoresets are part of the cost
    against(
        lambda: batched.step(actions),
        lambda: sync.step(actions),
        reference_name=f"SyncVectorEnv over {num_envs} envs",
        units=num_envs,
        calls=calls,
    )
