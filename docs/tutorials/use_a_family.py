"""Use a task family through Gymnasium: fixed tasks, sampled tasks, vector envs and splits."""

import gymnasium as gym
import numpy as np

import tasksuite

# A family declares its parameters once; tasks are validated, hashable values.
family = tasksuite.get_family("navigation")
task = family.task(goal_x=0.4, goal_y=0.7)
print(task, task.id, task.to_dict())

# One task through plain gym.make; the scripted oracle knows the task.
env = gym.make("tasksuite/Navigation-v0", task=task)
obs, info = env.reset(seed=0)
oracle = family.oracle_policy(task)
total = 0.0
for _ in range(family.horizon):
    obs, reward, terminated, truncated, info = env.step(oracle(obs))
    total += reward
print(f"oracle return {total:.2f}, success {info['success']}")
assert info["success"]

# Without task=, every reset(seed=...) draws a task from the training distribution.
env = gym.make("tasksuite/Navigation-v0")
env.reset(seed=1)
first = env.unwrapped.get_task()
env.reset(seed=1)
assert env.unwrapped.get_task() == first  # the seed controls the task

# Switch task at reset; out-of-distribution tasks carry their distance from the training support.
ood = family.task(goal_x=0.0, goal_y=-1.0)
env.reset(seed=0, options={"task": ood})
print(ood.ood_level, ood.distance)

# Splits are reproducible from a seed; benchmarks pin them in published manifests.
benchmark = tasksuite.make_benchmark("navigation-meta")
print(benchmark)
assert not set(benchmark.train_tasks) & set(benchmark.test_tasks)

# A batched vector env: one sub-env per task, one set of array operations for all.
envs = benchmark.make_vec_env("test")
obs, _ = envs.reset(seed=0)
obs, rewards, terminated, truncated, infos = envs.step(np.zeros((envs.num_envs, 2), dtype=np.float32))
print(obs.shape, rewards.shape)
