"""Trajectory fingerprints: sha256 digests of everything a seeded run produces.

``tests/test_fingerprints.py`` compares them with digests recorded from the code before the
speed work of issue 15, so that faster sampling, task building and resets provably change no
trajectory. Run ``python tests/fingerprints.py`` to print the current digests.
"""

from __future__ import annotations

import hashlib
import json

import gymnasium as gym
import numpy as np

import tasksuite
from tasksuite.speed import is_mujoco


class Digest:
    """A running sha256 of arrays, numbers and tasks."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, value: object) -> None:
        """Fold ``value`` in: arrays by dtype, shape and bytes; tasks by their dict; the rest by JSON."""
        if isinstance(value, tasksuite.Task):
            value = value.to_dict()
        if isinstance(value, np.ndarray | np.generic):
            array = np.asarray(value)
            self._hash.update(f"{array.dtype}{array.shape}".encode())
            self._hash.update(np.ascontiguousarray(array).tobytes())
        else:
            self._hash.update(json.dumps(value, sort_keys=True).encode())

    def hexdigest(self) -> str:
        """The digest so far, shortened."""
        return self._hash.hexdigest()[:20]


def _actions(space: gym.spaces.Box, rng: np.random.Generator, batch: int | None = None) -> np.ndarray:
    shape = space.shape if batch is None else (batch, *space.shape)
    return rng.uniform(space.low, space.high, size=shape).astype(space.dtype)


def single_env(name: str) -> str:
    """A single env without ``task=``: seeded resets drawing tasks, episodes of random actions, then
    ``reset(options={"task": ...})`` switching tasks and ``sample_tasks``."""
    family = tasksuite.get_family(name)
    env = family.make_env()
    digest, rng = Digest(), np.random.default_rng(5)
    for episode in range(4):
        obs, info = env.reset(seed=11 + episode if episode % 2 == 0 else None)
        digest.add(obs)
        digest.add(info["task_id"])
        digest.add(env.unwrapped.task)
        for _ in range(family.horizon if episode < 2 else 5):
            obs, reward, terminated, truncated, info = env.step(_actions(env.action_space, rng))
            digest.add(obs)
            digest.add(np.float64(reward))
            digest.add([terminated, truncated, bool(info["success"])])
    for task in env.unwrapped.sample_tasks(3):
        digest.add(task)
        obs, info = env.reset(options={"task": task})
        digest.add(obs)
        digest.add(info["task_id"])
        digest.add(env.step(_actions(env.action_space, rng))[0])
    env.close()
    return digest.hexdigest()


def vector_env(name: str, num_envs: int = 6) -> str:
    """The family's native vector env without ``tasks=``: every reset draws a task; autoresets, a masked
    reset, and each sub-env's ``sample_tasks`` from its own stream between resets."""
    family = tasksuite.get_family(name)
    envs = gym.make_vec(family.env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    digest, rng = Digest(), np.random.default_rng(6)
    obs, _ = envs.reset(seed=3)
    digest.add(obs)
    for step in range(2 * family.horizon + 3):
        obs, reward, terminated, truncated, info = envs.step(_actions(envs.single_action_space, rng, num_envs))
        for value in (obs, reward, terminated, truncated, info.get("success", np.zeros(0))):
            digest.add(np.asarray(value))
        if step == family.horizon // 2:
            for task in envs.unwrapped.get_tasks():
                digest.add(task)
    for tasks in envs.unwrapped.call("sample_tasks", 2):
        for task in tasks:
            digest.add(task)
    mask = np.arange(num_envs) % 2 == 0
    obs, _ = envs.reset(options={"reset_mask": mask})
    digest.add(obs)
    obs, _ = envs.reset(seed=[7 + i if i % 3 else None for i in range(num_envs)])
    digest.add(obs)
    for _ in range(3):
        digest.add(envs.step(_actions(envs.single_action_space, rng, num_envs))[0])
    for task in envs.unwrapped.get_tasks():
        digest.add(task)
    envs.close()
    return digest.hexdigest()


def long_vector_env(name: str, num_envs: int = 4, episodes: int = 150) -> str:
    """Many episodes per sub-env (a sampler that draws ahead must refill), with ``sample_tasks`` and
    a reseed of some sub-envs in the middle."""
    family = tasksuite.get_family(name)
    envs = gym.make_vec(family.env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    digest, rng = Digest(), np.random.default_rng(8)
    envs.reset(seed=21)
    actions = _actions(envs.single_action_space, rng, num_envs)
    for step in range(episodes * family.horizon):
        obs, reward, *_ = envs.step(actions)
        digest.add(reward)
        if step % family.horizon == 1:
            digest.add(obs)
            digest.add([task.id for task in envs.unwrapped.get_tasks()])
        if step == 70 * family.horizon + 1:
            for tasks in envs.unwrapped.call("sample_tasks", 3):
                digest.add([task.id for task in tasks])
        if step == 90 * family.horizon + 1:
            envs.reset(seed=[None, 5, None, 6])
    envs.close()
    return digest.hexdigest()


def sampled_tasks(name: str) -> str:
    """``sample_tasks`` and a small set of splits."""
    family = tasksuite.get_family(name)
    digest = Digest()
    for task in family.sample_tasks(np.random.default_rng(7), 40):
        digest.add(task)
    digest.add(family.splits(seed=3, n_train=5, n_test=3, n_ood=3).to_manifest())
    return digest.hexdigest()


KINDS = {
    "single-env": single_env,
    "vector-env": vector_env,
    "long-vector-env": long_vector_env,
    "sampled-tasks": sampled_tasks,
}


def names() -> list[str]:
    """``family/kind`` of every fingerprint (the long vector run for the NumPy families only)."""
    return [
        f"{family}/{kind}"
        for family in tasksuite.list_families()
        for kind in KINDS
        if kind != "long-vector-env" or not is_mujoco(family)
    ]


def fingerprint(name: str) -> str:
    """The fingerprint ``family/kind``, computed now."""
    family, kind = name.split("/")
    return KINDS[kind](family)


if __name__ == "__main__":
    for name in names():
        print(f'    "{name}": "{fingerprint(name)}",')
