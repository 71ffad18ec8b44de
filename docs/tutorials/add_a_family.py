"""Add a new task family: a 1-D point that must reach a hidden target on a line."""

from collections.abc import Mapping

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import tasksuite
from tasksuite.core import Continuous, OODLevel, ParameterSpace, Task, TaskEnv, TaskFamily
from tasksuite.registry import BenchmarkEntry, FamilyEntry, register_benchmark, register_family


class Line(TaskFamily):
    """A point on a line reaching a hidden target."""

    space = ParameterSpace((Continuous("target", -3.0, 3.0, default=0.5, unit="m", doc="target position"),))
    ood_levels = (OODLevel("near", 0.2, 1.0, "targets 0.2-1 m beyond [0, 1]"), OODLevel("far", 1.0, 2.0, "1-2 m"))
    horizon = 30
    training_doc = "target uniform in [0, 1]"
    distance_unit = "m outside [0, 1]"

    def sample_training_params(self, rng):
        return {"target": float(rng.uniform(0.0, 1.0))}

    def distance(self, params: Mapping) -> float:
        return max(0.0, -params["target"], params["target"] - 1.0)

    def propose_ood_params(self, rng):
        return {"target": float(rng.uniform(-2.0, 3.0))}

    def oracle_policy(self, task: Task):
        return lambda obs: np.clip(np.array([task["target"] - obs[0]], dtype=np.float32) / 0.2, -1.0, 1.0)


class LineEnv(TaskEnv):
    """Observation: position. Action: velocity in [-1, 1]. Reward: -distance to the target."""

    family_class = Line

    def __init__(self, family="line", task=None, render_mode=None, task_observable=False):
        super().__init__(family, task, render_mode, task_observable)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.base_observation_space = gym.spaces.Box(-10.0, 10.0, (1,), np.float32)
        self._position, self._target = 0.0, 0.0
        self._finish_init()

    def _configure(self, task):
        self._target = task["target"]

    def _reset_state(self):
        self._position = float(self.np_random.uniform(-0.1, 0.1))
        return np.array([self._position], dtype=np.float32), {}

    def _advance(self, action):
        self._position += 0.2 * float(action[0])
        distance = abs(self._position - self._target)
        obs = np.array([self._position], dtype=np.float32)
        return obs, -distance, False, False, {"success": distance < 0.05}

    def render(self):
        return None


# Registration. Inside tasksuite this is one row of FAMILIES (and of BENCHMARKS) in
# tasksuite/registry.py; a family living in your own package registers itself like this.
register_family(FamilyEntry("line", "tasksuite/Line-v0", f"{__name__}:LineEnv"))
register_benchmark(BenchmarkEntry("line-meta", "line", "meta", n_train=20, n_test=5, n_ood=5, summary="1-D targets"))

family = tasksuite.get_family("line")
splits = tasksuite.make_benchmark("line-meta").splits
print(splits.ood_levels)
env = gym.make("tasksuite/Line-v0", task=splits.test[0])
check_env(env.unwrapped, skip_render_check=True)
obs, _ = env.reset(seed=0)
oracle = family.oracle_policy(splits.test[0])
for _ in range(family.horizon):
    obs, reward, terminated, truncated, info = env.step(oracle(obs))
assert info["success"]
print("the new family passes Gymnasium's env checker and its oracle succeeds")
