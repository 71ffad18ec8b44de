"""Navigation: single-env step cost against a minimal plain Gymnasium env doing the same arithmetic."""

import gymnasium as gym
import numpy as np

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
