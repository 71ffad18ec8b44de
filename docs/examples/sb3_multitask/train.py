"""Train Stable-Baselines3 PPO on the navigation-multitask benchmark through plain ``gym.make``.

One environment per training task, each with the task appended to the
observation (``task_observable=True``): a task-conditioned policy, the
multi-task setting. Nothing here depends on tasksuite's evaluation code.

    python train.py --steps 100000 --out ppo_navigation.zip
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

import tasksuite  # registers the tasksuite/... ids with Gymnasium


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="total environment steps (default: 100000)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    parser.add_argument("--out", default="ppo_navigation.zip", help="where to save the model")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args()
    # A 64x64 MLP gains nothing from more threads, and on a busy machine torch's default (one per core)
    # makes them wait on each other: 6.6x slower with 2 threads on 2 loaded cores.
    torch.set_num_threads(args.threads)

    benchmark = tasksuite.make_benchmark("navigation-multitask")
    env = DummyVecEnv(
        [
            lambda task=task: gym.make("tasksuite/Navigation-v0", task=task, task_observable=True)
            for task in benchmark.train_tasks
        ]
    )
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=256, gamma=0.95, seed=args.seed, verbose=0)
    model.learn(total_timesteps=args.steps, progress_bar=False)
    model.save(args.out)
    print(f"saved {args.out} after {args.steps} steps on {len(benchmark.train_tasks)} training tasks")


if __name__ == "__main__":
    main()
