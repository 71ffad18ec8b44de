"""Multi-task PPO: one task-conditioned policy for the multi-task setting.

The benchmark exposes the task (``Benchmark.task_observable``): every observation ends with the
task's encoding (``ParameterSpace.encode``), so a single feedforward Gaussian policy and value
function learn all training tasks at once with PPO (Schulman et al. 2017), the batch spread
evenly over the tasks. Nothing is adapted at test time; the agent reads the task from the
observation.

PPO rather than SAC: every training task is stepped in one vector env and the update is one
batched pass, which suits cheap simulators on few CPU cores; a task-conditioned SAC is the
PEARL module with the latent replaced by the observed encoding.

Run it with ``tasksuite train multitask --benchmark navigation-multitask --out runs/multitask``
(200k env steps, seconds); pushing 50 warehouse shapes takes 50x the budget: ``tasksuite train
multitask --benchmark warehouse-multitask --steps 10000000 --set envs_per_task=4 --out runs/mt-warehouse``
(train score 0.69, 12 minutes on one core; docs/results.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tasksuite.baselines.common import (
    Adam,
    GaussianPolicy,
    Run,
    Squash,
    clipped_surrogate,
    config_from_dict,
    discounted_advantages,
    gaussian_log_prob,
    load_checkpoint,
    mlp,
    rollout,
)
from tasksuite.baselines.config import check_config, ranged
from tasksuite.core.benchmark import Benchmark
from tasksuite.core.errors import InvalidTaskError
from tasksuite.core.splits import Splits
from tasksuite.core.task import Task
from tasksuite.evaluation.agent import AdaptationBudget, AgentBase, TaskContext
from tasksuite.registry import get_family


@dataclass(frozen=True)
class Config:
    """Multi-task PPO hyperparameters (defaults: navigation-multitask)."""

    seed: int = ranged(0, low=0)
    total_env_steps: int = ranged(200_000, low=1)  # training budget
    envs_per_task: int = ranged(8, low=1)  # parallel episodes of every training task per iteration
    hidden: tuple[int, ...] = ranged((64, 64), low=1)  # policy and value MLP widths
    lr: float = ranged(1e-3, above=0.0)  # Adam step size
    epochs: int = ranged(10, low=1)  # PPO passes over each batch
    minibatches: int = ranged(4, low=1)  # minibatches per pass
    clip: float = ranged(0.2, above=0.0)  # PPO clip range
    gamma: float = ranged(0.99, above=0.0, high=1.0)  # discount
    lam: float = ranged(0.95, low=0.0, high=1.0)  # GAE lambda
    max_grad_norm: float = ranged(0.5, above=0.0)  # gradient clipping
    init_log_std: float = ranged(0.0)  # initial log std of the pre-squash Gaussian
    normalize: bool = ranged(True)  # observations and rewards by running statistics
    checkpoint_every: int = ranged(10, low=1)  # iterations between checkpoints
    threads: int = ranged(1, low=1)  # torch CPU threads (fixed, for reproducibility)

    def __post_init__(self) -> None:
        check_config(self)  # every field against its declared range (tasksuite.baselines.config)


class RunningMoments(nn.Module):
    """Running mean and variance of vectors (parallel update of Chan et al.), kept as buffers so that
    checkpoints carry them and the agent normalizes exactly as training did."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros(()))

    def update(self, x: torch.Tensor) -> None:
        """Fold the rows of ``x`` ``[N, dim]`` into the statistics."""
        n = x.shape[0]
        mean, var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = mean - self.mean
        self.var.copy_((self.var * self.count + var * n + delta**2 * self.count * n / total) / total)
        self.mean.add_(delta * n / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + 1e-8)).clamp(-10.0, 10.0)


def train(config: Config, benchmark: Benchmark, out_dir: str | os.PathLike[str], resume: bool = False) -> Path:
    """Train on every training task of a multi-task ``benchmark``; returns the checkpoint's path.

    With ``resume``, continues from ``out_dir``'s checkpoint and ends exactly where an
    uninterrupted run would.
    """
    if not benchmark.task_observable:
        raise InvalidTaskError(
            f"benchmark {benchmark.name!r} hides its tasks ({benchmark.setting} setting); "
            "the multi-task agent needs a multi-task benchmark"
        )
    run = Run("multitask", config, benchmark, out_dir, resume, agent_keys=("policy", "obs_moments"))
    policy = GaussianPolicy(run.obs_dim, run.act_dim, config.hidden, config.init_log_std)
    critic = mlp(run.obs_dim, 1, config.hidden)
    parameters = [*policy.parameters(), *critic.parameters()]
    optimizer = Adam(parameters, config.lr)
    obs_moments, return_moments = RunningMoments(run.obs_dim), RunningMoments(1)
    run.track(policy=policy, critic=critic, optimizer=optimizer, obs_moments=obs_moments, return_moments=return_moments)
    envs = benchmark.make_vec_env([task for task in benchmark.train_tasks for _ in range(config.envs_per_task)])

    def explore(obs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        return policy.explore(obs_moments(obs) if config.normalize else obs)

    with run.progress_bar() as bar:
        while not run.done:
            seed = run.seed()
            data = rollout(envs, explore, run.squash, 1, benchmark.family.horizon, seed=seed)
            batch = data.tensors()
            valid = batch["valid"]
            with torch.no_grad():
                if config.normalize:
                    obs_moments.update(batch["obs"][valid > 0])
                    to_go = discounted_advantages(
                        batch["rewards"], torch.zeros_like(valid), torch.zeros_like(valid[0]), config.gamma, 1.0
                    )
                    return_moments.update(to_go[valid > 0][:, None])
                    batch["obs"], batch["next_obs"] = obs_moments(batch["obs"]), obs_moments(batch["next_obs"])
                    batch["rewards"] = batch["rewards"] / torch.sqrt(return_moments.var + 1e-8)
                old_log_prob = gaussian_log_prob(*policy(batch["obs"]), batch["raw_actions"])
                values = critic(batch["obs"])[..., 0] * valid
                # Bootstrap where the horizon truncated an episode; padding after a termination is 0.
                last = (1.0 - batch["terminated"][-1]) * valid[-1] * critic(batch["next_obs"][-1])[..., 0]
                adv = discounted_advantages(batch["rewards"], values, last, config.gamma, config.lam)
                returns = adv + values
            flat = {
                "obs": batch["obs"].flatten(0, 1),
                "u": batch["raw_actions"].flatten(0, 1),
                "old_log_prob": old_log_prob.flatten(),
                "adv": ((adv - adv[valid > 0].mean()) / (adv[valid > 0].std() + 1e-8)).flatten(),
                "returns": returns.flatten(),
                "valid": valid.flatten(),
            }
            for _ in range(config.epochs):
                for rows in torch.randperm(len(flat["obs"])).chunk(config.minibatches):
                    weight = flat["valid"][rows]
                    log_prob = gaussian_log_prob(*policy(flat["obs"][rows]), flat["u"][rows])
                    policy_loss = clipped_surrogate(
                        log_prob, flat["old_log_prob"][rows], flat["adv"][rows], config.clip, weight
                    )
                    value = critic(flat["obs"][rows])[..., 0]
                    value_loss = (((value - flat["returns"][rows]) ** 2) * weight).sum() / weight.sum()
                    optimizer.zero_grad()
                    (policy_loss + value_loss).backward()
                    nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
                    optimizer.step()
            run.end_iteration(bar, data.env_steps, mean_return=float(data.episode_returns().mean()))
    envs.close()
    return run.path


class MultiTaskAgent(AgentBase):
    """The task-conditioned policy, acting with its mean action; the task is in the observation."""

    adaptation_budget = AdaptationBudget(0)  # it is told the task: nothing to adapt

    def __init__(self, policy: GaussianPolicy, obs_moments: RunningMoments | None = None) -> None:
        self.policy = policy
        self.obs_moments = obs_moments
        self._squash: Squash | None = None

    def begin_task(self, context: TaskContext) -> None:
        expected = self.policy.mean[0].in_features
        if context.observation_space.shape != (expected,):
            raise InvalidTaskError(
                f"the multi-task agent reads {expected}-dimensional observations (task encoding included), "
                f"got {context.observation_space.shape}: build the env with task_observable=True"
            )
        self._squash = Squash.from_space(context.action_space)

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self._squash is None:
            raise RuntimeError("begin_task must be called before act")
        with torch.no_grad():
            x = torch.as_tensor(obs, dtype=torch.float32)
            mean, _ = self.policy(self.obs_moments(x) if self.obs_moments is not None else x)
        return self._squash.to_env(mean)


def load_agent(checkpoint: str | os.PathLike[str]) -> MultiTaskAgent:
    """A :class:`MultiTaskAgent` from a checkpoint written by :func:`train`
    (``tasksuite evaluate --agent tasksuite.baselines.multitask:load_agent``)."""
    state = load_checkpoint(checkpoint)
    config = config_from_dict(Config, state["config"])
    policy = GaussianPolicy(state["obs_dim"], state["act_dim"], config.hidden, config.init_log_std)
    policy.load_state_dict(state["policy"])
    moments = None
    if config.normalize:
        moments = RunningMoments(state["obs_dim"])
        moments.load_state_dict(state["obs_moments"])
    return MultiTaskAgent(policy, moments)


def adaptation_budget(config: Config) -> AdaptationBudget:
    """The multi-task agent is told the task: it does not adapt (K = 0)."""
    return MultiTaskAgent.adaptation_budget


class TransferTrainer:
    """The transfer protocol's trainer: multi-task PPO from scratch on the tasks it is given, the
    task in the observation (``tasksuite evaluate --protocol transfer --trainer
    tasksuite.baselines.multitask:trainer``)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def train(self, tasks: Sequence[Task], budget: int, seed: int) -> MultiTaskAgent:
        """Train on ``tasks`` for ``budget`` env steps in total; the checkpoint is thrown away."""
        family = get_family(tasks[0].family)
        splits = Splits(family.name, family.version, 0, "multi-task", tuple(tasks), tuple(tasks), ())
        task_set = Benchmark(f"{family.name}-transfer", family, splits)
        config = replace(self.config, seed=seed, total_env_steps=budget)
        with tempfile.TemporaryDirectory(prefix="tasksuite-transfer-") as out:
            return load_agent(train(config, task_set, out))


def trainer(**overrides: Any) -> TransferTrainer:
    """Factory of a :class:`TransferTrainer`; ``overrides`` are :class:`Config` fields (not
    ``seed`` nor ``total_env_steps``, which the protocol sets)."""
    return TransferTrainer(Config(**overrides))


# The harness names a run's method by asking its factory (tasksuite.evaluation.agents.Factory.method_name):
# transfer reports then carry the multi-task agent's label and colour, not the factory's name "trainer".
trainer.method_name = lambda **overrides: "multitask"  # type: ignore[attr-defined]
