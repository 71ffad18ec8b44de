"""RL²: fast RL via slow RL (Duan et al. 2016; Wang et al. 2016), recurrent adaptation.

A GRU policy reads, each step, the observation, its previous action, the previous reward and a
flag marking an episode's first step. Its hidden state persists across the episodes of a trial
(one task), so the learned dynamics of the hidden state *is* the adaptation: no gradient steps
at test time. It is trained with PPO on whole trials: advantages (GAE) run across the trial's
episode boundaries, so exploring in the first episode is credited by the later ones, and the
policy is re-run over each whole trial for the update (full backpropagation through time:
trials are short, ``episodes_per_trial * horizon`` steps). Where a family ends episodes early,
the padding steps of a training batch still advance the GRU (identically in the rollout and the
update); at test time there is no padding.

Demonstrations (the ``few-shot-demos`` protocol): :meth:`RL2Agent.observe_demonstration` feeds each one
through the GRU as an earlier episode of the trial (its steps' observations, unit actions and rewards, as
if the agent had played them), so the hidden state carries it over to the agent's own episodes; nothing
marks it as a demonstration, and the policy was never trained on such episodes.

Run it with ``tasksuite train rl2 --benchmark navigation-meta --out runs/rl2``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tasksuite.baselines.common import (
    Adam,
    Run,
    Squash,
    VectorEnvs,
    clipped_surrogate,
    config_from_dict,
    discounted_advantages,
    gaussian_log_prob,
    load_checkpoint,
    rollout,
    task_batch,
)
from tasksuite.baselines.config import check_config, ranged
from tasksuite.core.benchmark import Benchmark
from tasksuite.evaluation.agent import AdaptationBudget, AgentBase, Demonstration, TaskContext, Transition


@dataclass(frozen=True)
class Config:
    """RL² hyperparameters (defaults: navigation-meta)."""

    seed: int = ranged(0, low=0)
    total_env_steps: int = ranged(1_000_000, low=1)  # meta-training budget
    parallel_trials: int = ranged(64, low=1)  # trials per PPO batch, one task each (drawn with replacement)
    episodes_per_trial: int = ranged(3, low=1)  # episodes of one task the hidden state carries over
    hidden: int = ranged(64, low=1)  # GRU width
    lr: float = ranged(2e-3, above=0.0)  # Adam step size
    epochs: int = ranged(4, low=1)  # PPO passes over each batch
    minibatches: int = ranged(4, low=1)  # trials are split into this many minibatches per pass
    clip: float = ranged(0.2, above=0.0)  # PPO clip range
    reward_scale: float = ranged(0.1, above=0.0)  # rewards are multiplied by this for the PPO losses
    # (keeps value errors O(1))
    gamma: float = ranged(0.99, above=0.0, high=1.0)  # discount (across the episodes of a trial)
    lam: float = ranged(0.95, low=0.0, high=1.0)  # GAE lambda
    value_coef: float = ranged(0.5, low=0.0)  # weight of the value loss
    max_grad_norm: float = ranged(0.5, above=0.0)  # gradient clipping
    init_log_std: float = ranged(0.0)  # initial log std of the pre-squash Gaussian
    checkpoint_every: int = ranged(10, low=1)  # iterations between checkpoints
    threads: int = ranged(1, low=1)  # torch CPU threads (fixed, for reproducibility)

    def __post_init__(self) -> None:
        check_config(self)  # every field against its declared range (tasksuite.baselines.config)


class RecurrentPolicy(nn.Module):
    """Embedding, GRU, and Gaussian-mean and value heads sharing the recurrent state.

    Input per step: ``obs`` and ``previous`` = (last unit action, last reward, first-step flag).
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, init_log_std: float) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(obs_dim + act_dim + 2, hidden), nn.Tanh())
        self.gru = nn.GRU(hidden, hidden)
        self.mean = nn.Linear(hidden, act_dim)
        self.value = nn.Linear(hidden, 1)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def forward(
        self, obs: torch.Tensor, previous: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Time-major ``[T, B, ...]`` inputs and ``[1, B, hidden]`` state: means, values, new state."""
        features, state = self.gru(self.embed(torch.cat([obs, previous], -1)), state)
        return self.mean(features), self.value(features)[..., 0], state

    def initial_state(self, batch: int) -> torch.Tensor:
        """The GRU state at the start of a trial: zeros."""
        return torch.zeros(1, batch, self.gru.hidden_size)


# ---------------------------------------------------------------------- training


def train(config: Config, benchmark: Benchmark, out_dir: str | os.PathLike[str], resume: bool = False) -> Path:
    """Meta-train on ``benchmark``'s training tasks; returns the checkpoint's path.

    With ``resume``, continues from ``out_dir``'s checkpoint and ends exactly where an
    uninterrupted run would.
    """
    run = Run("rl2", config, benchmark, out_dir, resume)
    net = RecurrentPolicy(run.obs_dim, run.act_dim, config.hidden, config.init_log_std)
    optimizer = Adam(net.parameters(), config.lr)
    run.track(policy=net, optimizer=optimizer)
    n, horizon, episodes = config.parallel_trials, benchmark.family.horizon, config.episodes_per_trial
    vector_envs = VectorEnvs(benchmark)

    with run.progress_bar() as bar:
        while not run.done:
            seed = run.seed()
            envs = vector_envs.of(task_batch(benchmark.train_tasks, n, np.random.default_rng(seed)))
            hidden = net.initial_state(n)

            def act(obs: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
                nonlocal hidden
                mean, _, hidden = net(obs[None], previous[None], hidden)
                return mean[0] + net.log_std.exp() * torch.randn_like(mean[0])

            data = rollout(envs, act, run.squash, episodes, horizon, seed=seed)
            batch = data.tensors()
            with torch.no_grad():
                mean, values, _ = net(batch["obs"], batch["previous"], net.initial_state(n))
                old_log_prob = gaussian_log_prob(mean, net.log_std, batch["raw_actions"])
                values = values * batch["valid"]
                adv = discounted_advantages(
                    config.reward_scale * batch["rewards"], values, torch.zeros(n), config.gamma, config.lam
                )
                returns = adv + values
                valid = batch["valid"]
                adv = (adv - adv[valid > 0].mean()) / (adv[valid > 0].std() + 1e-8) * valid
            for _ in range(config.epochs):
                for trials in torch.randperm(n).chunk(config.minibatches):
                    mean, value, _ = net(
                        batch["obs"][:, trials], batch["previous"][:, trials], net.initial_state(len(trials))
                    )
                    log_prob = gaussian_log_prob(mean, net.log_std, batch["raw_actions"][:, trials])
                    weight = valid[:, trials]
                    policy_loss = clipped_surrogate(
                        log_prob, old_log_prob[:, trials], adv[:, trials], config.clip, weight
                    )
                    value_loss = (((value - returns[:, trials]) ** 2) * weight).sum() / weight.sum()
                    optimizer.zero_grad()
                    (policy_loss + config.value_coef * value_loss).backward()
                    nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
                    optimizer.step()
            per_episode = data.episode_returns().mean(1)
            run.end_iteration(bar, data.env_steps, **{f"return_episode_{e + 1}": r for e, r in enumerate(per_episode)})
    vector_envs.close()
    return run.path


# ---------------------------------------------------------------------- the agent


#: How long :class:`RL2Agent` remembers: ``"trial"`` (the method: the hidden state carries over the
#: episodes of a task) or ``"episode"`` (its control: cleared at every episode, so nothing learnt in
#: one episode reaches the next).
MEMORIES = ("trial", "episode")


class RL2Agent(AgentBase):
    """The trained GRU policy; its hidden state carries over the episodes of a trial and is
    cleared in :meth:`begin_task` (with ``memory="episode"``, at every episode). Adaptation
    episodes sample actions (as in training); evaluation episodes act with the mean."""

    def __init__(self, net: RecurrentPolicy, budget: AdaptationBudget, memory: str = "trial") -> None:
        if memory not in MEMORIES:
            raise ValueError(f"memory must be one of {MEMORIES}, got {memory!r}")
        self.net = net
        self.memory = memory
        self.adaptation_budget = budget
        self.state = net.initial_state(1)
        self._previous = torch.zeros(net.log_std.shape[0] + 2)
        self._generator = torch.Generator()
        self._squash: Squash | None = None
        self._adaptation = True
        self._last_unit_action = torch.zeros(net.log_std.shape[0])

    def begin_task(self, context: TaskContext) -> None:
        self.state = self.net.initial_state(1)
        self._previous = torch.zeros_like(self._previous)
        self._generator.manual_seed(context.seed)
        self._squash = Squash.from_space(context.action_space)

    def begin_episode(self, adaptation: bool) -> None:
        self._adaptation = adaptation
        if self.memory == "episode":
            self.state = self.net.initial_state(1)
            self._previous = torch.zeros_like(self._previous)
        self._previous[-1] = 1.0  # first step of an episode; last action and reward carry over

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self._squash is None:
            raise RuntimeError("begin_task must be called before act")
        with torch.no_grad():
            obs_t = torch.as_tensor(obs, dtype=torch.float32).view(1, 1, -1)
            mean, _, self.state = self.net(obs_t, self._previous.view(1, 1, -1), self.state)
            u = mean[0, 0]
            if self._adaptation:
                u = u + self.net.log_std.exp() * torch.randn(u.shape, generator=self._generator)
        self._last_unit_action = torch.tanh(u)
        return self._squash.to_env(u)

    def observe(self, transition: Transition) -> None:
        self._previous = torch.cat([self._last_unit_action, torch.tensor([transition.reward, 0.0])])

    def observe_demonstration(self, demonstration: Demonstration) -> None:
        """Read the demonstration as an earlier episode of the trial: its steps advance the hidden state."""
        if self._squash is None:
            raise RuntimeError("begin_task must be called before observe_demonstration")
        self.begin_episode(adaptation=True)
        with torch.no_grad():
            for transition in demonstration.transitions:
                obs_t = torch.as_tensor(transition.obs, dtype=torch.float32).view(1, 1, -1)
                _, _, self.state = self.net(obs_t, self._previous.view(1, 1, -1), self.state)
                self._last_unit_action = torch.as_tensor(self._squash.to_unit(transition.action))
                self.observe(transition)


def load_agent(checkpoint: str | os.PathLike[str], memory: str = "trial") -> RL2Agent:
    """An :class:`RL2Agent` from a checkpoint (or learning-curve snapshot) written by :func:`train`
    (``tasksuite evaluate --agent tasksuite.baselines.rl2:load_agent``); ``memory``: one of
    :data:`MEMORIES`."""
    state = load_checkpoint(checkpoint)
    config = config_from_dict(Config, state["config"])
    net = RecurrentPolicy(state["obs_dim"], state["act_dim"], config.hidden, config.init_log_std)
    net.load_state_dict(state["policy"])
    return RL2Agent(net, adaptation_budget(config), memory)


def adaptation_budget(config: Config) -> AdaptationBudget:
    """What RL² meta-trains for: a trial's episodes but the last (the one it is scored on in training)."""
    return AdaptationBudget(config.episodes_per_trial - 1)
